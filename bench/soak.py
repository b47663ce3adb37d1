"""A bounded soak: concurrency 16 against the embedded store, normal and runaway queries mixed.

Passes when every normal query is answered (200), the only errors are the
declared 503 timeouts of the runaway queries, and memory stays flat.

    python bench/soak.py [--seconds 300] [--concurrency 16] [--dist dist]

Writes bench/results/soak.md; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import free_port, pss_kib, wait_http  # noqa: E402

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--dist", default="dist")
    args = parser.parse_args()
    seconds = max(10.0, min(args.seconds, 1800.0))

    from ijdp.examples import examples
    normal = [e.text for e in examples()]
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("ijdp")), "serve", "--port", str(port),
                               "--dist", args.dist, "--query-timeout", "3", "--query-workers", "6",
                               "--result-cache-bytes", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counts = collections.Counter()
    lock = threading.Lock()
    memory = []
    try:
        wait_http(port, "/healthz", server, 120)
        deadline = time.monotonic() + seconds

        def client(seed: int):
            rng = random.Random(seed)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while time.monotonic() < deadline:
                runaway = rng.random() < 0.05
                query = RUNAWAY if runaway else rng.choice(normal)
                try:
                    connection.request("GET", "/sparql?" + urllib.parse.urlencode({"query": query}),
                                       headers={"Accept": "application/sparql-results+json"})
                    response = connection.getresponse()
                    body = response.read()
                    key = f"{'runaway' if runaway else 'normal'} {response.status}"
                    if response.status != 200 and not runaway:
                        import json
                        key += " " + json.loads(body).get("type", "").rsplit("/", 1)[-1]
                except (OSError, http.client.HTTPException) as err:
                    key = f"{'runaway' if runaway else 'normal'} {type(err).__name__}"
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    counts[key] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.concurrency)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            memory.append((time.monotonic(), pss_kib(server.pid)))
            time.sleep(2.0)
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(30)

    normal_total = sum(v for k, v in counts.items() if k.startswith("normal"))
    problems = []
    if counts.get("normal 200", 0) != normal_total:
        problems.append(f"normal queries not all answered: {dict(counts)}")
    unexpected = {k: v for k, v in counts.items() if k.startswith("runaway") and k != "runaway 503"}
    if unexpected:
        problems.append(f"runaway queries got something else than 503: {unexpected}")
    # The pool starts and retires workers as runaways come and go, so memory moves up
    # and down by design; a leak is a trend: the last third of the run above the middle one.
    third = max(1, len(memory) // 3)
    middle = statistics.median(m for _, m in memory[third:2 * third] or memory)
    last = statistics.median(m for _, m in memory[2 * third:] or memory)
    growth = last / max(1, middle)
    if growth > 1.2:
        problems.append(f"memory grew {growth:.2f}x from the middle to the last third of the run")
    lines = ["# Soak", "", f"`python bench/soak.py --seconds {seconds:g} --concurrency {args.concurrency}`, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, embedded on-disk store, "
             "query timeout 3 s, result cache off, 5 % runaway queries.", "",
             "| outcome | requests |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in sorted(counts.items())] + [
             "", f"Memory (PSS, server and all workers): {min(m for _, m in memory) / 1024:.0f}–"
                 f"{max(m for _, m in memory) / 1024:.0f} MiB ({len(memory)} samples); median of the last third / median "
                 f"of the middle third {growth:.2f} (a leak would show as a ratio above 1.2).", "",
             "Result: " + ("pass" if not problems else "FAIL: " + "; ".join(problems)), ""]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "soak.md").write_text("\n".join(lines))
    print("\n".join(lines))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
