"""Roost's lease commands (docs/LEASES.md): LEASE.GET / LEASE.SET / LEASE.INVALIDATE, memcached's meta-protocol
leases over RESP, against real roostd processes with redis-py (and raw memcached connections):

- a 100-client stampede (4 processes x 25 threads) on one key, round after round: a cold miss, invalidations, a
  recache window, an expiry; exactly one caller holds the lease per round, the others wait or are served the old
  value, and after the holder's LEASE.SET every client hits the new value;
- memcached `mg … N` clients and RESP LEASE.GET clients contending for the same lease;
- replication: replicas refuse the commands with READONLY, placeholders and stale marks reach the replica by full
  sync and by the stream, and a promoted replica still serves the stale value with one winner;
- cluster mode: the commands are routed by their key's slot (MOVED; redis-py's RedisCluster finds the key through
  COMMAND);
- bad input: Redis-style errors, the connection stays usable.

Roost-only: Redis has no such commands."""

from __future__ import annotations

import multiprocessing
import subprocess
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from memcache import McConn, McUnsupported, start_roostd_mc
from servers import redis_cli
from test_cluster import start_node, wait_until

pytestmark = pytest.mark.roost_only("LEASE.* are Roost's own commands")

HOLDS_LEASE = {"win", "stale-win", "recache-win"}


def lease_get(r: redis.Redis, key, lease_ms: int, recache: int | None = None):
    """LEASE.GET as (value, status, cas, ttl_ms); value is None for `win` and `wait`."""
    args = ["LEASE.GET", key, lease_ms] + (["RECACHE", recache] if recache is not None else [])
    value, status, cas, ttl = r.execute_command(*args)
    return value, status.decode() if isinstance(status, bytes) else status, cas, ttl


def _client(port: int, **kw) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, **kw)


# ---------------------------------------------------------------- the stampede

PROCESSES = 4
THREADS = 25
CLIENTS = PROCESSES * THREADS
KEY = "hot"
# (name, LEASE.GET arguments after the key): what every client asks in that round
ROUNDS = [
    ("miss", (5000,)),
    ("invalidate 1", (5000,)),
    ("invalidate 2", (5000,)),
    ("recache", (5000, 30)),
    ("expiry", (5000,)),
]


def _one_client(port: int, barrier, results: list, index: int) -> None:
    """One client's part of every round, between the barrier's waits: (1) the round starts, (2) everyone is done
    with it, (3) everyone has checked that it now hits."""
    r = _client(port)
    for number, (name, args) in enumerate(ROUNDS):
        outcome = {"round": name, "error": None}
        new_value = f"{name}-value".encode()
        barrier.wait(30)
        try:
            value, status, cas, ttl = lease_get(r, KEY, *args)
            outcome.update(status=status, value=value)
            if status in HOLDS_LEASE:
                time.sleep(0.3)  # "recompute" while the others are told to wait or are served the old value
                outcome["stored"] = r.execute_command("LEASE.SET", KEY, new_value, "PX", 60000, "CAS", cas)
            elif status == "wait":
                assert value is None, value
                deadline = time.monotonic() + 5
                while lease_get(r, KEY, *args)[0] != new_value:
                    assert time.monotonic() < deadline, "never saw the recomputed value"
                    time.sleep(0.02)
        except Exception as e:  # noqa: BLE001 - reported by the parent
            outcome["error"] = f"{e!r}"
        barrier.wait(30)
        try:
            outcome["after"] = lease_get(r, KEY, *args)[:2]
        except Exception as e:  # noqa: BLE001
            outcome["error"] = f"{e!r}"
        barrier.wait(30)
        results.append((index, number, outcome))
    r.close()


