"""Real clients against roostd: redis-cli, redis-py (RESP2 and RESP3), pipelines."""

from __future__ import annotations

import redis

from servers import redis_cli


def test_redis_cli_basic_session(roost):
    def cli(*args):
        r = redis_cli(roost.port, *args)
        assert r.returncode == 0, f"redis-cli {args}: rc={r.returncode} stderr={r.stderr}"
        return r.stdout.strip()

    assert cli("PING") == "PONG"
    assert cli("SET", "greeting", "hello world") == "OK"
    assert cli("GET", "greeting") == "hello world"
    assert cli("GET", "nosuchkey") == ""
    assert cli("INCR", "counter") == "1"
    assert cli("INCRBY", "counter", "41") == "42"
    assert cli("SET", "temp", "x", "EX", "100") == "OK"
    assert 98 <= int(cli("TTL", "temp")) <= 100
    assert cli("TTL", "greeting") == "-1"
    assert cli("TTL", "nosuchkey") == "-2"
    assert cli("DEL", "greeting", "temp", "nosuchkey") == "2"
    assert cli("EXISTS", "greeting") == "0"
    assert cli("DBSIZE") == "1"
    assert "unknown command" in cli("NOSUCHCOMMAND")


def test_redis_cli_reads_commands_from_stdin(roost):
    r = redis_cli(roost.port, stdin="SET a 1\nINCR a\nGET a\nAPPEND a xyz\nGET a\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["OK", "2", "2", "4", "2xyz"]


def test_redis_cli_resp3(roost):
    r = redis_cli(roost.port, "GET", "missing", extra=["-3"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(nil)" or r.stdout.strip() == ""


def _basic(r: redis.Redis):
    assert r.ping() is True
    assert r.set("k", b"v\x00\xff") is True
    assert r.get("k") == b"v\x00\xff"
    assert r.get("missing") is None
    assert r.incr("n") == 1
    assert r.incrby("n", 9) == 10
    assert r.decr("n") == 9
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "missing") == [b"1", b"2", None]
    assert r.set("e", "v", ex=100) is True
    assert 98 <= r.ttl("e") <= 100
    assert r.persist("e") is True
    assert r.ttl("e") == -1
    assert r.set("nx", "1", nx=True) is True
    assert r.set("nx", "2", nx=True) is None
    assert r.getdel("nx") == b"1"
    assert r.exists("a", "b", "nx") == 2
    assert r.delete("a", "b") == 2
    assert r.strlen("k") == 3
    assert r.append("k", "w") == 4
    assert r.getrange("k", 0, 0) == b"v"
    assert r.setrange("k", 1, "X") == 4
    assert r.type("k") == b"string"
    assert sorted(r.keys("*")) == [b"e", b"f", b"k", b"n"]
    assert sorted(r.scan_iter()) == [b"e", b"f", b"k", b"n"]
    assert r.dbsize() == 4
    assert r.rename("k", "k2") is True
    assert r.flushdb() is True
    assert r.dbsize() == 0
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("unknown command did not fail")
    except redis.ResponseError as e:
        assert str(e).startswith("unknown command 'NOSUCHCOMMAND'")


def _pipeline_1000(r: redis.Redis):
    p = r.pipeline(transaction=False)
    for i in range(1000):
        if i % 2 == 0:
            p.set(f"key:{i}", i)
        else:
            p.incr("pipe-counter")
    out = p.execute()
    assert len(out) == 1000
    assert out[0::2] == [True] * 500
    assert out[1::2] == list(range(1, 501))
    p = r.pipeline(transaction=False)
    for i in range(0, 1000, 2):
        p.get(f"key:{i}")
    assert p.execute() == [str(i).encode() for i in range(0, 1000, 2)]
    # errors inside a pipeline do not break the replies around them
    p = r.pipeline(transaction=False)
    p.set("x", "notanumber")
    p.incr("x")
    p.get("x")
    out = p.execute(raise_on_error=False)
    assert out[0] is True and isinstance(out[1], redis.ResponseError) and out[2] == b"notanumber"


def test_redis_py_resp2(roost):
    r = redis.Redis(port=roost.port, socket_timeout=10, protocol=2)
    _basic(r)
    _pipeline_1000(r)
    r.close()


def test_redis_py_resp3(roost):
    r = redis.Redis(port=roost.port, socket_timeout=10, protocol=3)
    hello = r.execute_command("HELLO", "3")
    assert hello[b"proto"] == 3 if b"proto" in hello else hello["proto"] == 3
    _basic(r)
    _pipeline_1000(r)
    r.close()


def test_many_clients_share_one_keyspace(roost):
    clients = [redis.Redis(port=roost.port, socket_timeout=10) for _ in range(20)]
    for i, c in enumerate(clients):
        c.incr("shared")
        c.set(f"own:{i}", i)
    assert clients[0].get("shared") == b"20"
    assert clients[-1].mget([f"own:{i}" for i in range(20)]) == [str(i).encode() for i in range(20)]
    for c in clients:
        c.close()


def _commandstats(client: redis.Redis) -> dict:
    return {name: stats for name, stats in client.info("commandstats").items()}


def test_commandstats_count_every_pipelined_call_seen_from_another_client(roost):
    # Consecutive calls of one command are counted locally and published at the end of the read batch: another
    # connection must still see every call, including a failed one. (redis-py sends INCR as INCRBY.)
    worker = redis.Redis(port=roost.port)
    observer = redis.Redis(port=roost.port)
    observer.config_resetstat()
    pipe = worker.pipeline(transaction=False)
    for i in range(40):
        pipe.set(f"cs:{i}", i)
    for i in range(25):
        pipe.get(f"cs:{i}")
    pipe.incr("cs:0")
    pipe.incr("cs:missing-number")
    pipe.execute()
    stats = _commandstats(observer)
    assert stats["cmdstat_set"]["calls"] == 40
    assert stats["cmdstat_get"]["calls"] == 25
    assert stats["cmdstat_incrby"]["calls"] == 2
    bad = redis.Redis(port=roost.port)
    bad.set("cs:text", "abc")
    try:
        bad.incr("cs:text")
    except redis.ResponseError:
        pass
    stats = _commandstats(observer)
    assert stats["cmdstat_incrby"]["calls"] == 3
    assert stats["cmdstat_incrby"]["failed_calls"] == 1
    assert int(observer.info("stats")["total_commands_processed"]) >= 40 + 25 + 3 + 1


def test_statistics_read_in_the_same_pipeline_include_the_commands_before(roost):
    # Counts are published before a different command runs and by INFO itself, so INFO and CONFIG RESETSTAT late
    # in a pipeline see (or reset) everything sent before them, as in Redis.
    from resp import RespConnection
    conn = RespConnection("127.0.0.1", roost.port)
    replies = conn.pipeline([
        ("CONFIG", "RESETSTAT"),
        ("SET", "ps:a", "1"),
        ("GET", "ps:a"),
        ("GET", "ps:a"),
        ("INFO", "commandstats"),
        ("INFO", "commandstats"),
        ("CONFIG", "RESETSTAT"),
        ("GET", "ps:a"),
        ("INFO", "commandstats"),
    ])
    first, second, after_reset = (replies[4].value.decode(), replies[5].value.decode(), replies[8].value.decode())
    assert "cmdstat_get:calls=2," in first and "cmdstat_set:calls=1," in first
    assert "cmdstat_info" not in first
    assert "cmdstat_info:calls=1," in second
    assert "cmdstat_set" not in after_reset and "cmdstat_get:calls=1," in after_reset
    conn.close()
