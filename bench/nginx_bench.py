"""Replicas behind nginx: throughput at concurrency 8, 16 and 32 with 1 and 2 replicas, and the latency of a
cache hit and a cache miss against nginx's own floor (a static file), all in one run on 127.0.0.1.

    python bench/nginx_bench.py [--dist dist] [--seconds 4] [--latency-requests 300]

Two workloads: "miss", where every request is a query nobody asked before (the replicas answer each), and
"hit", where a fixed set of example queries is asked over and over (nginx answers from its cache). Each
measurement is bounded in time and in count; the client keeps one HTTP/1.1 connection per thread. Results go
to bench/results/nginx.json and bench/results/nginx.md.
"""
from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MAX_REQUESTS = 200_000     # per measurement, whatever the duration


@functools.lru_cache(maxsize=None)
def _cluster_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("deploy_cluster", REPO / "deploy" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start(dist: str, replicas: int):
    """One replica count behind nginx, with limits out of the way of the load."""
    run = Path(tempfile.mkdtemp(prefix="ijdp-bench-cluster-"))
    # The load comes from one address: its fair share (8 queries in flight) would turn most of it into 429s.
    return _cluster_module().launch(run, dist, "--replicas", str(replicas), "--rate", "1000000", "--burst", "1000000",
                                    "--connections", "4096", "--bench-floor",
                                    "--serve-arg=--client-queries-in-flight=64",
                                    "--serve-arg=--client-query-seconds=100000")


def stop(process) -> None:
    _cluster_module().shutdown(process)


def paths_miss(worker: int):
    counter = 0
    while True:
        counter += 1
        query = f'ASK {{ ?s ?p "bench {worker} {counter} {time.time_ns()}" }}'
        yield "/sparql?query=" + quote(query)


def paths_hit(examples: list[str]):
    while True:
        yield from examples


def throughput(host: str, port: int, concurrency: int, seconds: float, make_paths) -> dict:
    done, failed, stop_at = [0] * concurrency, [0] * concurrency, time.monotonic() + seconds
    budget = threading.Semaphore(MAX_REQUESTS)

    def worker(index: int):
        connection = http.client.HTTPConnection(host, port, timeout=30)
        for path in make_paths(index):
            if time.monotonic() >= stop_at or not budget.acquire(blocking=False):
                break
            try:
                connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
                answer = connection.getresponse()
                answer.read()
                if answer.status == 200:
                    done[index] += 1
                else:
                    failed[index] += 1
            except OSError:
                failed[index] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"requests_per_second": sum(done) / elapsed, "ok": sum(done), "failed": sum(failed)}


def latency(host: str, port: int, paths: list[str], requests: int) -> float:
    """Median milliseconds of sequential requests on one kept-alive connection."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    samples = []
    for index in range(requests):
        path = paths[index % len(paths)]
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
        answer = connection.getresponse()
        answer.read()
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise SystemExit(f"{path}: {answer.status}")
    connection.close()
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--latency-requests", type=int, default=300)
    args = parser.parse_args()
    examples = ["/sparql?query=" + quote(q.read_text()) for q in sorted((REPO / "queries").glob("*.rq"))]
    results = {"cpus": os.cpu_count(), "seconds_per_measurement": args.seconds, "throughput": {}, "latency_ms": {}}
    for replicas in (1, 2):
        process, state = start(args.dist, replicas)
        host, port = state["url"].split("//")[1].rstrip("/").split(":")
        port = int(port)
        try:
            for path in examples:        # warm the cache for the hit workload
                latency(host, port, [path], 1)
            for concurrency in (8, 16, 32):
                for workload, make_paths in (("miss", paths_miss), ("hit", lambda i: paths_hit(examples))):
                    found = throughput(host, port, concurrency, args.seconds, make_paths)
                    results["throughput"][f"{replicas} replica(s), {workload}, concurrency {concurrency}"] = found
                    print(f"{replicas} replica(s) {workload:4} c={concurrency:2}: "
                          f"{found['requests_per_second']:8.0f} req/s ({found['failed']} failed)", flush=True)
            if replicas == 1:
                floor = latency(host, port, ["/_nginx_floor"], args.latency_requests)
                hit = latency(host, port, examples, args.latency_requests)
                miss_paths = [p for _, p in zip(range(args.latency_requests), paths_miss(999))]
                miss = latency(host, port, miss_paths, args.latency_requests)
                results["latency_ms"] = {"nginx static file (floor)": floor, "cache hit": hit, "cache miss": miss,
                                         "hit / floor": hit / floor, "miss / floor": miss / floor}
                print(json.dumps(results["latency_ms"], indent=2), flush=True)
        finally:
            stop(process)
    throughput_table = results["throughput"]
    for concurrency in (8, 16, 32):
        one = throughput_table[f"1 replica(s), miss, concurrency {concurrency}"]["requests_per_second"]
        two = throughput_table[f"2 replica(s), miss, concurrency {concurrency}"]["requests_per_second"]
        results.setdefault("two_over_one_replica_miss", {})[str(concurrency)] = two / one if one else None
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "nginx.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Replicas behind nginx", "", f"`python bench/nginx_bench.py`, {os.cpu_count()} CPUs, "
             f"{args.seconds} s per measurement, one run.", "",
             "| replicas | workload | concurrency | requests/s | failed |", "|---|---|---|---|---|"]
    for key, found in throughput_table.items():
        replicas, workload, concurrency = key.split(", ")
        lines.append(f"| {replicas.split()[0]} | {workload} | {concurrency.split()[1]} | "
                     f"{found['requests_per_second']:.0f} | {found['failed']} |")
    lines += ["", "| latency (median, ms) | |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in results["latency_ms"].items()]
    (HERE / "results" / "nginx.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(results.get("two_over_one_replica_miss"), indent=2))


if __name__ == "__main__":
    main()
