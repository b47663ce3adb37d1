"""One client cannot take the endpoint down: query time per client, fair workers, one memory budget.

The live tests bind the attacker to 127.0.0.2 and the victim to 127.0.0.1 (two clients on loopback).
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from conftest import make_app
from ijdp import fairness
from ijdp.config import Settings
from ijdp.errors import IjdpError
from ijdp.fairness import AnswerRoom, Ledger, OverBudget, client_of, plan_memory, trusted_networks

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l FILTER(?a != <urn:x:%s>) }"
IJDP = Path(sys.executable).with_name("ijdp")
NGINX = shutil.which("nginx") is not None


def _cluster_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("deploy_cluster", Path(__file__).parents[1] / "deploy" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLUSTER = _cluster_module()      # its launcher, and its free_port and wait_until for a lone server


# ------------------------------------------------------------ who the client is

PROXY = trusted_networks(["10.0.0.0/8", "127.0.0.1"])


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy():
    assert client_of("192.0.2.7", "198.51.100.1", PROXY) == "192.0.2.7"      # not a proxy: its header is ignored
    assert client_of("127.0.0.1", "198.51.100.1", PROXY) == "198.51.100.1"
    assert client_of("127.0.0.1", None, PROXY) == "127.0.0.1"
    assert client_of("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"          # no trusted proxy configured


def test_the_rightmost_entry_that_is_no_trusted_proxy_counts():
    # a client's own spoofed entries sit left of the address the proxy saw
    assert client_of("127.0.0.1", "6.6.6.6, 198.51.100.1", PROXY) == "198.51.100.1"
    # a chain of trusted proxies is walked through
    assert client_of("127.0.0.1", "198.51.100.1, 10.1.2.3", PROXY) == "198.51.100.1"
    # a malformed hop ends the walk at the last trusted one
    assert client_of("127.0.0.1", "198.51.100.1, junk", PROXY) == "127.0.0.1"
    assert client_of("127.0.0.1", "198.51.100.1:4711", PROXY) == "198.51.100.1"


def test_an_ipv6_client_is_its_64_network():
    assert client_of("2001:db8:1:2::5", None, ()) == client_of("2001:db8:1:2:ffff::9", None, ()) == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::5", None, ()) != "2001:db8:1:2::/64"
    assert client_of("::ffff:192.0.2.1", None, ()) == "192.0.2.1"


def test_a_bad_trusted_proxy_is_a_one_line_error():
    with pytest.raises(IjdpError, match="not an IP address or network"):
        trusted_networks(["nginx.local"])


ADDRESSES = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
HEADERS = st.lists(st.one_of(ADDRESSES, st.text(max_size=12)), max_size=6).map(", ".join)


@given(peer=st.ip_addresses(v=4).filter(lambda a: not a.is_loopback and not a.is_private).map(str), header=HEADERS)
def test_whatever_a_direct_client_writes_it_counts_as_itself(peer, header):
    assert client_of(peer, header, PROXY) == peer


@given(seen=st.ip_addresses(v=4).filter(lambda a: not a.is_loopback and not a.is_private).map(str), header=HEADERS)
def test_through_a_proxy_that_appends_what_it_saw_the_client_cannot_choose(seen, header):
    # nginx's $proxy_add_x_forwarded_for: the client's header, then the address nginx saw
    forwarded = f"{header}, {seen}" if header else seen
    assert client_of("127.0.0.1", forwarded, PROXY) == seen


# ------------------------------------------------------------ query time per client

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_client_over_its_minute_of_query_time_gets_retry_after_and_others_do_not():
    clock = Clock()
    ledger = Ledger(seconds_per_minute=60, in_flight=8, clock=clock)
    ledger.admit("a")
    ledger.done("a", 70.0)               # a runaway stopped at its timeout costs all of it
    with pytest.raises(OverBudget) as refused:
        ledger.admit("a")
    assert refused.value.retry_after == 10 and "60 s of query time a minute" in str(refused.value)
    ledger.admit("b")                    # another client is not touched
    clock.now += 10.5
    ledger.admit("a")                    # refilled: one second of query time a second


def test_queries_in_flight_are_capped_per_client_and_the_server_itself_never_is():
    ledger = Ledger(seconds_per_minute=60, in_flight=3, clock=Clock())
    for _ in range(3):
        ledger.admit("a")
    with pytest.raises(OverBudget) as refused:
        ledger.admit("a")
    assert refused.value.retry_after == 1
    ledger.done("a", 0.1)
    ledger.admit("a")
    for _ in range(100):
        ledger.admit(None)


def test_the_ledger_forgets_idle_clients_with_full_buckets(monkeypatch):
    monkeypatch.setattr(fairness, "MAX_CLIENTS_KEPT", 50)
    clock = Clock()
    ledger = Ledger(seconds_per_minute=60, in_flight=8, clock=clock)
    ledger.admit("debtor")
    ledger.done("debtor", 600.0)
    for index in range(500):
        ledger.admit(f"c{index}")
        ledger.done(f"c{index}", 0.0)
    assert len(ledger._clients) <= 51
    with pytest.raises(OverBudget):
        ledger.admit("debtor")           # a debt is never forgotten


def test_answer_room_waits_for_room_and_gives_up_at_the_deadline():
    room = AnswerRoom(100)
    assert room.hold(60, time.monotonic() + 1) == 60
    assert room.hold(60, time.monotonic() + 0.05) is None
    threading.Timer(0.1, room.release, (60,)).start()
    assert room.hold(60, time.monotonic() + 5) == 60
    assert room.hold(10_000, time.monotonic() + 0.05) is None      # the whole room, while 60 bytes are held
    room.release(60)
    assert room.hold(10_000, time.monotonic() + 0.05) == 100 and room.most_held == 100


# ------------------------------------------------------------ the memory budget

def test_the_default_budget_is_half_the_machine_or_the_cgroup(tmp_path):
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    (proc / "self" / "cgroup").write_text("0::/box\n")
    assert fairness.machine_memory_mb(proc, cgroups) == (16000, "MemTotal")
    (cgroups / "box").mkdir(parents=True)
    (cgroups / "box" / "memory.max").write_text("max\n")
    assert fairness.machine_memory_mb(proc, cgroups)[0] == 16000
    (cgroups / "box" / "memory.max").write_text(str(4 * 2**30) + "\n")
    assert fairness.machine_memory_mb(proc, cgroups) == (4096, "the cgroup's limit")
    (proc / "self" / "cgroup").write_text("4:memory:/v1box\n")
    (cgroups / "memory" / "v1box").mkdir(parents=True)
    (cgroups / "memory" / "v1box" / "memory.limit_in_bytes").write_text(str(2 * 2**30))
    assert fairness.machine_memory_mb(proc, cgroups) == (2048, "the cgroup's limit")
    plan = plan_memory(Settings(), machine=lambda: (16000, "MemTotal"))
    assert plan.budget_mb == 8000 and "half of 16000 MiB" in plan.line()


@hypothesis_settings(max_examples=200, deadline=None)
@given(budget=st.integers(200, 64_000), worker=st.integers(64, 4096), workers=st.integers(1, 6),
       most=st.integers(1, 64), cache=st.integers(0, 2**30), answer=st.integers(1, 2**28),
       threads=st.integers(1, 64), federation=st.booleans(), updates=st.booleans())
def test_the_plan_stays_under_the_budget_or_refuses_in_one_line(budget, worker, workers, most, cache, answer,
                                                                threads, federation, updates):
    settings = Settings(memory_budget_mb=budget, query_memory_mb=worker, query_workers=workers,
                        max_query_workers=most, result_cache_bytes=cache, max_answer_bytes=answer, threads=threads,
                        service_allowlist=("http://example.org/sparql",) if federation else (),
                        admin_token="t" if updates else "")
    try:
        plan = plan_memory(settings)
    except IjdpError as err:
        assert "\n" not in str(err) and str(budget) in str(err)
        return
    assert plan.used_mb <= budget
    assert workers <= plan.query_workers <= max(workers, most)
    assert plan.answers_mb * 2**20 >= fairness.ANSWER_COPIES * answer       # one largest answer always fits
    if plan.query_workers < most:                                         # the budget, not the setting, stopped it
        one_answer = -(-fairness.ANSWER_COPIES * answer // 2**20)
        assert plan.used_mb - plan.answers_mb + plan.worker_mb + one_answer > budget


def test_a_small_machine_lowers_each_querys_memory_rather_than_refusing_to_serve(prepared_store, dist):
    """The default budget on a 4 GiB machine: two workers of less memory; a budget given by hand is kept as given."""
    small = plan_memory(Settings(), machine=lambda: (4096, "MemTotal"))
    assert small.used_mb <= 2048 and small.query_workers == 2
    assert fairness.MIN_QUERY_MEMORY_MB <= small.query_memory_mb < Settings().query_memory_mb
    assert "lowered to" in small.line()
    assert plan_memory(Settings(), machine=lambda: (64000, "MemTotal")).query_memory_mb == Settings().query_memory_mb
    with pytest.raises(IjdpError):
        plan_memory(Settings(memory_budget_mb=900))
    # What the plan sets is what the workers get, and what the service description declares.
    with mock.patch.object(fairness, "machine_memory_mb", lambda: (4096, "MemTotal")):
        app = make_app(prepared_store, dist, wait_ready=False)
    try:
        assert app.config["IJDP_SETTINGS"].query_memory_mb == small.query_memory_mb
        assert app.extensions["ijdp_pool"].limits.memory_bytes == small.query_memory_mb * 2**20
    finally:
        app.extensions["ijdp_pool"].close()


def test_serve_refuses_a_budget_that_cannot_hold_the_minimum(dist):
    done = subprocess.run([str(IJDP), "serve", "--dist", str(dist), "--port", "0", "--memory-budget-mb", "900"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("ijdp: the memory budget of 900 MiB") and "Traceback" not in done.stderr


# ------------------------------------------------------------ the pool serves clients fairly

def test_a_client_with_a_worker_busy_never_takes_the_last_idle_one(prepared_store):
    from ijdp.querypool import Job, QueryPool

    pool = QueryPool(prepared_store, size=2, max_size=2, ledger=Ledger(600, 8))
    try:
        deadline = time.monotonic() + 60
        while len(pool.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        events = []

        def ask(client, query, timeout, name):
            fairness.CLIENT.set(client)
            try:
                pool.run(Job(query, "application/sparql-results+json", None, 10), timeout)
                events.append(name)
            except Exception as err:   # noqa: BLE001 - the runaways end at their timeout
                events.append(f"{name}: {type(err).__name__}")

        attacker = [threading.Thread(target=ask, args=("attacker", RUNAWAY % index, 3, f"runaway {index}"))
                    for index in range(3)]
        for thread in attacker:
            thread.start()
        time.sleep(0.5)
        ask("victim", "ASK { ?s ?p 1 }", 6, "victim")
        assert events == ["victim"]      # answered while the runaways still hold their worker and their queue
        for thread in attacker:
            thread.join(30)
        # each runaway ran to its timeout, or waited for the attacker's one worker until then
        assert all(e.endswith((": QueryTimeout", ": PoolBusy")) for e in events[1:]) and len(events) == 4
    finally:
        pool.close()


# ------------------------------------------------------------ live: ijdp serve, then nginx

def request(port: int, path: str, source: str = "127.0.0.1", timeout: float = 30) -> tuple[int, dict, bytes, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read(), time.monotonic() - started
    finally:
        connection.close()


def sparql(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def attack_and_watch(port: int, rounds: int = 3) -> tuple[list, list]:
    """60 runaways from 127.0.0.2 at once; then the victim's fresh ASK and /healthz, timed, round after round."""
    answers, victim = [], []

    def runaway(index):
        try:
            answers.append(request(port, sparql(RUNAWAY % f"{time.time_ns()}-{index}"), "127.0.0.2"))
        except OSError as err:
            answers.append((repr(err), {}, b"", 0.0))
    threads = [threading.Thread(target=runaway, args=(index,), daemon=True) for index in range(60)]
    for thread in threads:
        thread.start()
    try:
        # Every runaway over the attacker's share (8 in flight) is refused at once: wait for those answers.
        deadline = time.monotonic() + 20
        while len(answers) < 52 and time.monotonic() < deadline:
            time.sleep(0.05)
        for index in range(rounds):
            victim.append(("healthz", *request(port, "/healthz")[::3]))
            victim.append(("ask", *request(port, sparql(f"ASK {{ ?s ?p {time.time_ns()} }}"))[::3]))
    finally:
        for thread in threads:
            thread.join(60)
    return answers, victim


