"""Sorted sets (issue 9) against real roostd processes: BZPOPMIN/BZPOPMAX with several real redis-py clients — fair
FIFO wake-up (five clients blocked on one key each get one member, in the order they blocked, lowest scores first),
several keys per client, timeouts (null replies after about the timeout), a ZUNIONSTORE that writes a blocked key
serves its waiter, a ZADD inside EXEC serves after EXEC, a list push does not serve a sorted-set waiter, pushes from
connections on other event loops (roostd runs four here).

These tests also pass against redis-server (ROOSTD=/usr/bin/redis-server)."""

from __future__ import annotations

import time

import pytest

from test_lists import _block_in_order, _blocked, _redis, _wait, server  # noqa: F401 (server is a fixture)

pytestmark = pytest.mark.time_limit(90)


def test_five_clients_blocked_on_one_key_each_get_one_member_in_blocking_order(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 5, lambda c: c.bzpopmin(["board"], timeout=0))
    pusher = _redis(server)
    # Scores in the reverse of insertion order: each waiter gets the lowest member left.
    assert pusher.zadd("board", {f"m{i}": 10 - i for i in range(5)}) == 5
    for thread in threads:
        thread.join(10)
    assert results == [(b"board", f"m{4 - i}".encode(), float(6 + i)) for i in range(5)]
    assert control.exists("board") == 0
    assert _blocked(control) == 0


def test_one_member_per_write_serves_the_oldest_waiter_first_across_keys(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 3, lambda c: c.bzpopmax(["x", "y"], timeout=0))
    pusher = _redis(server)
    pusher.zadd("y", {"first": 1})
    _wait(lambda: results[0] is not None, 5, "the first waiter")
    assert results[0] == (b"y", b"first", 1.0) and results[1] is None and results[2] is None
    # A list on a key a sorted-set waiter watches does not serve it.
    pusher.rpush("x", "not-a-zset")
    time.sleep(0.2)
    assert results[1] is None and _blocked(control) == 2
    pusher.delete("x")
    pusher.zadd("x", {"low": 1, "high": 2})
    for thread in threads:
        thread.join(10)
    assert results[1] == (b"x", b"high", 2.0) and results[2] == (b"x", b"low", 1.0)


def test_timeouts_reply_null_after_about_the_timeout(server):
    r = _redis(server)
    start = time.monotonic()
    assert r.bzpopmin(["nothing"], timeout=0.3) is None
    assert 0.25 <= time.monotonic() - start < 2.0
    assert _blocked(r) == 0
    r.zadd("later", {"m": 1})
    assert r.zpopmin("later") == [(b"m", 1.0)]


def test_a_store_and_a_zadd_inside_exec_serve_blocked_clients(server):
    control = _redis(server)
    threads, results = _block_in_order(server, control, 2, lambda c: c.bzpopmin(["dest"], timeout=0))
    control.zadd("src", {"a": 1, "b": 2})
    assert control.zunionstore("dest", {"src": 3}) == 2
    for thread in threads:
        thread.join(10)
    assert results == [(b"dest", b"a", 3.0), (b"dest", b"b", 6.0)]
    threads, results = _block_in_order(server, control, 1, lambda c: c.bzpopmax(["tq"], timeout=0))
    pipe = control.pipeline(transaction=True)
    pipe.zadd("tq", {"a": 1, "b": 2}).zcard("tq")
    assert pipe.execute() == [2, 2]  # the waiter is served after EXEC, not between its commands
    threads[0].join(10)
    assert results[0] == (b"tq", b"b", 2.0)
    assert control.zrange("tq", 0, -1) == [b"a"]


def test_multi_runs_blocking_pops_without_blocking(server):
    r = _redis(server)
    pipe = r.pipeline(transaction=True)
    pipe.bzpopmin(["empty"], timeout=0).zadd("empty", {"v": 1}).bzpopmax(["empty"], timeout=0)
    assert pipe.execute() == [None, 1, (b"empty", b"v", 1.0)]
