"""The 1M-triple benchmark: our server on its stores against Virtuoso, rdflib-endpoint and the HTTP floor.

Everything runs on this machine, on 127.0.0.1, in one run, so the ratios are
comparable: load time and resident memory (PSS, whole process tree), median
and p99 latency at concurrency 1 (requests to all systems interleaved), and
throughput at concurrency 8 (fixed request counts, bounded in time).

    python bench/scale.py [--triples 1000000] [--rounds 20] [--no-rdflib] [--no-virtuoso]

Writes docs/benchmarks.md and docs/benchmarks-latency.svg.
"""
from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
WORK = HERE / "work"
DOCS = ROOT / "docs"
GRAPH = "https://example.org/kg/bench"
BIN = Path(sys.executable).parent
ON_DISK, CACHED, MEMORY = "ijdp, on-disk store, cold", "ijdp, on-disk store, cached", "ijdp, memory store, cold"
VIRTUOSO, RDFLIB, FLOOR = "Virtuoso 7 (direct)", "rdflib-endpoint", "HTTP floor"
ON_VIRTUOSO = "ijdp, Virtuoso store, cold"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, process, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"a server on port {port} exited while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port} within {seconds} s")


def pss_kib(root_pid: int) -> int:
    """Proportional set size of a process and all its descendants."""
    children: dict = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def timed_get(connection, path: str, headers: dict, who: str = "") -> tuple[float, int]:
    """(seconds, body bytes) of one GET that must answer 200."""
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{who or path[:80]}: HTTP {response.status}: {body[:200]!r}")
    return elapsed, len(body)


class PeakMemory:
    """The highest PSS of each system's process tree, sampled every `every` seconds until stop()."""

    def __init__(self, pids: dict, every: float = 2.0):
        self.pids, self.every = pids, every
        self.peak = {name: pss_kib(pid) for name, pid in pids.items()}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._done.wait(self.every):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], pss_kib(pid))

    def stop(self) -> dict:
        self._done.set()
        self._thread.join()
        return dict(self.peak)


class System:
    def __init__(self, name, port, path, extra=None, process=None, load_seconds=None, floor=False):
        self.name, self.port, self.path, self.extra = name, port, path, extra or {}
        self.process, self.load_seconds, self.floor = process, load_seconds, floor
        self.local = threading.local()

    def connection(self):
        if getattr(self.local, "connection", None) is None:
            self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return self.local.connection

    def get(self, path: str) -> tuple[float, int]:
        for attempt in (0, 1):
            try:
                return timed_get(self.connection(), path, {"Accept": "application/sparql-results+json"}, self.name)
            except (http.client.HTTPException, ConnectionError):
                self.local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def query_path(self, query: str) -> str:
        return self.path + "?" + urllib.parse.urlencode({"query": query, **self.extra})


def requests_per_second(system: System, path: str, per_thread: int, seconds: float, threads: int = 8) -> float:
    """Throughput at concurrency `threads`: each thread sends up to per_thread requests, none after `seconds`."""
    done = [0] * threads
    deadline = time.monotonic() + seconds

    def worker(index):
        for _ in range(per_thread):
            system.get(path)
            done[index] += 1
            if time.monotonic() > deadline:
                return
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    return sum(done) / (time.monotonic() - started)


