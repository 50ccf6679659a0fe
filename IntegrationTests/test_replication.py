"""Primary-replica replication (standalone, Redis-style): real server processes, redis-py, redis-cli, raw sockets.

Every test starts its own primary and replica(s) and checks what Redis 7.0 promises: a full sync copies the data set
(values and TTLs) even while clients keep writing, the change stream keeps the replica equal to the primary (writes,
expiry and eviction), `WAIT` counts acknowledging replicas, replicas refuse writes with Redis's `-READONLY` text, a
short disconnect resumes with a partial resync from the backlog (a longer one falls back to a full sync),
`REPLICAOF NO ONE` promotes (keeping the old replication ID as `master_replid2`), and `ROLE` / `INFO replication`
have Redis's shapes and field names.

Every test passes against redis-server 7.0.15 (ROOSTD=/usr/bin/redis-server); none is Roost-only. Against Redis the
servers get `--repl-diskless-sync-delay 0`: Redis 7.0 otherwise waits 5 s for more replicas before starting a
diskless full sync (Roost starts at once and has no such option). The whole file takes ~20 s (debug roostd).

How a test knows that a partial or a full resync happened: the servers' logs (both log at notice level):
Roost's replica says "Partial resync from the primary" / "Full resync from the primary", Redis's
"Successful partial resynchronization with master" / "Full resync from master".
"""

from __future__ import annotations

import random
import re
import signal
import threading
import time

import pytest
import redis

from resp import Frame, ProtocolViolation, RespConnection
from servers import redis_cli, target_is_redis

READONLY = "READONLY You can't write against a read only replica."
READONLY_BODY = READONLY[len("READONLY "):]  # redis-py strips the error code from the message
WAIT_ON_REPLICA = ("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica "
                   "is configured to be writable (which is not the default) writes to replicas are just local and "
                   "are not propagated.")
NO_REPLID = "0" * 40


def _partial_line() -> str:
    return "Successful partial resynchronization with master" if target_is_redis() else "Partial resync from the primary"


def _full_line() -> str:
    return "Full resync from master" if target_is_redis() else "Full resync from the primary"


def _start(start_roost, *extra: str):
    args = ["--loglevel", "notice"]
    if target_is_redis():
        args += ["--repl-diskless-sync-delay", "0"]
    return start_roost(*args, *extra)


def _client(server, decode: bool = False) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=10, decode_responses=decode)