def assert_the_victim_was_served_and_the_attacker_refused(answers, victim):
    slow = [v for v in victim if v[1] != 200 or v[2] >= 1.0]
    assert not slow, victim
    refused = [a for a in answers if a[0] == 429]
    assert len(refused) >= 52 and {a[0] for a in answers} <= {429, 503}, [a[0] for a in answers]
    status, headers, body, _ = refused[0]
    assert int(headers["Retry-After"]) >= 1 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["type"].endswith("/client-over-budget")


def start(dist, *args, log=None):
    port = CLUSTER.free_port()
    process = subprocess.Popen([str(IJDP), "serve", "--port", str(port), "--dist", str(dist), *args],
                               stdout=open(log or os.devnull, "wb"), stderr=subprocess.STDOUT)
    CLUSTER.wait_until(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60, process)
    return process, port


def stop(process):
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.live
def test_60_runaways_from_one_address_delay_no_other_client(dist, tmp_path):
    log = tmp_path / "server.log"
    process, port = start(dist, "--query-timeout", "3", "--client-query-seconds", "1", log=log)
    try:
        answers, victim = attack_and_watch(port)
        assert_the_victim_was_served_and_the_attacker_refused(answers, victim)
        # the runaways it was let run cost their whole timeout: the attacker is now out of query time
        status, headers, body, _ = request(port, sparql("ASK { ?s ?p 'again' }"), "127.0.0.2")
        assert status == 429 and int(headers["Retry-After"]) > 3, (status, headers)
        assert "query time a minute" in json.loads(body)["detail"]
        assert request(port, sparql("ASK { ?s ?p 'victim again' }"))[0] == 200
    finally:
        stop(process)
    assert "memory budget" in log.read_text()     # the start-up line