def start(args: list, env=None, log=None):
    return subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20, help="requests per query per system at concurrency 1")
    parser.add_argument("--per-thread", type=int, default=200, help="at most this many requests per thread at concurrency 8")
    parser.add_argument("--seconds", type=float, default=2.0, help="no new request after this long, per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs per query per system (the median is reported)")
    parser.add_argument("--no-rdflib", action="store_true")
    parser.add_argument("--no-virtuoso", action="store_true")
    args = parser.parse_args()
    rounds = max(5, min(args.rounds, 200))
    WORK.mkdir(exist_ok=True)
    DOCS.mkdir(exist_ok=True)
    data = WORK / f"kg-{args.triples}.ttl"
    if not data.exists():
        subprocess.run([sys.executable, str(SHARED / "bench" / "gen_synthetic.py"), "--triples", str(args.triples),
                        "--out", str(data)], check=True)
    queries = {p.stem: p.read_text() for p in sorted((SHARED / "bench" / "queries").glob("*.rq"))}
    processes, systems = [], []
    try:
        # ijdp on the on-disk store: load it, then serve it cold (no cache) and as deployed (cache on).
        import pyoxigraph

        from ijdp.store import write_on_disk
        store_dir = WORK / f"store-{args.triples}"
        shutil.rmtree(store_dir, ignore_errors=True)
        started = time.monotonic()
        write_on_disk(store_dir, source=data, fmt=pyoxigraph.RdfFormat.TURTLE)   # as `ijdp load` does, compaction included
        oxigraph_load = time.monotonic() - started
        for name, extra in ((ON_DISK, ["--result-cache-bytes", "0"]), (CACHED, [])):
            port = free_port()
            process = start([str(BIN / "ijdp"), "serve", "--port", str(port), "--store", f"oxigraph:{store_dir}",
                             "--query-workers", "4", "--query-timeout", "120", *extra],
                            env={"IJDP_BENCH_FLOOR": "1"})
            processes.append(process)
            wait_http(port, "/healthz", process, 120)
            systems.append(System(name, port, "/sparql", process=process, load_seconds=oxigraph_load))
        # The memory store: every query worker holds its own copy (faster joins, more memory).
        port = free_port()
        data_nq = WORK / f"kg-{args.triples}.nq"
        if not data_nq.exists():
            pyoxigraph.serialize(pyoxigraph.parse(path=str(data), format=pyoxigraph.RdfFormat.TURTLE),
                                 output=str(data_nq), format=pyoxigraph.RdfFormat.N_QUADS)
        dist_like = WORK / f"dist-{args.triples}"
        dist_like.mkdir(exist_ok=True)
        shutil.copyfile(data_nq, dist_like / "ijdp.nq")
        started = time.monotonic()
        process = start([str(BIN / "ijdp"), "serve", "--port", str(port), "--store", "memory", "--dist", str(dist_like),
                         "--query-workers", "2", "--query-timeout", "120", "--result-cache-bytes", "0"])
        processes.append(process)
        wait_http(port, "/healthz", process, 300)
        systems.append(System(MEMORY, port, "/sparql", process=process,
                              load_seconds=time.monotonic() - started))
        floor = systems[0]
        if not args.no_virtuoso and (SHARED / "backends" / "virtuoso.sh").exists():
            home = WORK / "virtuoso"
            env = {"VIRT_HOME": str(home), "VIRT_HTTP_PORT": str(free_port()), "VIRT_SQL_PORT": str(free_port())}
            script = str(SHARED / "backends" / "virtuoso.sh")
            subprocess.run(["bash", script, "install"], env={**os.environ, **env}, check=True, capture_output=True)
            subprocess.run(["bash", script, "start"], env={**os.environ, **env}, check=True, capture_output=True)
            started = time.monotonic()
            subprocess.run(["bash", script, "load", str(data), GRAPH], env={**os.environ, **env}, check=True,
                           capture_output=True)
            virtuoso_load = time.monotonic() - started
            import re
            status = subprocess.run(["bash", script, "status"], env={**os.environ, **env}, capture_output=True,
                                    text=True).stdout
            pid = int(re.search(r"pid=(\d+)", status).group(1))
            http_port = int(re.search(r"http=http://127\.0\.0\.1:(\d+)", status).group(1))
            systems.append(System(VIRTUOSO, http_port, "/sparql",
                                  extra={"default-graph-uri": GRAPH}, load_seconds=virtuoso_load))
            systems[-1].pid, systems[-1].stop = pid, lambda: subprocess.run(["bash", script, "stop"],
                                                                           env={**os.environ, **env}, capture_output=True)
            # Our server in front of it (--store sparql:URL): the same safety layer, Virtuoso's engine.
            port = free_port()
            process = start([str(BIN / "ijdp"), "serve", "--port", str(port), "--store",
                             f"sparql:http://127.0.0.1:{http_port}/sparql", "--query-timeout", "120",
                             "--result-cache-bytes", "0"])
            processes.append(process)
            wait_http(port, "/healthz", process, 120)
            systems.append(System(ON_VIRTUOSO, port, "/sparql", extra={"default-graph-uri": GRAPH}, process=process,
                                  load_seconds=virtuoso_load))
        if not args.no_rdflib and (BIN / "rdflib-endpoint").exists():
            port = free_port()
            process = start([str(BIN / "rdflib-endpoint"), "serve", str(data), "--host", "127.0.0.1", "--port", str(port)])
            processes.append(process)
            seconds = wait_http(port, "/?query=" + urllib.parse.quote("ASK {}"), process, 900)
            systems.append(System(RDFLIB, port, "/", process=process, load_seconds=seconds))

        peak = PeakMemory({s.name: s.process.pid if s.process else s.pid for s in systems})
        latency = {s.name: {} for s in systems}
        latency[FLOOR] = {}
        sizes = {}
        for name, query in queries.items():
            for system in systems:
                _, size = system.get(system.query_path(query))   # warm-up (and fills the cached server's cache)
                sizes.setdefault(name, size)
            floor_path = f"/_floor/{sizes[name]}?" + urllib.parse.urlencode({"query": query})
            samples = {s.name: [] for s in systems}
            samples[FLOOR] = []
            slow = set()
            for round_number in range(rounds):
                for system in systems:
                    if system.name in slow and round_number >= 5:
                        continue
                    elapsed = system.get(system.query_path(query))[0]
                    samples[system.name].append(elapsed)
                    if elapsed > 5:
                        slow.add(system.name)   # bounded: a system this slow gets 5 rounds
                samples[FLOOR].append(floor.get(floor_path)[0])
            for key, values in samples.items():
                ordered = sorted(values)
                latency[key][name] = (statistics.median(ordered) * 1000,
                                      ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000)
        throughput = {s.name: {} for s in systems}
        throughput[FLOOR] = {}
        for name, query in queries.items():
            runs = {key: [] for key in throughput}
            targets = [(s.name, s, s.query_path(query)) for s in systems if latency[s.name][name][0] <= 5000]
            targets.append((FLOOR, floor, f"/_floor/{sizes[name]}?" + urllib.parse.urlencode({"query": query})))
            for _ in range(args.repeats):          # interleaved, so that noise hits every system alike
                for key, system, path in targets:
                    runs[key].append(requests_per_second(system, path, args.per_thread, args.seconds))
            for key in throughput:
                throughput[key][name] = statistics.median(runs[key]) if runs[key] else None
        memory = peak.stop()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for system in systems:
            if hasattr(system, "stop"):
                system.stop()
    write_report(args, data, queries, systems, latency, throughput, memory, rounds)