def _until(pred, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _info(server, section: str = "replication") -> dict[str, str]:
    """INFO <section> as raw strings (redis-py would turn a replication ID of all zeros into the integer 0)."""
    text = _client(server, decode=True).execute_command("INFO", section)
    if isinstance(text, dict):  # a redis-py that parses INFO anyway: ask through redis-cli instead
        text = redis_cli(server.port, "INFO", section).stdout
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def _fields(value: str) -> dict[str, str]:
    """slave0:ip=...,port=...,state=... -> dict."""
    return dict(item.split("=", 1) for item in value.split(","))


def _link_up(replica) -> bool:
    i = _info(replica)
    return i.get("master_link_status") == "up" and i.get("master_sync_in_progress") == "0"


def _replicate(replica, primary, timeout: float = 15.0) -> None:
    """REPLICAOF primary on `replica`, then waits for the link to be up and the replica to acknowledge everything."""
    assert _client(replica).replicaof(primary.host, primary.port) in (True, b"OK", "OK")
    _until(lambda: _link_up(replica), timeout, "the replica's link to come up")
    assert _client(primary).wait(1, int(timeout * 1000)) >= 1


def _set_many(r: redis.Redis, items, batch: int = 1000) -> None:
    """items: (key, value, px or None). Pipelined SETs, every one must succeed."""
    items = list(items)
    for start in range(0, len(items), batch):
        p = r.pipeline(transaction=False)
        for k, v, px in items[start:start + batch]:
            p.set(k, v, px=px)
        assert all(ok is True for ok in p.execute())


def _mset_many(r: redis.Redis, pairs, batch: int = 1000) -> None:
    pairs = list(pairs)
    p = r.pipeline(transaction=False)
    for start in range(0, len(pairs), batch):
        p.mset(dict(pairs[start:start + batch]))
    assert all(ok is True for ok in p.execute())


def _dump(r: redis.Redis) -> dict[bytes, bytes]:
    """Every key and its value (SCAN + MGET; Roost keys are strings)."""
    keys = list(set(r.scan_iter(count=5000)))
    out: dict[bytes, bytes] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        for k, v in zip(chunk, r.mget(chunk)):
            if v is not None:  # expired between SCAN and MGET
                out[k] = v
    return out


def _pttls(r: redis.Redis, keys) -> list[int]:
    p = r.pipeline(transaction=False)
    for k in keys:
        p.pttl(k)
    return p.execute()


def _assert_same_data(primary, replica) -> None:
    P, R = _dump(_client(primary)), _dump(_client(replica))
    missing = P.keys() - R.keys()
    extra = R.keys() - P.keys()
    differ = [k for k in P.keys() & R.keys() if P[k] != R[k]]
    assert not missing and not extra and not differ, (
        f"replica differs from primary ({len(P)} keys): {len(missing)} missing e.g. {sorted(missing)[:5]}, "
        f"{len(extra)} extra e.g. {sorted(extra)[:5]}, {len(differ)} with other values e.g. "
        f"{[(k, P[k][:40], R[k][:40]) for k in sorted(differ)[:3]]}")


def _offsets_settle(primary, replica, timeout: float = 5.0) -> int:
    """After WAIT, master_repl_offset is the same on both sides. Polled without further WAITs: Redis's WAIT puts a
    REPLCONF GETACK into the stream (and a primary PING may land in between)."""
    assert _client(primary).wait(1, 2000) == 1

    def same():
        p, r, p2 = _info(primary), _info(replica), _info(primary)
        return (int(p["master_repl_offset"]),) if p["master_repl_offset"] == r["master_repl_offset"] == \
            p2["master_repl_offset"] else None

    return _until(same, timeout, "equal master_repl_offset on primary and replica")[0]


def _link_client_ids(primary) -> list[str]:
    """IDs of the replicas' connections on the primary: their last command is PSYNC/SYNC or REPLCONF (ACK)."""
    return [c["id"] for c in _client(primary, decode=True).client_list()
            if c.get("cmd") in ("psync", "sync", "replconf")]


# --- 1. full sync of existing data ------------------------------------------------------------------------------


@pytest.mark.time_limit(30)
def test_full_sync_copies_existing_data_and_reports_redis_role_and_info(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    n = 20_000
    items = []
    for i in range(n):
        value = f"value-{i}-".encode() + b"x" * (i % 64)
        px = None
        if i % 5 == 0:
            px = 600_000 + i  # 10 min and more
        elif i % 5 == 1:
            px = 30_000  # 30 s
        items.append((f"key:{i}", value, px))
    _set_many(P, items)
    P.set("empty", b"")
    P.set("binary", bytes(range(256)))
    assert P.dbsize() == n + 2

    _replicate(replica, primary)
    assert R.dbsize() == n + 2
    _assert_same_data(primary, replica)

    # TTLs: both sides hold the same absolute expiry (within a little clock-reading slack).
    ttl_keys = [k for k, _, px in items if px is not None]
    p_ttl, r_ttl = _pttls(P, ttl_keys), _pttls(R, ttl_keys)
    bad = [(k, a, b) for k, a, b in zip(ttl_keys, p_ttl, r_ttl) if b < 0 or abs(a - b) > 1500]
    assert not bad, f"{len(bad)} TTLs differ (key, primary PTTL, replica PTTL), e.g. {bad[:5]}"
    no_ttl = [k for k, _, px in items if px is None][:500]
    assert set(_pttls(R, no_ttl)) == {-1}

    offset = _offsets_settle(primary, replica)

    # ROLE, Redis's shapes: ["master", offset, [[ip, port, offset]]] and ["slave", host, port, state, offset].
    role = P.execute_command("ROLE")
    assert role[0] == b"master" and isinstance(role[1], int) and role[1] >= offset
    assert len(role[2]) == 1
    ip, port, acked = role[2][0]
    assert (ip, port) == (b"127.0.0.1", str(replica.port).encode()) and int(acked) <= role[1]
    role = R.execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"] and isinstance(role[4], int)
    cli = redis_cli(replica.port, "ROLE").stdout.split("\n")
    assert cli[:4] == ["slave", "127.0.0.1", str(primary.port), "connected"], cli

    # INFO replication, primary side.
    p = _info(primary)
    assert p["role"] == "master"
    assert p["connected_slaves"] == "1"
    s0 = _fields(p["slave0"])
    assert list(s0) == ["ip", "port", "state", "offset", "lag"]
    assert (s0["ip"], s0["port"], s0["state"]) == ("127.0.0.1", str(replica.port), "online")
    assert int(s0["offset"]) <= int(p["master_repl_offset"]) and int(s0["lag"]) >= 0
    assert re.fullmatch(r"[0-9a-f]{40}", p["master_replid"])
    assert p["master_replid2"] == NO_REPLID
    assert p["second_repl_offset"] == "-1"
    assert p["repl_backlog_active"] == "1"
    assert p["repl_backlog_size"] == str(1024 * 1024)
    first, histlen = int(p["repl_backlog_first_byte_offset"]), int(p["repl_backlog_histlen"])
    assert first >= 1 and first + histlen == int(p["master_repl_offset"]) + 1

    # INFO replication, replica side.
    r = _info(replica)
    assert r["role"] == "slave"
    assert (r["master_host"], r["master_port"]) == ("127.0.0.1", str(primary.port))
    assert r["master_link_status"] == "up"
    assert r["master_sync_in_progress"] == "0"
    assert r["slave_read_only"] == "1"
    assert r["connected_slaves"] == "0"
    assert r["master_replid"] == p["master_replid"]
    assert int(r["slave_repl_offset"]) == int(r["master_repl_offset"])
    for field in ("master_last_io_seconds_ago", "slave_priority", "master_replid2", "second_repl_offset",
                  "repl_backlog_active", "repl_backlog_size", "repl_backlog_first_byte_offset",
                  "repl_backlog_histlen"):
        assert field in r, field
    assert _full_line() in replica.log(1 << 20)


# --- 2. full sync while a writer keeps writing ------------------------------------------------------------------


@pytest.mark.time_limit(60)
def test_full_sync_while_a_writer_keeps_writing_converges_key_by_key(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P = _client(primary)
    base = 100_000
    _mset_many(P, ((f"base:{i}", f"b{i}-" + "y" * (i % 32)) for i in range(base)))
    assert P.dbsize() == base

    stop = threading.Event()
    ops = [0]
    errors: list[BaseException] = []

    def writer():
        rng = random.Random(7)
        w = _client(primary)
        try:
            while not stop.is_set():
                p = w.pipeline(transaction=False)
                for _ in range(20):
                    op = rng.randrange(8)
                    j = rng.randrange(3000)
                    b = f"base:{rng.randrange(base)}"  # keys the snapshot is walking over right now
                    if op == 0:
                        p.set(f"w:{j}", f"v{rng.randrange(10**9)}")
                    elif op == 1:
                        p.incr(f"c:{j}")
                    elif op == 2:
                        p.delete(f"w:{j}")
                    elif op == 3:
                        p.append(f"w:{j}", "+a")
                    elif op == 4:
                        p.set(b, f"changed{rng.randrange(10**9)}")
                    elif op == 5:
                        p.delete(b)
                    elif op == 6:
                        p.append(b, "+z")
                    else:
                        p.incr(f"c:{j}")
                p.execute()
                ops[0] += 20
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        _until(lambda: ops[0] > 200, 5, "the writer to get going")
        before = ops[0]
        assert _client(replica).replicaof(primary.host, primary.port)
        _until(lambda: _link_up(replica), 30, "the full sync to finish")
        during = ops[0] - before
        time.sleep(0.3)  # and some more writes on the live stream
    finally:
        stop.set()
        t.join(10)
    assert not errors, f"writer failed: {errors[0]!r}"
    assert during > 0, "the writer wrote nothing while the full sync ran"
    assert P.wait(1, 5000) == 1
    _assert_same_data(primary, replica)
    assert _client(replica).dbsize() == P.dbsize()


# --- 3. writes propagate ----------------------------------------------------------------------------------------


@pytest.mark.time_limit(30)
def test_writes_propagate_and_wait_counts_the_replica(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    P.set("before", "sync")
    _replicate(replica, primary)

    P.set("s", "hello")
    P.set("n", 10)
    assert P.incr("n") == 11
    assert P.incrby("n", 5) == 16
    assert P.decrby("n", 20) == -4
    assert P.incrbyfloat("f", 1.5) == 1.5
    assert P.append("s", " world") == 11
    P.set("gone", "x")
    assert P.delete("gone") == 1
    P.set("ttl", "x")
    assert P.expire("ttl", 100) is True
    P.set("persisted", "x", ex=100)
    assert P.persist("persisted") is True
    P.mset({"m1": "a", "m2": "b", "m3": "c"})
    assert P.msetnx({"m1": "z", "m4": "d"}) is False
    assert P.getset("m2", "B") == b"b"
    assert P.setrange("m3", 3, "XYZ") == 6
    P.execute_command("SETEX", "sx", 200, "v")
    P.psetex("psx", 300_000, "v")
    assert P.setnx("m1", "no") is False
    assert P.set("m1", "xx", xx=True) is True
    P.set("kept", "1", ex=500)
    assert P.set("kept", "2", keepttl=True) is True
    P.set("m4", "d")
    assert P.rename("m4", "renamed") is True
    P.set("src", "copyme")
    assert P.copy("src", "dst") is True
    assert P.getdel("src") == b"copyme"
    P.set("gx", "v")
    assert P.getex("gx", px=400_000) == b"v"
    P.set("past", "x")
    assert P.pexpireat("past", int(time.time() * 1000) - 1000) is True  # deletes it
    P.set("u", "x")
    assert P.unlink("u") == 1

    assert P.wait(1, 2000) == 1
    _assert_same_data(primary, replica)
    assert R.get("s") == b"hello world" and R.get("n") == b"-4" and R.get("m3") == b"c\x00\x00XYZ"
    assert R.exists("gone", "src", "past", "u") == 0
    for key, lo, hi in (("ttl", 95_000, 100_000), ("sx", 195_000, 200_000), ("psx", 295_000, 300_000),
                        ("kept", 495_000, 500_000), ("gx", 395_000, 400_000)):
        assert lo <= R.pttl(key) <= hi, (key, R.pttl(key))
    assert R.pttl("persisted") == -1 and R.pttl("dst") == -1

    # FLUSHDB and FLUSHALL reach the replica too; WAIT with nothing new to acknowledge answers at once.
    P.flushdb()
    assert P.wait(1, 2000) == 1
    assert R.dbsize() == 0
    P.set("again", "1")
    P.flushall()
    P.set("after-flush", "1")
    assert P.wait(1, 2000) == 1
    assert R.keys("*") == [b"after-flush"]
    # redis-cli sees the same on the replica
    assert redis_cli(replica.port, "GET", "after-flush").stdout == "1\n"


# --- 4. expiry and eviction on the primary ----------------------------------------------------------------------


@pytest.mark.time_limit(30)
def test_expiry_on_the_primary_reaches_the_replica_as_deletes(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    _replicate(replica, primary)
    P.set("stays", "1")
    _set_many(P, ((f"short:{i}", "v", 300) for i in range(500)))
    assert P.wait(1, 2000) == 1
    assert R.dbsize() == 501
    offset_before = int(_info(primary)["master_repl_offset"])
    time.sleep(0.35)
    # No reads of the short keys on either side: the primary's own expiry has to delete them and ship the deletes.
    _until(lambda: R.dbsize() == 1, 5, "the replica's DBSIZE to drop to 1 after the keys expired")
    assert R.get("stays") == b"1"
    assert int(_info(primary)["master_repl_offset"]) > offset_before, "the deletes went through the stream"
    assert int(_client(primary, decode=True).info("stats")["expired_keys"]) == 500
    _offsets_settle(primary, replica)


@pytest.mark.time_limit(30)
def test_replica_hides_expired_keys_while_the_primary_is_unreachable(start_roost):
    """A replica does not delete keys on its own, but it does not serve a key past its expiry time either (Redis
    3.2+): with the primary stopped, GET/EXISTS/PTTL of an expired key answer as if it were gone."""
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    _replicate(replica, primary)
    P.set("short", "v", px=300)
    P.set("long", "v")
    assert P.wait(1, 2000) == 1
    primary.signal(signal.SIGSTOP)
    try:
        time.sleep(0.5)
        assert R.get("short") is None
        assert R.exists("short") == 0
        assert R.pttl("short") == -2
        assert R.get("long") == b"v"
    finally:
        primary.signal(signal.SIGCONT)
    _until(lambda: R.dbsize() == 1, 5, "the primary's delete to arrive")
    assert R.keys("*") == [b"long"]


@pytest.mark.time_limit(40)
def test_eviction_on_the_primary_leaves_the_replica_with_exactly_its_keys(start_roost):
    """The replica has a smaller maxmemory than the primary and an allkeys policy: replicas never evict on their own
    (Redis: replica-ignore-maxmemory yes), so it ends with the primary's key set, not fewer keys."""
    primary = _start(start_roost, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru",
                     "--repl-backlog-size", "64kb")
    replica = _start(start_roost, "--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru")
    P, R = _client(primary), _client(replica)
    _replicate(replica, primary)
    written = 12_000  # ~12 MiB of values into 4 MiB
    _set_many(P, ((f"key:{i}", b"v" * 1000, None) for i in range(written)), batch=100)
    assert P.wait(1, 5000) == 1

    def same_keys():
        pk = set(P.keys("*"))  # Redis may evict before any command while over the limit: WAIT after reading
        assert P.wait(1, 2000) == 1
        rk = set(R.keys("*"))
        return (pk, rk) if pk == rk else None

    pk, rk = _until(same_keys, 10, "the replica's key set to equal the primary's")
    evicted = int(_client(primary, decode=True).info("stats")["evicted_keys"])
    assert evicted > 0 and 500 < len(pk) < written
    assert int(_client(replica, decode=True).info("stats")["evicted_keys"]) == 0
    assert R.get(f"key:{written - 1}") == b"v" * 1000


# --- 5. replicas refuse writes; WAIT ----------------------------------------------------------------------------


@pytest.mark.time_limit(30)
def test_replica_refuses_writes_serves_reads_and_refuses_wait(start_roost, conn_factory):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    P.set("k", "v", ex=100)
    P.set("n", "1")
    _replicate(replica, primary)

    raw = conn_factory(replica)  # the exact bytes on the wire
    for cmd in (("SET", "x", "1"), ("INCR", "n"), ("DEL", "k"), ("EXPIRE", "k", "5"), ("PERSIST", "k"),
                ("APPEND", "k", "x"), ("MSET", "a", "1", "b", "2"), ("FLUSHALL",), ("FLUSHDB",), ("GETDEL", "k")):
        assert raw.call(*cmd) == Frame("-", READONLY.encode()), cmd
    with pytest.raises(redis.exceptions.ReadOnlyError) as refused:
        R.set("x", "1")
    assert str(refused.value) == READONLY_BODY
    cli = redis_cli(replica.port, "SET", "x", "1")
    assert READONLY in cli.stdout + cli.stderr

    # Reads work, on the same connections, and nothing changed.
    assert raw.call("GET", "k") == Frame("$", b"v")
    assert R.get("k") == b"v" and R.get("n") == b"1" and R.exists("x") == 0
    assert 0 < R.ttl("k") <= 100
    assert R.dbsize() == 2
    assert redis_cli(replica.port, "GET", "n").stdout == "1\n"

    # WAIT on a replica is an error, whatever the arguments.
    assert raw.call("WAIT", "0", "0") == Frame("-", b"ERR " + WAIT_ON_REPLICA.encode())
    assert raw.call("WAIT", "1", "10") == Frame("-", b"ERR " + WAIT_ON_REPLICA.encode())
    assert raw.call("PING") == Frame("+", b"PONG")
    assert P.incr("n") == 2  # the primary is unaffected
    assert P.wait(1, 2000) == 1 and R.get("n") == b"2"


@pytest.mark.time_limit(20)
def test_wait_without_replicas_returns_zero_after_its_timeout(start_roost):
    primary = _start(start_roost)
    P = _client(primary)
    P.set("k", "v")
    t0 = time.monotonic()
    assert P.wait(0, 0) == 0
    assert time.monotonic() - t0 < 0.5, "WAIT 0 0 answers at once"
    t0 = time.monotonic()
    assert P.wait(1, 100) == 0
    elapsed = time.monotonic() - t0
    assert 0.09 <= elapsed < 1.0, f"WAIT 1 100 took {elapsed:.3f}s"
    # The connection blocked, it was not closed or confused: the next command on it answers normally.
    assert P.get("k") == b"v"
    # redis-cli too
    t0 = time.monotonic()
    assert redis_cli(primary.port, "WAIT", "1", "150").stdout == "0\n"
    assert time.monotonic() - t0 >= 0.14


# --- 6. partial resync, backlog overflow, CLIENT KILL TYPE replica, PSYNC offsets --------------------------------


@pytest.mark.time_limit(30)
def test_partial_resync_after_the_link_is_killed(start_roost):
    """The replica's link is killed from the primary's side (CLIENT KILL ID of the connection whose last command is
    PSYNC/REPLCONF) while the replica process is stopped, keys are written meanwhile, then the replica resumes: it
    reconnects with PSYNC <id> <offset> and gets only the missing bytes from the backlog."""
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    _mset_many(P, ((f"old:{i}", str(i)) for i in range(1000)))
    _replicate(replica, primary)
    replid = _info(replica)["master_replid"]
    full_syncs = replica.log(1 << 20).count(_full_line())
    assert full_syncs == 1

    ids = _link_client_ids(primary)
    assert len(ids) == 1, _client(primary, decode=True).client_list()
    replica.signal(signal.SIGSTOP)
    try:
        assert P.client_kill_filter(_id=ids[0]) == 1
        _until(lambda: int(_info(primary)["connected_slaves"]) == 0, 5, "the primary to drop the replica")
        for i in range(20):
            P.set(f"new:{i}", f"during-{i}")
        P.delete("old:0")
        P.incr("old:1")
    finally:
        replica.signal(signal.SIGCONT)

    assert P.wait(1, 5000) == 1
    _until(lambda: _partial_line() in replica.log(1 << 20), 5, "the replica to log a partial resync")
    log = replica.log(1 << 20)
    assert log.count(_full_line()) == full_syncs, "no second full sync"
    if not target_is_redis():
        assert "decision=partial(" in primary.log(1 << 20)
    assert _info(replica)["master_replid"] == replid
    assert R.mget([f"new:{i}" for i in range(20)]) == [f"during-{i}".encode() for i in range(20)]
    assert R.exists("old:0") == 0 and R.get("old:1") == b"2"
    _assert_same_data(primary, replica)
    _offsets_settle(primary, replica)


@pytest.mark.time_limit(30)
def test_disconnect_longer_than_the_backlog_falls_back_to_a_full_sync(start_roost):
    primary = _start(start_roost, "--repl-backlog-size", "16kb")
    replica = _start(start_roost)
    P, R = _client(primary), _client(replica)
    _mset_many(P, ((f"old:{i}", str(i)) for i in range(1000)))
    _replicate(replica, primary)
    assert _info(primary)["repl_backlog_size"] == str(16 * 1024)
    assert replica.log(1 << 20).count(_full_line()) == 1

    ids = _link_client_ids(primary)
    assert len(ids) == 1
    replica.signal(signal.SIGSTOP)
    try:
        assert P.client_kill_filter(_id=ids[0]) == 1
        _until(lambda: int(_info(primary)["connected_slaves"]) == 0, 5, "the primary to drop the replica")
        _set_many(P, ((f"big:{i}", b"z" * 1000, None) for i in range(100)))  # ~100 KiB past a 16 KiB backlog
        P.delete("old:5")
    finally:
        replica.signal(signal.SIGCONT)

    assert P.wait(1, 10_000) == 1
    _until(lambda: replica.log(1 << 20).count(_full_line()) == 2, 5, "the replica to log a second full sync")
    assert _partial_line() not in replica.log(1 << 20)
    if not target_is_redis():
        assert primary.log(1 << 20).count("decision=full(") == 2
    _until(lambda: _link_up(replica), 5, "the link to come up")
    _assert_same_data(primary, replica)
    assert R.dbsize() == 1000 - 1 + 100


@pytest.mark.time_limit(20)
def test_client_list_and_kill_type_replica_see_the_replication_link(start_roost):
    """CLIENT LIST shows a replica's connection with flag S (on the primary) and the primary's with flag M (on the
    replica); `CLIENT LIST TYPE replica`, `CLIENT KILL TYPE replica` (and `TYPE master` on the replica) select them.
    Fails against Roost: its replication connections carry flags=N and the TYPE filters never match them."""
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary, decode=True), _client(replica, decode=True)
    _replicate(replica, primary)

    links = P.client_list(_type="replica")
    assert len(links) == 1, P.client_list()
    assert links[0]["flags"] == "S"
    masters = R.client_list(_type="master")
    assert len(masters) == 1 and masters[0]["flags"] == "M", R.client_list()

    assert P.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    _until(lambda: _link_up(replica) and P.wait(1, 1000) == 1, 10, "the replica to reconnect")
    P.set("after", "kill")
    assert P.wait(1, 2000) == 1 and R.get("after") == "kill"
    assert R.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    _until(lambda: _link_up(replica) and P.wait(1, 1000) == 1, 10, "the replica to reconnect")


@pytest.mark.time_limit(20)
def test_psync_offsets_follow_redis_conventions(start_roost):
    """The offset in `PSYNC <replid> <offset>` is the first byte the replica still needs, i.e. its
    master_repl_offset + 1 (Redis: replica sends `PSYNC id offset+1`; the primary accepts offsets in
    [repl_backlog_first_byte_offset, master_repl_offset + 1]). A raw client acting as a replica that asks for
    master_repl_offset + 1 must get +CONTINUE and a stream that starts on a command boundary. After REPLICAOF NO ONE,
    second_repl_offset is the old master_repl_offset + 1 (the first PSYNC offset the old ID no longer covers).
    The primary's periodic PING is pushed out of the test's window (a PING landing between reading the replica's
    offset and REPLICAOF NO ONE moved it by 14 bytes in one CI run)."""
    primary = _start(start_roost, "--repl-ping-replica-period", "3600")
    replica = _start(start_roost)
    P = _client(primary)
    P.set("a", "1")
    _replicate(replica, primary)
    P.set("b", "1")
    offset = _offsets_settle(primary, replica)
    replid = _info(primary)["master_replid"]
    P.set("probe", "value")  # in the backlog after `offset`: asking for offset + 1 must start with it
    P.set("c", "1")
    _offsets_settle(primary, replica)
    p = _info(primary)
    assert int(p["repl_backlog_first_byte_offset"]) <= offset + 1 <= int(p["master_repl_offset"])

    c = RespConnection(primary.host, primary.port, timeout=5)
    try:
        assert c.call("REPLCONF", "listening-port", "1") == Frame("+", b"OK")
        assert c.call("REPLCONF", "capa", "eof", "capa", "psync2") == Frame("+", b"OK")
        reply = c.call("PSYNC", replid, str(offset + 1))
        assert reply == Frame("+", f"CONTINUE {replid}".encode())
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                f = c.read_reply(timeout=deadline - time.monotonic())
            except ProtocolViolation as e:
                raise AssertionError(f"the stream after +CONTINUE does not start on a command boundary: {e}")
            assert f.kind == "*", f"stream item is not a command: {f!r}"
            seen.append([x.value for x in f.value])
            if any(b"probe" in cmd for cmd in seen):
                break
        assert any(cmd[:2] == [b"SET", b"probe"] for cmd in seen), seen
    finally:
        c.close()

    R = _client(replica)
    _offsets_settle(primary, replica)
    old = int(_info(replica)["master_repl_offset"])
    assert R.replicaof("NO", "ONE")
    r = _info(replica)
    assert r["master_replid2"] == replid
    assert int(r["second_repl_offset"]) == old + 1


# --- 7. promotion -----------------------------------------------------------------------------------------------


@pytest.mark.time_limit(30)
def test_replicaof_no_one_promotes_and_the_old_primary_follows(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    _mset_many(P, ((f"k:{i}", str(i)) for i in range(2000)))
    _replicate(replica, primary)
    old_id = _info(primary)["master_replid"]
    assert _info(replica)["master_replid"] == old_id

    assert R.replicaof("NO", "ONE")
    r = _info(replica)
    assert r["role"] == "master"
    assert r["master_replid2"] == old_id
    assert r["master_replid"] != old_id and re.fullmatch(r"[0-9a-f]{40}", r["master_replid"])
    assert int(r["second_repl_offset"]) >= 0  # its exact value: test_psync_offsets_follow_redis_conventions
    assert R.execute_command("ROLE")[0] == b"master"
    assert R.set("promoted", "yes") is True
    assert R.incr("k:1") == 2
    assert R.delete("k:2") == 1
    assert R.wait(0, 0) == 0

    # The old primary follows the new one: the data flows the other way.
    assert P.replicaof(replica.host, replica.port)
    _until(lambda: _link_up(primary), 10, "the old primary to sync from the new one")
    assert R.wait(1, 5000) == 1
    assert P.get("promoted") == b"yes" and P.get("k:1") == b"2" and P.exists("k:2") == 0
    with pytest.raises(redis.exceptions.ReadOnlyError):
        P.set("x", "1")
    R.set("later", "1")
    assert R.wait(1, 2000) == 1
    assert P.get("later") == b"1"
    _assert_same_data(replica, primary)
    p = _info(primary)
    assert p["role"] == "slave" and p["master_port"] == str(replica.port)
    assert _info(replica)["connected_slaves"] == "1"


# --- 8. restart, and serving during a large full sync -----------------------------------------------------------


@pytest.mark.time_limit(40)
def test_replica_restarted_with_kill_9_converges(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P = _client(primary)
    _mset_many(P, ((f"k:{i}", str(i)) for i in range(20_000)))
    _replicate(replica, primary)

    replica.signal(signal.SIGKILL)
    assert replica.wait(5) == -signal.SIGKILL
    _until(lambda: _info(primary)["connected_slaves"] == "0", 10, "the primary to notice the dead replica")
    assert P.wait(1, 100) == 0
    P.delete(*[f"k:{i}" for i in range(100)])
    _mset_many(P, ((f"new:{i}", str(i)) for i in range(500)))

    restarted = _start(start_roost)
    assert _client(restarted).dbsize() == 0
    _replicate(restarted, primary)
    _assert_same_data(primary, restarted)
    assert _client(restarted).dbsize() == 20_000 - 100 + 500
    p = _info(primary)
    assert p["connected_slaves"] == "1" and _fields(p["slave0"])["port"] == str(restarted.port)


@pytest.mark.time_limit(60)
def test_primary_keeps_serving_clients_during_a_large_full_sync(start_roost):
    """While a 200k-key snapshot streams to a replica, the primary's other clients are served: every GET+SET of a
    client polling the primary takes less than 1 s. Roost's primary runs with one event loop here, so that the
    client shares it with the replica's connection every time (with several loops it does only by chance; Redis has
    one thread anyway)."""
    primary = _start(start_roost, *([] if target_is_redis() else ["--event-loops", "1"]))
    replica = _start(start_roost)
    P = _client(primary)
    n = 200_000
    _mset_many(P, ((f"k:{i}", f"value-{i:08d}") for i in range(n)))
    assert P.dbsize() == n

    client = _client(primary)
    worst = 0.0
    samples = 0
    assert _client(replica).replicaof(primary.host, primary.port)
    deadline = time.monotonic() + 40
    i = 0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        assert client.get(f"k:{i}") == f"value-{i:08d}".encode()
        assert client.set(f"live:{i}", i) is True
        worst = max(worst, time.monotonic() - t0)
        samples += 1
        i += 1
        if _link_up(replica):
            break
        time.sleep(0.005)
    assert _link_up(replica), "the full sync did not finish in 40 s"
    assert samples >= 3
    assert worst < 1.0, f"a GET+SET took {worst:.3f}s during the full sync"
    assert P.wait(1, 5000) == 1
    assert _client(replica).dbsize() == P.dbsize() == n + i
    assert _client(replica).get(f"live:{i - 1}") == str(i - 1).encode()


# --- 9. bad input -----------------------------------------------------------------------------------------------


@pytest.mark.time_limit(20)
def test_bad_replication_command_input_gets_clear_errors(start_roost, conn_factory):
    """Errors are Redis's texts. `WAIT -1 0` is not an error in Redis (a negative replica count is already reached:
    it answers 0), so it is checked as such."""
    primary = _start(start_roost)
    c = conn_factory(primary)
    c.call("SET", "k", "v")

    def err(text: str) -> Frame:
        return Frame("-", text.encode())

    cases = [
        (("PSYNC", "?", "abc"), err("ERR value is not an integer or out of range")),
        (("PSYNC", "?"), err("ERR wrong number of arguments for 'psync' command")),
        (("REPLCONF", "listening-port"), err("ERR syntax error")),
        (("REPLCONF", "listening-port", "1", "capa"), err("ERR syntax error")),
        (("REPLCONF", "no-such-option", "1"), err("ERR Unrecognized REPLCONF option: no-such-option")),
        (("REPLCONF", "listening-port", "notaport"), err("ERR value is not an integer or out of range")),
        (("REPLICAOF", "127.0.0.1", "notaport"), err("ERR Invalid master port")),
        (("REPLICAOF", "127.0.0.1", "70000"), err("ERR Invalid master port")),
        (("REPLICAOF", "127.0.0.1"), err("ERR wrong number of arguments for 'replicaof' command")),
        (("SLAVEOF", "127.0.0.1", "-1"), err("ERR Invalid master port")),
        (("WAIT", "1", "-1"), err("ERR timeout is negative")),
        (("WAIT", "x", "0"), err("ERR value is not an integer or out of range")),
        (("WAIT", "1", "y"), err("ERR timeout is not an integer or out of range")),
        (("WAIT", "1"), err("ERR wrong number of arguments for 'wait' command")),
        (("WAIT", "-1", "0"), Frame(":", 0)),
    ]
    got = []
    for cmd, want in cases:
        reply = c.call(*cmd)
        got.append((cmd, reply))
        assert c.call("PING") == Frame("+", b"PONG"), f"connection unusable after {cmd}"
    wrong = [(cmd, reply, want) for (cmd, reply), (_, want) in zip(got, cases) if reply != want]
    assert not wrong, "\n".join(f"{cmd}: got {reply!r}, want {want!r}" for cmd, reply, want in wrong)

    # Nothing changed: still a primary with its data, serving other clients.
    assert c.call("GET", "k") == Frame("$", b"v")
    assert c.call("ROLE").value[0] == Frame("$", b"master")
    assert _info(primary)["role"] == "master"
    assert redis_cli(primary.port, "GET", "k").stdout == "v\n"
    assert primary.alive()


@pytest.mark.time_limit(60)
def test_a_replica_that_stops_reading_is_disconnected_at_its_output_limit(start_roost):
    """A connection that asks for the stream (PSYNC) and never reads it is closed once its unsent stream passes the
    replica class of client-output-buffer-limit; the primary's memory stays bounded and its clients are served."""
    primary = _start(start_roost, "--client-output-buffer-limit", "replica 1mb 0 0")
    P = _client(primary)
    _set_many(P, ((f"seed:{i}", "x" * 100, None) for i in range(2000)))
    import socket
    stalled = socket.create_connection(("127.0.0.1", primary.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$1\r\n1\r\n")
    assert stalled.recv(16) == b"+OK\r\n"  # Redis refuses PSYNC while a reply is still unsent
    stalled.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    def replica_links():
        return redis_cli(primary.port, "client", "list", "type", "replica").stdout.strip()

    _until(lambda: replica_links() != "", 10, "the stalled replica to attach")
    rss_before = primary.rss_kib()
    value = "v" * 10_000
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _set_many(P, ((f"big:{i % 500}", value, None) for i in range(500)))  # 5 MB of stream per round
        if replica_links() == "":
            break
    else:
        pytest.fail("the replica that never reads was not disconnected")
    assert P.ping()
    assert primary.rss_kib() - rss_before < 64 * 1024, "the primary's memory grew with the unread stream"
    stalled.close()


@pytest.mark.time_limit(20)
def test_the_internal_item_record_is_refused_from_clients(start_roost):
    """Roost's replication stream carries memcached items as ITEMSET records; a client sending one gets Redis's
    unknown-command error and nothing is stored."""
    server = _start(start_roost)
    r = _client(server, decode=True)
    with pytest.raises(redis.ResponseError, match=r"^unknown command 'ITEMSET', with args beginning with: 'k' 'v' '1' '0' $"):
        r.execute_command("ITEMSET", "k", "v", "1", "0")
    assert r.exists("k") == 0