def _process(port: int, barrier, queue, first_index: int) -> None:
    results: list = []
    threads = [threading.Thread(target=_one_client, args=(port, barrier, results, first_index + i))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    queue.put(results)


@pytest.mark.time_limit(150)
def test_stampede_one_lease_holder_per_round(start_roost):
    server = start_roost("--loglevel", "warning")
    admin = _client(server.port)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(CLIENTS + 1)  # the clients and this process, which prepares each round
    queue = context.Queue()
    processes = [context.Process(target=_process, args=(server.port, barrier, queue, p * THREADS), daemon=True)
                 for p in range(PROCESSES)]
    for p in processes:
        p.start()
    try:
        previous = None
        for name, _ in ROUNDS:
            if name.startswith("invalidate"):
                assert admin.execute_command("LEASE.INVALIDATE", KEY, "TTL", 30) == 1
            elif name == "recache":
                admin.execute_command("LEASE.SET", KEY, previous, "PX", 20000)  # 20 s left < RECACHE 30
            elif name == "expiry":
                admin.execute_command("LEASE.SET", KEY, previous, "PX", 200)
                time.sleep(0.4)
                assert admin.exists(KEY) == 0
            barrier.wait(30)  # go
            barrier.wait(60)  # the round is done
            barrier.wait(30)  # everyone checked it hits
            previous = f"{name}-value".encode()
        collected = []
        for _ in processes:
            collected += queue.get(timeout=30)
    finally:
        for p in processes:
            p.join(10)
            if p.is_alive():
                p.kill()
        admin.close()
    assert len(collected) == CLIENTS * len(ROUNDS)
    errors = [(i, o["round"], o["error"]) for i, _, o in collected if o["error"]]
    assert not errors, errors[:5]
    report = []
    for number, (name, _) in enumerate(ROUNDS):
        outcomes = [o for _, n, o in collected if n == number]
        statuses = [o["status"] for o in outcomes]
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        report.append(f"{name}: {counts}")
        holders = [o for o in outcomes if o["status"] in HOLDS_LEASE]
        assert len(holders) == 1, (name, counts)  # the loader runs once per key per round
        assert isinstance(holders[0]["stored"], int), (name, holders[0])
        old = ROUNDS[number - 1][0].encode() + b"-value" if number else None
        if name == "miss" or name == "expiry":
            assert counts == {"win": 1, "wait": CLIENTS - 1}, (name, counts)
        elif name.startswith("invalidate"):
            assert counts == {"stale-win": 1, "stale": CLIENTS - 1}, (name, counts)
            assert all(o["value"] == old for o in outcomes), name
        else:
            assert counts == {"recache-win": 1, "hit": CLIENTS - 1}, (name, counts)
            assert all(o["value"] == old for o in outcomes), name
        new_value = f"{name}-value".encode()
        assert all(o["after"] == (new_value, "hit") for o in outcomes), (name, [o["after"] for o in outcomes][:5])
    print(f"\nlease stampede, {CLIENTS} clients in {PROCESSES} processes: " + "; ".join(report))


# ---------------------------------------------------------------- memcached and RESP share one lease


@pytest.fixture
def mc_roost():
    try:
        server = start_roostd_mc()
    except McUnsupported as e:
        pytest.skip(str(e))
    yield server
    server.stop()


def _mg(c: McConn, line: bytes):
    c.send(line + b"\r\n")
    head = c.read_line().split()
    value = c.read_data_block(int(head[1])) if head[0] == b"VA" else None
    return head, value


@pytest.mark.time_limit(90)
def test_memcached_and_resp_clients_contend_for_one_lease(mc_roost):
    per_protocol = 25
    mcs = [McConn(mc_roost.host, mc_roost.mc_port, timeout=10) for _ in range(per_protocol)]
    resps = [_client(mc_roost.resp_port) for _ in range(per_protocol)]
    try:
        for round_number in range(4):
            key = f"shared-{round_number}"
            barrier = threading.Barrier(2 * per_protocol)
            outcomes: list = []
            errors: list = []

            def via_memcached(c: McConn):
                try:
                    barrier.wait(10)
                    head, value = _mg(c, f"mg {key} v c N30".encode())
                    flags = set(head[2:])
                    outcomes.append(("mc", b"W" in flags, b"Z" in flags, value))
                    if b"W" in flags:
                        time.sleep(0.3)
                        c.send(b"ms %s 9 T60\r\nfrom-mc-%d\r\n" % (key.encode(), round_number))
                        assert c.read_line() == b"HD"
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

            def via_resp(r: redis.Redis):
                try:
                    barrier.wait(10)
                    value, status, cas, _ = lease_get(r, key, 30000)
                    outcomes.append(("resp", status == "win", status == "wait", value))
                    if status == "win":
                        time.sleep(0.3)
                        assert r.execute_command("LEASE.SET", key, f"from-rs-{round_number}", "EX", 60, "CAS", cas)
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

            threads = [threading.Thread(target=via_memcached, args=(c,)) for c in mcs]
            threads += [threading.Thread(target=via_resp, args=(r,)) for r in resps]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert not errors, errors[:5]
            winners = [o for o in outcomes if o[1]]
            assert len(outcomes) == 2 * per_protocol and len(winners) == 1, outcomes
            # everyone else was told someone holds the lease, and got no usable value
            assert all(o[2] and not o[3] for o in outcomes if not o[1]), outcomes
            expected = f"from-{'mc' if winners[0][0] == 'mc' else 'rs'}-{round_number}".encode()
            assert _mg(mcs[0], f"mg {key} v".encode())[1] == expected
            assert lease_get(resps[0], key, 30000)[:2] == (expected, "hit")
        # an invalidation over either protocol opens one lease for both
        assert _mg(mcs[0], b"md shared-0 I")[0] == [b"HD"]
        assert lease_get(resps[0], "shared-0", 1000)[1] == "stale-win"
        assert _mg(mcs[1], b"mg shared-0 v")[0][2:] == [b"Z", b"X"]
        assert resps[0].execute_command("LEASE.INVALIDATE", "shared-0") == 1
        assert _mg(mcs[1], b"mg shared-0 v")[0][2:] == [b"X", b"W"]
        assert lease_get(resps[1], "shared-0", 1000)[1] == "stale"
    finally:
        for c in mcs:
            c.close()
        for r in resps:
            r.close()


# ---------------------------------------------------------------- replication


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.time_limit(60)
def test_replicas_refuse_leases_and_a_promoted_replica_keeps_the_marks(start_roost):
    primary = start_roost("--loglevel", "warning")
    replica = start_roost("--loglevel", "warning", name="replica")
    p, r = _client(primary.port), _client(replica.port)
    # Before the replica attaches (carried by the full sync) ...
    assert lease_get(p, "synced-placeholder", 60000)[1] == "win"
    p.execute_command("LEASE.SET", "synced-stale", "old-1", "EX", 300)
    assert p.execute_command("LEASE.INVALIDATE", "synced-stale") == 1
    assert r.replicaof(primary.host, primary.port)
    _until(lambda: r.info("replication").get("master_link_status") == "up", 15, "the replication link")
    # ... and after (carried by the stream).
    assert lease_get(p, "streamed-placeholder", 60000)[1] == "win"
    p.execute_command("LEASE.SET", "streamed-stale", "old-2")
    assert p.execute_command("LEASE.INVALIDATE", "streamed-stale", "TTL", 300) == 1
    assert p.wait(1, 10000) == 1
    for command in (["LEASE.GET", "k", 1000], ["LEASE.SET", "k", "v"], ["LEASE.INVALIDATE", "synced-stale"]):
        with pytest.raises(redis.ResponseError, match="^You can't write against a read only replica.$"):
            r.execute_command(*command)
    assert r.get("synced-stale") == b"old-1" and r.get("streamed-stale") == b"old-2"
    assert r.get("synced-placeholder") == b"" and 0 < r.pttl("streamed-placeholder") <= 60000
    assert 0 < r.ttl("streamed-stale") <= 300
    # Promoted, the replica serves the stale values as stale with one winner, and the placeholders as "being
    # computed" (their holder's lease was handed out by the old primary; a new one once they expire).
    assert r.replicaof("NO", "ONE")
    for key, old in (("synced-stale", b"old-1"), ("streamed-stale", b"old-2")):
        assert lease_get(r, key, 1000)[:2] == (old, "stale-win")
        assert lease_get(r, key, 1000)[:2] == (old, "stale")
    for key in ("synced-placeholder", "streamed-placeholder"):
        value, status, _, ttl = lease_get(r, key, 1000)
        assert (value, status) == (None, "wait") and 0 < ttl <= 60000


# ---------------------------------------------------------------- cluster routing


@pytest.mark.time_limit(90)
def test_cluster_routes_leases_by_key_slot(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    create = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                             "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    assert wait_until(lambda: all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok")
                                  for n in nodes), 20)
    slot = int(redis_cli(nodes[0].port, "cluster", "keyslot", "foo").stdout)
    moved = [redis_cli(n.port, "lease.get", "foo", "5000").stdout.strip() for n in nodes]
    assert sum(line.startswith(f"MOVED {slot} 127.0.0.1:") for line in moved) == 2, moved
    assert sum(line.startswith("win") or "win" in line.split() for line in moved) == 1, moved
    rc = RedisCluster(host="127.0.0.1", port=nodes[0].port, socket_timeout=10)
    try:
        keys = [f"key-{i}" for i in range(30)]  # spread over the three nodes
        for key in keys:
            value, status, cas, _ = rc.execute_command("LEASE.GET", key, 5000)
            assert (value, status) == (None, b"win")
            assert rc.execute_command("LEASE.SET", key, f"v-{key}", "CAS", cas) == cas + 1
            assert rc.execute_command("LEASE.INVALIDATE", key) == 1
            assert rc.execute_command("LEASE.GET", key, 5000)[:2] == [f"v-{key}".encode(), b"stale-win"]
        getkeys = redis_cli(nodes[0].port, "command", "getkeys", "lease.set", "k", "v", "CAS", "3").stdout
        assert getkeys.split() == ["k"], getkeys
    finally:
        rc.close()


