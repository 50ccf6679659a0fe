"""Wire-level behaviour over raw sockets: inline commands, malformed RESP, protocol limits."""

from __future__ import annotations

import time

import pytest

from resp import Frame, RespConnection, encode_command


def test_inline_commands(roost, conn_factory):
    c = conn_factory(roost)
    c.send(b"PING\r\n")
    assert c.read_reply() == Frame("+", b"PONG")
    c.send(b'set a "b c"\r\n')
    assert c.read_reply() == Frame("+", b"OK")
    c.send(b"GET a\r\n")
    assert c.read_reply() == Frame("$", b"b c")
    c.send(b"  ECHO   'single quoted'  \r\n")
    assert c.read_reply() == Frame("$", b"single quoted")
    c.send(b'SET bin "\\x00\\xff\\n"\nGET bin\n')  # bare LF also ends an inline command
    assert c.read_reply() == Frame("+", b"OK")
    assert c.read_reply() == Frame("$", b"\x00\xff\n")
    c.send(b"\r\n\r\nPING\r\n")  # empty lines are ignored
    assert c.read_reply() == Frame("+", b"PONG")
    # inline and multibulk mixed in one write
    c.send(b"PING\r\n" + encode_command(["ECHO", "x"]) + b"ECHO y\r\n")
    assert [c.read_reply() for _ in range(3)] == [Frame("+", b"PONG"), Frame("$", b"x"), Frame("$", b"y")]


def test_requests_split_at_every_byte(roost, conn_factory):
    """A command delivered one byte per write is still one command."""
    c = conn_factory(roost)
    data = encode_command(["SET", "split", "value with spaces"]) + b"GET split\r\n"
    for i in range(len(data)):
        c.send(data[i:i + 1])
        time.sleep(0.001)
    assert c.read_reply() == Frame("+", b"OK")
    assert c.read_reply() == Frame("$", b"value with spaces")


MALFORMED = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*2\r\n$3\r\nGET\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b'SET a "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
]


@pytest.mark.parametrize("payload,error", MALFORMED, ids=[repr(m[0])[:40] for m in MALFORMED])
def test_malformed_resp_closes_only_that_connection(roost, conn_factory, payload, error):
    other = conn_factory(roost)
    assert other.call("SET", "survivor", "still here") == Frame("+", b"OK")
    bad = conn_factory(roost)
    assert bad.call("PING") == Frame("+", b"PONG")  # a well-formed command first
    bad.send(payload)
    assert bad.read_until_closed(5) == error
    # the other client, connected the whole time, keeps working and its data stays
    assert other.call("GET", "survivor") == Frame("$", b"still here")
    assert other.call("INCR", "after") == Frame(":", 1)
    assert conn_factory(roost).call("GET", "survivor") == Frame("$", b"still here")


def test_valid_commands_before_a_protocol_error_are_answered(roost, conn_factory):
    c = conn_factory(roost)
    c.send(encode_command(["SET", "k", "v"]) + encode_command(["GET", "k"]) + b"*1\r\n$x\r\n")
    assert c.read_reply() == Frame("+", b"OK")
    assert c.read_reply() == Frame("$", b"v")
    assert c.read_until_closed(5) == b"-ERR Protocol error: invalid bulk length\r\n"


LIMIT = 1024 * 1024  # the smallest value Redis accepts for both limits


def test_bulk_longer_than_proto_max_bulk_len_is_rejected(start_roost, conn_factory):
    s = start_roost("--proto-max-bulk-len", str(LIMIT), "--loglevel", "warning")
    ok = conn_factory(s, timeout=15)
    assert ok.call("SET", "exact", b"x" * LIMIT) == Frame("+", b"OK")  # exactly the limit is fine
    assert ok.call("STRLEN", "exact") == Frame(":", LIMIT)
    bad = conn_factory(s)
    bad.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (LIMIT + 1))
    assert bad.read_until_closed(5) == b"-ERR Protocol error: invalid bulk length\r\n"
    assert ok.call("PING") == Frame("+", b"PONG")
    # SETRANGE/APPEND cannot grow a value past the limit either
    assert ok.call("SETRANGE", "exact", str(LIMIT), "x") == Frame(
        "-", b"ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    assert ok.call("APPEND", "exact", "x") == Frame(
        "-", b"ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def test_inline_request_over_64k_is_rejected(roost, conn_factory):
    bad = conn_factory(roost)
    bad.send(b"a" * (64 * 1024 + 100))  # no newline yet
    assert bad.read_until_closed(5) == b"-ERR Protocol error: too big inline request\r\n"
    assert conn_factory(roost).call("PING") == Frame("+", b"PONG")


def test_query_buffer_limit_closes_the_connection(start_roost, conn_factory):
    s = start_roost("--client-query-buffer-limit", str(LIMIT), "--loglevel", "warning")
    other = conn_factory(s)
    assert other.call("SET", "keep", "me") == Frame("+", b"OK")
    bad = conn_factory(s)
    bad.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 * LIMIT))
    try:
        for _ in range(12):  # 1.5 MiB of an unfinished 2 MiB argument
            bad.send(b"x" * (128 * 1024))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert bad.is_closed(5), "the connection stayed open past client-query-buffer-limit"
    assert other.call("GET", "keep") == Frame("$", b"me")
    assert other.call("EXISTS", "k") == Frame(":", 0)


def test_big_pipeline_in_one_write(roost, conn_factory):
    c = conn_factory(roost, timeout=20)
    n = 10000
    c.send(b"".join(encode_command(["INCR", "n"]) for _ in range(n)))
    got = [c.read_reply() for _ in range(n)]
    assert got == [Frame(":", i) for i in range(1, n + 1)]