@pytest.mark.live
@pytest.mark.skipif(not NGINX, reason="nginx is not installed (`make nginx` installs Debian's nginx-light)")
def test_60_runaways_through_nginx_delay_no_other_client(dist, tmp_path):
    process, state = CLUSTER.launch(tmp_path / "cluster", dist, "--replicas", "1", "--rate", "1000", "--burst", "1000",
                                    "--serve-arg=--query-timeout=3", "--serve-arg=--client-query-seconds=1")
    try:
        port = int(state["url"].rstrip("/").rsplit(":", 1)[1])
        answers, victim = attack_and_watch(port)
        assert_the_victim_was_served_and_the_attacker_refused(answers, victim)
        # out of query time, a client cannot pass for another by writing the header itself
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.2", 0))
        connection.request("GET", sparql("ASK { ?s ?p 'spoofed' }"), headers={"X-Forwarded-For": "127.0.0.1"})
        answer = connection.getresponse()
        assert answer.status == 429, answer.status
        connection.close()
    finally:
        CLUSTER.shutdown(process)


def _workers_of(pid: int) -> int:
    """Live processes forked by the server's forkserver: its query workers."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] != "Z":
                children.setdefault(int(stat[1]), []).append(int(entry))
    count = 0
    for child in children.get(pid, []):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in command:
            count += len(children.get(child, []))
    return count


@pytest.mark.live
def test_the_pool_never_holds_more_workers_than_the_budget(dist):
    args = {"memory_budget_mb": 1100, "query_memory_mb": 128, "query_workers": 2, "max_query_workers": 24,
            "result_cache_bytes": 16 * 2**20, "max_answer_bytes": 8 * 2**20}
    plan = plan_memory(Settings(**args))
    assert 2 < plan.query_workers < 24 and plan.used_mb <= 1100
    flags = [item for name, value in args.items() for item in (f"--{name.replace('_', '-')}", str(value))]
    process, port = start(dist, "--query-timeout", "3", *flags)
    try:
        statuses, most = [], 0

        def runaway(index):
            # each from its own address: only the budget bounds the pool, not a client's share
            statuses.append(request(port, sparql(RUNAWAY % index), f"127.0.1.{index + 1}")[0])
        threads = [threading.Thread(target=runaway, args=(index,), daemon=True) for index in range(24)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            most = max(most, _workers_of(process.pid))
            time.sleep(0.02)
        assert 2 < most <= plan.query_workers      # it grew while workers were stuck, never past the budget
        assert set(statuses) <= {503} and len(statuses) == 24
    finally:
        stop(process)


def test_a_crowd_of_active_clients_costs_each_new_one_a_bounded_step():
    """Past MAX_CLIENTS_KEPT active buckets, a new client looks at FORGET_SCAN of them, not all (under the lock)."""
    now = [0.0]
    ledger = Ledger(60, 8, clock=lambda: now[0])
    for number in range(fairness.MAX_CLIENTS_KEPT + 500):
        ledger.admit(f"client-{number}")                      # each keeps one query in flight: none forgettable
    looked = []
    original = itertools.islice
    with mock.patch.object(fairness.itertools, "islice", lambda items, n: looked.append(n) or original(items, n)):
        ledger.admit("one-more")
    assert looked == [fairness.FORGET_SCAN]
    for number in range(fairness.MAX_CLIENTS_KEPT + 500):      # all answered, buckets full again a minute later
        ledger.done(f"client-{number}", 0.0)
    now[0] += 60
    ledger.admit("and-another")
    assert len(ledger._clients) < fairness.MAX_CLIENTS_KEPT + 502   # the least recent idle ones were forgotten