# ---------------------------------------------------------------- bad input


@pytest.mark.time_limit(30)
def test_bad_input_gets_redis_style_errors(start_roost):
    server = start_roost("--loglevel", "warning")
    r = _client(server.port)
    cases = [
        (["LEASE.GET", "k"], "wrong number of arguments for 'lease.get' command"),
        (["LEASE.SET", "k"], "wrong number of arguments for 'lease.set' command"),
        (["LEASE.INVALIDATE"], "wrong number of arguments for 'lease.invalidate' command"),
        (["LEASE.GET", "k", "soon"], "value is not an integer or out of range"),
        (["LEASE.GET", "k", "0"], "invalid expire time in 'lease.get' command"),
        (["LEASE.GET", "k", "100", "RECACHE"], "syntax error"),
        (["LEASE.GET", "k", "100", "RECACHE", "-1"], "value is out of range, must be positive"),
        (["LEASE.SET", "k", "v", "CAS", "x"], "value is not an integer or out of range"),
        (["LEASE.SET", "k", "v", "EX", "-3"], "invalid expire time in 'lease.set' command"),
        (["LEASE.SET", "k", "v", "KEEPTTL"], "syntax error"),
        (["LEASE.INVALIDATE", "k", "TTL", "x"], "value is not an integer or out of range"),
        (["LEASE.INVALIDATE", "k", "EX", "1"], "syntax error"),
    ]
    for command, message in cases:
        with pytest.raises(redis.ResponseError) as raised:
            r.execute_command(*command)
        assert str(raised.value) == message, command
    # Nothing was created, and the connection still works (RESP3 too: the same array, with `_` for no value).
    assert r.dbsize() == 0
    r3 = _client(server.port, protocol=3)
    assert r3.execute_command("LEASE.GET", "k", 1000)[:2] == [None, b"win"]
    assert r3.execute_command("LEASE.GET", "k", 1000)[:2] == [None, b"wait"]
    r3.close()
    r.close()
