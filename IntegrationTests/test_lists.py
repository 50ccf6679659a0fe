"""Lists (issue 9) against real roostd processes: blocking pops with several real redis-py clients — fair FIFO
wake-up (five clients blocked on one key get one element each, in the order they blocked), BRPOP from several keys,
timeouts (fractional seconds, null replies), BLMOVE served by a push and chained into another blocked client, a
client killed while blocked is forgotten (the next element goes to the next client), pushes from a connection on
another event loop (roostd runs four here; NIO hands connections to its loops in turn), INFO blocked_clients, MULTI
never blocks; memory back to its baseline after DEL and expiry; LISTSTATE refused from clients.

The blocking tests also pass against redis-server (ROOSTD=/usr/bin/redis-server)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import redis

from servers import target_is_redis

pytestmark = pytest.mark.time_limit(90)


def _redis(server, **kw) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=15, **kw)


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _blocked(r: redis.Redis) -> int:
    return int(r.info("clients")["blocked_clients"])


@pytest.fixture
def server(start_roost):
    if target_is_redis():
        return start_roost("--loglevel", "warning")
    return start_roost("--loglevel", "warning", "--event-loops", "4")


def _block_in_order(server, control, count, command):
    """Starts `count` clients, each blocking with `command(client)` once the previous one is blocked; returns the
    threads and the results list (index = blocking order)."""
    results: list = [None] * count
    threads = []
    for index in range(count):
        client = _redis(server)

        def run(index=index, client=client):
            results[index] = command(client)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        _wait(lambda: _blocked(control) == index + 1, 5, f"client {index} to block")
    return threads, results


def test_five_clients_blocked_on_one_key_each_get_one_in_blocking_order(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 5, lambda c: c.blpop(["queue"], timeout=0))
    # The pusher is a sixth connection: with four event loops it sits on another loop than most blockers.
    pusher = _redis(server)
    assert pusher.rpush("queue", "e0", "e1", "e2", "e3", "e4") == 5
    for thread in threads:
        thread.join(10)
    assert results == [(b"queue", f"e{i}".encode()) for i in range(5)]
    assert control.exists("queue") == 0
    assert _blocked(control) == 0


def test_one_element_per_push_serves_the_oldest_waiter_first(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 3, lambda c: c.brpop(["a", "b"], timeout=0))
    pusher = _redis(server)
    pusher.lpush("b", "first")
    _wait(lambda: results[0] is not None, 5, "the first waiter")
    assert results[0] == (b"b", b"first") and results[1] is None and results[2] is None
    pusher.lpush("a", "second")
    pusher.lpush("b", "third")
    for thread in threads:
        thread.join(10)
    assert results[1] == (b"a", b"second") and results[2] == (b"b", b"third")


def test_rename_and_copy_onto_a_blocked_key_serve_its_waiters(server):
    """As in Redis, a list or sorted set that arrives under a key by RENAME or COPY wakes the clients blocked on
    that key (not only pushes do)."""
    control = _redis(server)
    threads, results = _block_in_order(server, control, 2, lambda c: c.blpop(["dst"], timeout=10))
    writer = _redis(server)
    writer.rpush("src", "a", "b")
    assert writer.rename("src", "dst")
    for thread in threads:
        thread.join(10)
    assert results == [(b"dst", b"a"), (b"dst", b"b")]
    threads, results = _block_in_order(server, control, 1, lambda c: c.bzpopmin(["zdst"], timeout=10))
    writer.zadd("zsrc", {"m": 1.5})
    assert writer.copy("zsrc", "zdst")
    threads[0].join(10)
    assert results[0] == (b"zdst", b"m", 1.5)
    assert writer.zcard("zsrc") == 1 and writer.exists("zdst") == 0


def test_timeouts_reply_null_after_about_the_timeout(server):
    r = _redis(server)
    start = time.monotonic()
    assert r.blpop(["nothing"], timeout=0.3) is None
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 2.0
    start = time.monotonic()
    assert r.blmove("nothing", "dst", 0.2, "LEFT", "RIGHT") is None
    assert 0.15 <= time.monotonic() - start < 2.0
    assert r.exists("dst") == 0
    assert _blocked(r) == 0
    # Still usable afterwards; a timed-out waiter does not take a later element.
    r.rpush("later", "x")
    assert r.lpop("later") == b"x"


def test_blmove_served_by_a_push_chains_into_a_client_blocked_on_the_destination(server):
    control = _redis(server)
    mover_result = {}
    mover = _redis(server)
    mover_thread = threading.Thread(
        target=lambda: mover_result.setdefault("v", mover.blmove("src", "dst", 0, "RIGHT", "LEFT")), daemon=True)
    mover_thread.start()
    _wait(lambda: _blocked(control) == 1, 5, "BLMOVE to block")
    popper_result = {}
    popper = _redis(server)
    popper_thread = threading.Thread(
        target=lambda: popper_result.setdefault("v", popper.blpop(["dst"], timeout=0)), daemon=True)
    popper_thread.start()
    _wait(lambda: _blocked(control) == 2, 5, "BLPOP to block")
    control.rpush("src", "x", "y")
    mover_thread.join(10)
    popper_thread.join(10)
    assert mover_result["v"] == b"y"
    assert popper_result["v"] == (b"dst", b"y")
    assert control.lrange("src", 0, -1) == [b"x"]
    assert control.exists("dst") == 0


def test_a_client_killed_while_blocked_is_forgotten(server):
    control = _redis(server)
    raw = socket.create_connection((server.host, server.port), timeout=5)
    raw.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\njobs\r\n$1\r\n0\r\n")
    _wait(lambda: _blocked(control) == 1, 5, "the raw client to block")
    threads, results = [], [None]
    survivor = _redis(server)

    def run():
        results[0] = survivor.blpop(["jobs"], timeout=0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _wait(lambda: _blocked(control) == 2, 5, "the second client to block")
    raw.close()
    _wait(lambda: _blocked(control) == 1, 5, "the closed client to be forgotten")
    control.rpush("jobs", "only")
    thread.join(10)
    assert results[0] == (b"jobs", b"only")
    assert control.exists("jobs") == 0


def test_multi_runs_blocking_pops_without_blocking(server):
    r = _redis(server)
    pipe = r.pipeline(transaction=True)
    pipe.blpop(["empty"], timeout=0).blmove("empty", "d", 0, "LEFT", "LEFT").rpush("empty", "v")
    pipe.brpop(["empty"], timeout=0)
    assert pipe.execute() == [None, None, 1, (b"empty", b"v")]


def test_a_push_inside_exec_serves_a_blocked_client_after_exec(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 1, lambda c: c.blpop(["tq"], timeout=0))
    pipe = control.pipeline(transaction=True)
    pipe.rpush("tq", "a", "b").llen("tq")
    assert pipe.execute() == [2, 2]  # the waiter is served after EXEC, not between its commands
    threads[0].join(10)
    assert results[0] == (b"tq", b"a")
    assert control.lrange("tq", 0, -1) == [b"b"]


@pytest.mark.skipif(target_is_redis(), reason="roostd's memory accounting")
def test_memory_returns_to_baseline_after_del_and_expiry(server):
    r = _redis(server)
    r.set("warm", "x")
    r.delete("warm")
    baseline = int(r.info("memory")["used_memory"])
    for round_ in range(2):
        r.rpush("big", *[f"element-{i}" * 4 for i in range(2000)])
        grown = int(r.info("memory")["used_memory"])
        assert grown > baseline + 2000 * 40
        r.lpop("big", 1500)
        assert int(r.info("memory")["used_memory"]) < grown
        if round_ == 0:
            r.delete("big")
        else:
            r.pexpire("big", 50)
            time.sleep(0.1)
            assert r.exists("big") == 0
        _wait(lambda: int(r.info("memory")["used_memory"]) == baseline, 5, "used_memory back to its baseline")


@pytest.mark.skipif(target_is_redis(), reason="roostd's LISTSTATE record")
def test_liststate_is_refused_from_clients(server):
    r = _redis(server)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("LISTSTATE", "k", "0", "a")


@pytest.mark.skipif(target_is_redis(), reason="roostd's replication records and memcached port")
def test_lists_replicate_by_full_sync_and_stream_including_served_blocking_pops(start_roost):
    primary = start_roost("--loglevel", "warning", name="primary")
    replica = start_roost("--loglevel", "warning", name="replica")
    P, R = _redis(primary), _redis(replica)
    P.rpush("before", "a", "b", "c")  # reaches the replica in the full sync
    P.pexpire("before", 100_000)
    assert R.replicaof(primary.host, primary.port)
    _wait(lambda: R.info("replication").get("master_link_status") == "up", 15, "the replica link")
    threads, results = _block_in_order(primary, P, 1, lambda c: c.blmove("q", "moved", 0, "LEFT", "RIGHT"))
    P.rpush("q", "x", "y")
    threads[0].join(10)
    assert results[0] == b"x"
    P.lpush("after", "1", "2")
    P.linsert("after", "BEFORE", "1", "mid")
    assert P.wait(1, 10_000) >= 1
    _wait(lambda: R.lrange("after", 0, -1) == [b"2", b"mid", b"1"], 10, "the stream")
    assert R.lrange("before", 0, -1) == [b"a", b"b", b"c"] and R.pttl("before") > 0
    assert R.lrange("q", 0, -1) == [b"y"]
    assert R.lrange("moved", 0, -1) == [b"x"]
    P.delete("after")
    assert P.wait(1, 10_000) >= 1
    _wait(lambda: R.exists("after") == 0, 10, "the delete")


@pytest.mark.skipif(target_is_redis(), reason="roostd's memcached port")
def test_the_memcached_port_sees_a_list_as_a_miss_and_set_replaces_it(start_roost):
    from servers import free_port
    mc_port = free_port()
    server = start_roost("--loglevel", "warning", "--memcached-port", str(mc_port))
    r = _redis(server)
    r.rpush("k", "a")
    with socket.create_connection((server.host, mc_port), timeout=5) as mc:
        def ask(line: bytes) -> bytes:
            mc.sendall(line)
            time.sleep(0.05)
            return mc.recv(4096)
        assert ask(b"get k\r\n") == b"END\r\n"
        assert ask(b"add k 0 0 1\r\nv\r\n") == b"NOT_STORED\r\n"
        assert r.type("k") == b"list"
        assert ask(b"set k 0 0 1\r\nv\r\n") == b"STORED\r\n"
    assert r.get("k") == b"v"


def test_watch_is_aborted_by_a_push_and_not_by_an_unrelated_key(server):
    control = _redis(server)
    control.rpush("w", "a")
    watcher = _redis(server)
    pipe = watcher.pipeline(transaction=True)
    pipe.watch("w")
    control.lpush("w", "b")
    pipe.multi()
    pipe.llen("w")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    # After a served blocking pop, a watch taken then is not aborted by a write to another key.
    control.delete("w")
    threads, results = _block_in_order(server, control, 1, lambda c: c.blpop(["w"], timeout=0))
    pipe = watcher.pipeline(transaction=True)
    control.rpush("w", "x", "y")
    threads[0].join(10)
    pipe.watch("w")
    control.rpush("w2", "unrelated")
    pipe.multi()
    pipe.lrange("w", 0, -1)
    assert pipe.execute() == [[b"y"]]