def write_report(args, data, queries, systems, latency, throughput, memory, rounds) -> None:
    names = [s.name for s in systems]
    lines = ["# Benchmarks", "",
             f"One run of `make bench` (`python bench/scale.py --rounds {rounds}`) on {platform.node()}: "
             f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
             f"{versions()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Everything on 127.0.0.1, in one run.",
             "",
             f"Data: `{data.name}`, {args.triples:,} triples from `../shared/bench/gen_synthetic.py`; queries: "
             "`../shared/bench/queries/`. The floor is the cold ijdp server answering a fixed body of the same size "
             "to the same request. `cold`: result cache off, every request runs the query; `cached`: as deployed.",
             "", "## Load and memory", "",
             "| system | load (s) | peak resident memory, PSS of all its processes (MiB) |", "|---|---:|---:|"]
    for s in systems:
        lines.append(f"| {s.name} | {s.load_seconds:.1f} | {memory[s.name] / 1024:.0f} |")
    if ON_VIRTUOSO in memory:
        lines += ["", f"For {ON_VIRTUOSO}: the load is Virtuoso's and the memory is ijdp's processes only "
                      f"(Virtuoso's own is on its row). The on-disk store's load is `ijdp.store.write_on_disk`: "
                      "bulk load, then compaction."]
    lines += ["", "## Latency at concurrency 1: median ms (p99 ms)", "",
              "| query | " + " | ".join(names + [FLOOR]) + " |", "|---|" + "---:|" * (len(names) + 1)]
    for q in queries:
        cells = [f"{latency[n][q][0]:.2f} ({latency[n][q][1]:.1f})" for n in names + [FLOOR]]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    lines += ["", "## Ratios of medians", "",
              "| query | cold / floor | cached / floor | " + " | ".join(f"{n} / cold" for n in names[2:]) + " |",
              "|---|---:|---:|" + "---:|" * len(names[2:])]
    for q in queries:
        floor = latency[FLOOR][q][0]
        cold, cached = latency[names[0]][q][0], latency[names[1]][q][0]
        peers = [f"{latency[n][q][0] / cold:.2f}" for n in names[2:]]
        lines.append(f"| {q} | {cold / floor:.2f} | {cached / floor:.2f} | " + " | ".join(peers) + " |")
    lines += ["", "## Throughput at concurrency 8 (requests/s)", "",
              f"Median of {args.repeats} interleaved runs; in each, 8 threads send up to {args.per_thread} requests "
              f"each and start none after {args.seconds:g} s.", "",
              "| query | " + " | ".join(names + [FLOOR]) + " |", "|---|" + "---:|" * (len(names) + 1)]
    for q in queries:
        cells = [f"{throughput[n][q]:.0f}" if throughput[n][q] else "(too slow: skipped)" for n in names + [FLOOR]]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets (issue 6), judged from the figures above", "",
              "| target | query | system | measured | met |", "|---|---|---|---|---|"]
    for row in judge_targets(queries, systems, latency, throughput, memory, args.triples):
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "![Median latency per query per system](benchmarks-latency.svg)", ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines))
    (DOCS / "benchmarks-latency.svg").write_text(svg_chart(queries, names + [FLOOR], latency))
    print("\n".join(lines))


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version
    found = []
    for package in ("pyoxigraph", "Flask", "waitress", "rdflib", "rdflib-endpoint", "uvicorn"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    virtuoso = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "virtuoso-opensource-7-bin"],
                              capture_output=True, text=True)
    if virtuoso.returncode == 0:
        found.append(f"Virtuoso {virtuoso.stdout.strip()} (Debian)")
    return ", ".join(found)


