"""Sets (and sorted sets) against real roostd processes with real clients: replication of every set change (full sync and the
stream, `SETSTATE` whole states) checked member by member on the replica, `WATCH` aborting an `EXEC` when another
client changes a watched set, and `CLIENT TRACKING` invalidating a set another connection changes.
(Replies are compared with redis-server 7.0 in differential/sessions/12_sets.txt.)"""

from __future__ import annotations

import time

import pytest
import redis

from resp import RespConnection
from servers import target_is_redis

pytestmark = pytest.mark.time_limit(60)


def _client(server) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=10)


def _until(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _start(start_roost):
    args = ["--loglevel", "notice"]
    if target_is_redis():
        args += ["--repl-diskless-sync-delay", "0"]
    return start_roost(*args)


def _sets(r: redis.Redis) -> dict:
    out = {}
    for key in r.scan_iter(count=1000, _type="set"):
        out[key] = (r.smembers(key), r.object("encoding", key), r.pttl(key) > 0)
    return out


def test_set_changes_replicate_through_full_sync_and_the_stream(start_roost):
    primary, replica = _start(start_roost), _start(start_roost)
    P, R = _client(primary), _client(replica)
    P.sadd("ints", *range(100))
    P.sadd("big", *[f"m{i}" for i in range(600)])
    P.sadd("soon", "a")
    P.expire("soon", 300)
    assert R.replicaof(primary.host, primary.port) in (True, b"OK", "OK")
    _until(lambda: R.info("replication").get("master_link_status") == "up", 15, "the replica's link")
    assert P.wait(1, 10_000) == 1
    assert _sets(R) == _sets(P)
    assert R.object("encoding", "ints") in (b"intset", "intset") and R.scard("big") == 600

    assert P.sadd("ints", "x") == 1  # converts to hashtable
    assert P.srem("big", "m1", "m2", "zz") == 2
    popped = P.spop("big", 10)
    assert len(popped) == 10
    P.set("str", "v")
    assert P.sinterstore("str", "ints", "big") == 0 and P.exists("str") == 0
    P.set("str", "v")
    assert P.sunionstore("str", "ints", "soon") == 102
    # SPOP took 10 random members: move one it left (m3 itself was popped in a CI run).
    member = next(f"m{i}" for i in range(3, 600) if f"m{i}".encode() not in popped)
    assert P.smove("big", "moved", member) is True
    assert P.sdiffstore("diff", "ints", "str") == 0
    assert P.srem("soon", "a") == 1
    assert P.wait(1, 5000) == 1
    # Sorted sets ride the same whole-state records (ZSETSTATE, scores as exact bit patterns).
    P.zadd("z", {"a": 0.1, "b": -0.0, "c": 1e300, "d": float("inf")})
    P.zadd("zbig", {f"m{i}": i / 3 for i in range(200)})
    assert P.zincrby("z", 0.2, "a") == pytest.approx(0.30000000000000004)
    assert P.zpopmax("zbig", 5)[0][0] == b"m199"
    P.zrem("zbig", "m0")
    assert P.wait(1, 5000) == 1
    for key in ("z", "zbig"):
        assert R.zrange(key, 0, -1, withscores=True) == P.zrange(key, 0, -1, withscores=True)
        assert R.object("encoding", key) == P.object("encoding", key)
    assert R.zscore("z", "a") == 0.30000000000000004 and R.zscore("zbig", "m1") == 1 / 3
    assert _sets(R) == _sets(P)
    assert R.exists("soon", "diff") == 0
    assert not (set(popped) & R.smembers("big"))
    assert R.type("str") in (b"set", "set") and R.scard("str") == 102
    # The internal record is refused from clients (a replica refuses every write first).
    with pytest.raises(redis.ResponseError, match="unknown command"):
        P.execute_command("SETSTATE", "k", "0", "a")
    assert P.exists("k") == 0


def test_watch_aborts_exec_when_another_client_changes_the_set(roost):
    r, other = _client(roost), _client(roost)
    r.sadd("w", "a")
    with r.pipeline() as pipe:
        pipe.watch("w")
        assert pipe.smembers("w") == {b"a"}
        other.sadd("w", "b")
        pipe.multi()
        pipe.sadd("w", "c")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.smembers("w") == {b"a", b"b"}
    # An SADD of a member already there changes nothing, so it does not abort the transaction (as Redis).
    with r.pipeline() as pipe:
        pipe.watch("w")
        other.sadd("w", "a")
        pipe.multi()
        pipe.sadd("w", "d")
        assert pipe.execute() == [1]


def test_tracking_invalidates_a_set_changed_by_another_connection(roost):
    tracker = RespConnection(roost.host, roost.port, timeout=5)
    assert tracker.call("HELLO", "3").kind == "%"
    assert not tracker.call("CLIENT", "TRACKING", "on").is_error
    _client(roost).sadd("t", "1", "2")
    assert tracker.call("SMEMBERS", "t").kind == "~"
    _client(roost).spop("t")
    push = tracker.read_reply(timeout=5)
    assert push.kind == ">", push
    assert [getattr(f, "value", None) for f in push.value][0] == b"invalidate"
    assert [f.value for f in push.value[1].value] == [b"t"]
