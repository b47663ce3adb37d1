"""Median latency of every example query on the live server, against the HTTP floor.

The floor is the same server answering a fixed body of the same size
(/_floor/<bytes>, enabled only here) to the same request (same query string and
headers), so the difference is the SPARQL work alone. Two servers run side by side: one as
deployed (result cache on) and one with the result cache off, so the table
shows both what users get for repeated queries and what a fresh query costs.
Query and floor requests alternate in one run, one keep-alive connection per
server to 127.0.0.1, so all see the same machine load; we report medians and ratios.

    python bench/http_latency.py [--rounds 40] [--dist dist] [--out bench/results/http-latency.md]
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import free_port, timed_get, wait_http  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="requests per query and per floor (bounded)")
    parser.add_argument("--dist", default="dist")
    parser.add_argument("--out", default=str(HERE / "results" / "http-latency.md"))
    args = parser.parse_args()
    rounds = max(5, min(args.rounds, 500))

    from ijdp.examples import examples

    env = {**os.environ, "IJDP_BENCH_FLOOR": "1"}
    ijdp = Path(sys.executable).with_name("ijdp")
    servers = {}
    for mode, extra in (("cached", []), ("uncached", ["--result-cache-bytes", "0"])):
        port = free_port()
        process = subprocess.Popen([str(ijdp), "serve", "--port", str(port), "--dist", args.dist, *extra],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers[mode] = (port, process)
    try:
        for port, process in servers.values():
            wait_http(port, "/healthz", process, 120)
        connections = {mode: http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                       for mode, (port, _) in servers.items()}
        headers = {"Accept": "application/sparql-results+json", "Connection": "keep-alive"}
        rows = []
        for example in examples():
            query_string = urllib.parse.urlencode({"query": example.text})
            path = "/sparql?" + query_string
            times = {key: [] for key in ("cached", "cached-floor", "uncached", "uncached-floor")}
            size = 0
            for mode, connection in connections.items():
                _, size = timed_get(connection, path, headers)  # warm-up, and the body size for the floor
                timed_get(connection, f"/_floor/{size}?{query_string}", headers)
            floor_path = f"/_floor/{size}?{query_string}"
            for round_number in range(rounds):
                for mode, connection in connections.items():
                    # Query first in even rounds, floor first in odd ones: the first request after
                    # the other server's turn pays a wake-up, and neither side should always pay it.
                    pair = [(mode, path), (f"{mode}-floor", floor_path)]
                    for key, target in pair if round_number % 2 == 0 else reversed(pair):
                        times[key].append(timed_get(connection, target, headers)[0])
            m = {key: statistics.median(values) * 1000 for key, values in times.items()}
            rows.append((example.name, size, m["cached"], m["cached-floor"], m["cached"] / m["cached-floor"],
                         m["uncached"], m["uncached-floor"], m["uncached"] / m["uncached-floor"]))
    finally:
        for _, process in servers.values():
            process.terminate()
        for _, process in servers.values():
            process.wait(30)

    cached, uncached = [r[4] for r in rows], [r[7] for r in rows]
    lines = [
        f"Median latency in ms over {rounds} interleaved requests each, one keep-alive connection per server to "
        f"127.0.0.1, {os.cpu_count()} CPUs; floor = the same server sending a fixed body of the same size "
        "to the same request. "
        "`cached`: the server as deployed (repeated queries answered from the result cache); "
        "`uncached`: result cache off (every request runs the query in a worker process).",
        "",
        "| query | bytes | cached | floor | ratio | uncached | floor | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} |"
              for r in rows]
    lines += ["", f"Cached: median ratio {statistics.median(cached):.2f}, worst {max(cached):.2f}. "
                  f"Uncached: median ratio {statistics.median(uncached):.2f}, worst {max(uncached):.2f}. "
                  "Target: within 1.30 of the floor."]
    report = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    print(report)


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as err:   # a server answered something else than 200
        raise SystemExit(str(err)) from None
