"""Serve ijdp from N identical replicas behind nginx (a shared cache, buffering, limits), on one machine.

    python deploy/cluster.py --dist dist --replicas 2 --port 8080

starts N `ijdp serve` processes on loopback ports, all on one on-disk store made once from dist/ (each
opens it read-only), renders deploy/nginx.conf.in into a run folder and runs nginx in front of them. It
writes the run folder's state.json (ports, pids), prints "ready" when nginx answers, and on SIGTERM or
SIGINT stops nginx, then the replicas (each finishes what it has in flight). `make deploy` runs it;
deploy/ijdp-cluster.service runs it under systemd.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(url: str, deadline: float, process: subprocess.Popen | None = None) -> None:
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"cluster: {url}: the process exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"cluster: {url} did not answer in time")


def launch(run: Path, dist, *args, env=None) -> tuple[subprocess.Popen, dict]:
    """This script in the background (for tests and benchmarks): (the process, its state.json) once ready."""
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--dist", str(dist), "--port", "0",
                                "--run", str(run), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, **(env or {})})
    line = process.stdout.readline()
    if not line.startswith("ready"):
        process.kill()
        raise RuntimeError(f"the cluster did not start: {line}{process.stdout.read()[-3000:]}")
    return process, json.loads((Path(run) / "state.json").read_text())


def shutdown(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM, as systemd sends it: nginx stops, then the replicas finish what they have in flight."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def render(run: Path, spool: Path, host: str, port: int, replicas: list[int], rate: int, burst: int,
           connections: int, max_body: str, workers: int, floor: bool) -> Path:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in replicas)
    floor_block = ""
    if floor:
        # nginx's own floor for the benchmarks: a static file, no replica involved.
        (spool / "floor.txt").write_text("x\n")
        floor_block = f"        location = /_nginx_floor {{ alias {spool}/floor.txt; default_type text/plain; }}\n"
    # As root, nginx's workers run as nobody: they must be able to write the run folder's temp and cache.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    text = (HERE / "nginx.conf.in").read_text()
    for name, value in {"RUN": str(run), "SPOOL": str(spool), "HOST": host, "PORT": str(port), "SERVERS": servers, "RATE": str(rate),
                        "BURST": str(burst), "CONNECTIONS": str(connections), "MAX_BODY": max_body,
                        "WORKERS": str(workers), "FLOOR": floor_block, "USER": user}.items():
        text = text.replace(f"@@{name}@@", value)
    conf = run / "nginx.conf"
    conf.write_text(text)
    return conf


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist", help="The build to serve (the same for every replica).")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1", help="Where nginx listens.")
    parser.add_argument("--port", type=int, default=8080, help="Where nginx listens (0: a free port).")
    parser.add_argument("--rate", type=int, default=50, help="Requests a second per client address (429 above).")
    parser.add_argument("--burst", type=int, default=100, help="Requests a client may send at once above the rate.")
    parser.add_argument("--connections", type=int, default=256, help="Connections per client address.")
    parser.add_argument("--max-body", default="1m", help="Largest request body nginx accepts (413 above).")
    parser.add_argument("--nginx-workers", type=int, default=2)
    parser.add_argument("--run", default=None, help="Folder for nginx's configuration, cache and state "
                                                    "(default: a fresh temporary folder).")
    parser.add_argument("--upstreams", default=None, help="Front these running replicas (host:port,...) instead "
                                                          "of starting any.")
    parser.add_argument("--bench-floor", action="store_true", help="Serve /_nginx_floor, a static file (benchmarks).")
    parser.add_argument("--serve-arg", action="append", default=[], help="An extra argument for every `ijdp serve`.")
    args = parser.parse_args(argv)

    if shutil.which("nginx") is None:
        raise SystemExit("cluster: nginx is not installed (`make nginx` installs Debian's nginx-light)")
    run = Path(args.run or tempfile.mkdtemp(prefix="ijdp-cluster-")).resolve()
    run.mkdir(parents=True, exist_ok=True)
    # nginx's workers write their temp files and the cache in the spool. Started as root they run as nobody,
    # who may not pass through the run folder's parents: the spool is then a folder of its own under /tmp.
    spool = Path(tempfile.mkdtemp(prefix="ijdp-nginx-spool-")) if os.geteuid() == 0 else run
    spool.chmod(0o755)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (spool / name).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(spool / name, "nobody", "nogroup")
    port = args.port or free_port(args.host)
    replicas: list[subprocess.Popen] = []
    ports: list[int] = []

    def stop(*_):
        # nginx first (nothing new reaches the replicas), then the replicas, each finishing its requests.
        for process in [nginx] + replicas if nginx is not None else replicas:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if process is not nginx else signal.SIGQUIT)
        for process in ([nginx] if nginx is not None else []) + replicas:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if spool != run:
            shutil.rmtree(spool, ignore_errors=True)
        raise SystemExit(0)

    nginx = None
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + 180
    if args.upstreams:
        ports = [int(item.rsplit(":", 1)[1]) for item in args.upstreams.split(",")]
    else:
        # One on-disk store, made once, opened read-only by every replica's query workers.
        from ijdp.config import built_base
        from ijdp.store import prepare_store
        prepare_store(args.dist, built_base(args.dist))     # each replica then finds it made, and opens it read-only
        # nginx is each replica's trusted proxy (its X-Forwarded-For names the client), and the replicas
        # share one machine: each gets its part of the memory budget unless one is given.
        shared = ["--trusted-proxy", "127.0.0.1"]
        if not any(arg.startswith("--memory-budget-mb") for arg in args.serve_arg):
            from ijdp.fairness import machine_memory_mb
            shared += ["--memory-budget-mb", str(machine_memory_mb()[0] // 2 // args.replicas)]
        for index in range(args.replicas):
            replica_port = free_port()
            log = open(run / f"replica-{index + 1}.log", "wb")
            replicas.append(subprocess.Popen(
                [sys.executable, "-m", "ijdp.cli", "serve", "--dist", args.dist, "--host", "127.0.0.1", "--port", str(replica_port), *shared, *args.serve_arg],
                stdout=log, stderr=subprocess.STDOUT))
            ports.append(replica_port)
        for replica, replica_port in zip(replicas, ports):
            wait_until(f"http://127.0.0.1:{replica_port}/healthz", deadline, replica)
    conf = render(run, spool, args.host, port, ports, args.rate, args.burst, args.connections, args.max_body,
                  args.nginx_workers, args.bench_floor)
    command = ["nginx", "-c", str(conf), "-p", str(run), "-e", str(run / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if check.returncode != 0:
        for replica in replicas:
            replica.terminate()
        raise SystemExit(f"cluster: nginx refuses the configuration:\n{check.stderr}")
    nginx = subprocess.Popen(command, stderr=open(run / "nginx.log", "wb"))
    wait_until(f"http://{args.host}:{port}/healthz", deadline, nginx)
    state = {"url": f"http://{args.host}:{port}/", "nginx_pid": nginx.pid, "run": str(run), "spool": str(spool),
             "replicas": [{"port": p, "pid": r.pid} for p, r in zip(ports, replicas)] if replicas
             else [{"port": p, "pid": None} for p in ports]}
    (run / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    print(f"ready: {state['url']} in front of {len(ports)} replica(s); state in {run / 'state.json'}", flush=True)
    while True:
        if nginx.poll() is not None:
            print(f"cluster: nginx exited ({nginx.returncode}); see {run / 'nginx.log'}", file=sys.stderr, flush=True)
            stop()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
