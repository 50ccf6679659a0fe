"""Transactions (issue 9) against real roostd processes: redis-py pipelines with transaction=True, WATCH races
between clients (optimistic-locking counters from several threads end exact), EXEC atomic for readers on other
connections and event loops and on a replica, WATCH aborted by another client's write, by expiry, by eviction, by
FLUSHALL and by a memcached-port write, CLIENT LIST's multi= count, and cluster-mode CROSSSLOT/MOVED.

Every test but the roostd-only ones (memcached port, cluster) also passes against redis-server
(ROOSTD=/usr/bin/redis-server)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
import redis

from servers import free_port, redis_cli, target_is_redis

pytestmark = pytest.mark.time_limit(90)


def _redis(server, **kw) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=10, **kw)


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_pipeline_transaction_runs_all_and_runtime_errors_do_not_abort(roost):
    r = _redis(roost)
    r.set("text", "abc")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).incr("a").incr("text").append("text", "d").get("text")
    results = pipe.execute(raise_on_error=False)
    assert results[:2] == [True, 2]
    assert isinstance(results[2], redis.ResponseError) and "not an integer" in str(results[2])
    assert results[3:] == [4, b"abcd"]
    # A queue-time error (unknown command) aborts everything.
    pipe = r.pipeline(transaction=True)
    pipe.set("b", 1).execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError, match="EXECABORT|unknown command"):
        pipe.execute()
    assert r.exists("b") == 0


def test_watch_race_between_two_clients(roost):
    a, b = _redis(roost), _redis(roost)
    a.set("balance", 10)
    with a.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        b.set("balance", 100)  # another client changes it between WATCH and EXEC
        pipe.multi()
        pipe.set("balance", current - 1)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert a.get("balance") == b"100"
    # Unchanged: the transaction runs.
    with a.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", current - 1)
        assert pipe.execute() == [True]
    assert a.get("balance") == b"99"


def test_optimistic_counters_from_many_threads_end_exact(roost):
    """Each thread adds to a counter with WATCH/GET/MULTI/SET/EXEC, retrying on WatchError: lost updates would
    show if a change between WATCH and EXEC went unnoticed, or if EXEC were not atomic."""
    threads, per_thread = 6, 60
    aborted = [0]

    def work():
        r = _redis(roost)
        for _ in range(per_thread):
            while True:
                with r.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch("counter")
                        value = int(pipe.get("counter") or 0)
                        pipe.multi()
                        pipe.set("counter", value + 1)
                        pipe.execute()
                        break
                    except redis.WatchError:
                        aborted[0] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert int(_redis(roost).get("counter")) == threads * per_thread
    assert aborted[0] > 0, "no WATCH ever fired: the race this test needs did not happen"


def _never_torn(writer_server, reader_server, rounds: int, readers: int = 3) -> int:
    """A writer EXECs `INCR x; INCR y` while readers MGET x y; returns the number of reads (all must be equal)."""
    stop = threading.Event()
    torn = []
    reads = [0]

    def reader():
        r = _redis(reader_server)
        while not stop.is_set():
            x, y = r.mget("x", "y")
            reads[0] += 1
            if (x or b"0") != (y or b"0"):
                torn.append((x, y))

    pool = [threading.Thread(target=reader) for _ in range(readers)]
    for t in pool:
        t.start()
    w = _redis(writer_server)
    try:
        for _ in range(rounds):
            pipe = w.pipeline(transaction=True)
            pipe.incr("x").set("pad", "p" * 100).incr("y")
            pipe.execute()
    finally:
        stop.set()
        for t in pool:
            t.join(10)
    assert not torn, f"a reader saw part of a transaction: {torn[:5]}"
    return reads[0]


def test_exec_is_atomic_for_readers_on_other_connections(roost):
    reads = _never_torn(roost, roost, rounds=1500)
    assert reads > 100
    assert _redis(roost).mget("x", "y") == [b"1500", b"1500"]


def test_exec_is_replicated_as_a_unit(start_roost):
    primary = start_roost("--loglevel", "warning", *(["--repl-diskless-sync-delay", "0"] if target_is_redis() else []))
    replica = start_roost("--loglevel", "warning")
    assert _redis(replica).replicaof(primary.host, primary.port)
    _redis(primary).set("ready", 1)
    _wait(lambda: _redis(replica).get("ready") == b"1", 15, "the replica to sync")
    reads = _never_torn(primary, replica, rounds=1000)
    assert reads > 50
    _wait(lambda: _redis(replica).mget("x", "y") == [b"1000", b"1000"], 10, "the replica to catch up")


def _aborted(r, key, change) -> bool:
    with r.pipeline(transaction=True) as pipe:
        pipe.watch(key)
        change()
        pipe.multi()
        pipe.set("after", 1)
        try:
            pipe.execute()
            return False
        except redis.WatchError:
            return True


def test_watch_is_aborted_by_expiry_flushall_and_eviction(start_roost):
    server = start_roost("--loglevel", "warning")
    r, other = _redis(server), _redis(server)
    r.set("exp", 1, px=100)
    assert _aborted(r, "exp", lambda: time.sleep(0.3))
    r.set("gone", 1)
    assert _aborted(r, "gone", lambda: other.flushall())
    assert not _aborted(r, "never-existed", lambda: other.flushall())
    assert not _aborted(r, "quiet", lambda: other.set("unrelated", 1))
    # Eviction: a small maxmemory and a flood of other keys evicts the watched one.
    other.config_set("maxmemory-policy", "allkeys-random")
    r.set("victim", "v" * 1000)
    used = int(other.info("memory")["used_memory"])
    other.config_set("maxmemory", used + 200_000)

    def flood():
        for i in range(3000):
            other.set(f"fill:{i}", "f" * 1000)

    assert _aborted(r, "victim", flood)
    assert r.exists("victim") == 0, "the watched key was not evicted; the test proved nothing"


def test_watch_is_aborted_by_a_memcached_write(start_roost):
    if target_is_redis():
        pytest.skip("redis-server has no memcached port")
    mc_port = free_port()
    server = start_roost("--loglevel", "warning", "--memcached-port", str(mc_port))
    r = _redis(server)
    r.set("mc:key", "v")

    def memcached_set():
        with socket.create_connection((server.host, mc_port), timeout=5) as mc:
            mc.sendall(b"set mc:key 0 0 5\r\nhello\r\n")
            assert mc.recv(64) == b"STORED\r\n"

    assert _aborted(r, "mc:key", memcached_set)
    assert r.get("mc:key") == b"hello"


def test_client_list_shows_the_queue_length(roost):
    r = _redis(roost)
    conn = _redis(roost, single_connection_client=True)
    conn.client_setname("queuer")
    conn.execute_command("MULTI")
    conn.execute_command("SET", "q", 1)
    conn.execute_command("GET", "q")
    mine = next(c for c in r.client_list() if c["name"] == "queuer")
    assert mine["multi"] == "2" and "x" in mine["flags"]
    assert conn.execute_command("EXEC") == [b"OK", b"1"]
    mine = next(c for c in r.client_list() if c["name"] == "queuer")
    assert mine["multi"] == "-1"


@pytest.mark.time_limit(150)
def test_cluster_transactions_need_one_slot(start_roost, tmp_path):
    if target_is_redis():
        pytest.skip("starts roostd cluster nodes")
    from test_cluster import start_node, wait_until
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    create = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                             "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    assert wait_until(lambda: all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok")
                                  for n in nodes), 30)
    slot = int(redis_cli(nodes[0].port, "cluster", "keyslot", "{u}a").stdout)
    owner = next(n for n in nodes if redis_cli(n.port, "set", "{u}probe", "1").stdout.strip() == "OK")
    other = next(n for n in nodes if n is not owner)
    conn = _redis(owner, single_connection_client=True)
    # Same slot: runs.
    conn.execute_command("MULTI")
    conn.execute_command("SET", "{u}a", 1)
    conn.execute_command("INCR", "{u}b")
    assert conn.execute_command("EXEC") == [b"OK", 1]
    # Two slots of this node in one transaction: each command is fine alone, so both are queued; EXEC refuses
    # them together with CROSSSLOT and runs nothing.
    tag = next(f"t{i}" for i in range(2000)
               if int(redis_cli(owner.port, "cluster", "keyslot", f"{{t{i}}}").stdout) != slot
               and redis_cli(owner.port, "set", f"{{t{i}}}probe", "1").stdout.strip() == "OK")
    conn.execute_command("MULTI")
    conn.execute_command("SET", "{u}c", 1)  # queued (no error)
    conn.execute_command("SET", f"{{{tag}}}d", 1)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        conn.execute_command("EXEC")
    assert conn.execute_command("PING")  # the transaction was discarded
    assert _redis(owner).exists("{u}c") == 0
    # A key of another node's slot is refused at queue time, and EXEC then aborts.
    raw = _redis(other, single_connection_client=True)
    raw.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match=f"{slot} 127.0.0.1:{owner.port}"):
        raw.execute_command("SET", "{u}e", 1)
    with pytest.raises(redis.exceptions.ExecAbortError, match="Transaction discarded because of previous errors"):
        raw.execute_command("EXEC")