def judge_targets(queries, systems, latency, throughput, memory, triples: int = 1_000_000) -> list[tuple]:
    """One row per target and query: (target, query, system, what was measured, yes/no)."""
    rows = []
    present = {s.name for s in systems}
    loads = {s.name: s.load_seconds for s in systems}
    verdict = lambda ok: "yes" if ok else "**no**"
    for q in queries:
        floor_ms = latency[FLOOR][q][0]
        cached = latency[CACHED][q][0] / floor_ms
        rows.append(("repeated query within 1.5x the floor", q, CACHED, f"{cached:.2f}x", verdict(cached <= 1.5)))
        for ours in (ON_DISK, MEMORY, ON_VIRTUOSO):
            if ours not in present:
                continue
            mine = throughput[ours][q]
            if RDFLIB in present:
                theirs = throughput[RDFLIB][q]
                if theirs is None:   # too slow to measure: one request at a time is its ceiling
                    theirs = 1000 / latency[RDFLIB][q][0]
                ratio = mine / theirs
                ceiling = throughput[FLOOR][q] / theirs
                rows.append(("at least 5x rdflib-endpoint's throughput", q, ours,
                             f"{ratio:.1f}x (the floor itself: {ceiling:.1f}x)", verdict(ratio >= 5)))
            if VIRTUOSO in present:
                ratio = mine / throughput[VIRTUOSO][q]
                if q.startswith(("q2", "q3")):
                    rows.append(("within 3x of Virtuoso's throughput", q, ours, f"Virtuoso {1 / ratio:.1f}x ours",
                                 verdict(ratio >= 1 / 3)))
                else:
                    rows.append(("at least Virtuoso's throughput", q, ours, f"{ratio:.2f}x Virtuoso", verdict(ratio >= 1)))
    rows.append((f"{triples:,} triples into the on-disk store in under 30 s", "", ON_DISK, f"{loads[ON_DISK]:.1f} s",
                 verdict(loads[ON_DISK] < 30)))
    rows.append(("PSS under 1 GiB with 4 query workers", "", ON_DISK, f"{memory[ON_DISK] / 1024:.0f} MiB",
                 verdict(memory[ON_DISK] < 1024 * 1024)))
    return rows


def svg_chart(queries, names, latency) -> str:
    """Grouped bars of median latency (log scale), one group per query."""
    import math
    colours = ["#0b57a4", "#5b8fd1", "#b35c00", "#6a8e23", "#8e3b8a", "#777777", "#333333"]
    width, left, top, height = 900, 60, 30, 300
    group = (width - left - 20) / len(queries)
    bar = group / (len(names) + 1)
    values = [latency[n][q][0] for n in names for q in queries]
    lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    y = lambda v: top + height - height * (math.log10(v) - lo) / max(1, hi - lo)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {top + height + 90}" role="img" '
             'aria-label="Median latency per query per system, milliseconds, log scale" font-family="sans-serif" font-size="11">']
    for power in range(lo, hi + 1):
        parts.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(10 ** power):.1f}" y2="{y(10 ** power):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(10 ** power) + 4:.1f}" text-anchor="end">{10 ** power:g} ms</text>')
    for i, q in enumerate(queries):
        for j, n in enumerate(names):
            value = latency[n][q][0]
            x = left + i * group + j * bar + bar / 2
            parts.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar * 0.9:.1f}" height="{top + height - y(value):.1f}" '
                         f'fill="{colours[j % len(colours)]}"><title>{n}, {q}: {value:.2f} ms</title></rect>')
        parts.append(f'<text x="{left + i * group + group / 2:.1f}" y="{top + height + 15}" text-anchor="middle">{q}</text>')
    for j, n in enumerate(names):
        x, row = left + (j % 4) * 200, top + height + 35 + (j // 4) * 18   # four legend entries a row
        parts.append(f'<rect x="{x}" y="{row}" width="10" height="10" fill="{colours[j % len(colours)]}"/>'
                     f'<text x="{x + 14}" y="{row + 9}">{n}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


if __name__ == "__main__":
    main()
