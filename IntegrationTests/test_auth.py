"""--requirepass: NOAUTH, WRONGPASS, and the stricter protocol limits before AUTH."""

from __future__ import annotations

import pytest

from resp import Frame, encode_command
from servers import redis_cli

PASSWORD = "s3cret-pw"
WRONGPASS = b"WRONGPASS invalid username-password pair or user is disabled."


@pytest.fixture
def secured(start_roost):
    return start_roost("--requirepass", PASSWORD, "--loglevel", "warning")


def test_noauth_then_auth(secured, conn_factory):
    c = conn_factory(secured)
    assert c.call("GET", "x") == Frame("-", b"NOAUTH Authentication required.")
    assert c.call("SET", "x", "1") == Frame("-", b"NOAUTH Authentication required.")
    assert c.call("AUTH", "wrong") == Frame("-", WRONGPASS)
    assert c.call("AUTH", "default", "wrong") == Frame("-", WRONGPASS)
    assert c.call("GET", "x") == Frame("-", b"NOAUTH Authentication required.")
    assert c.call("AUTH", PASSWORD) == Frame("+", b"OK")
    assert c.call("SET", "x", "1") == Frame("+", b"OK")
    assert c.call("GET", "x") == Frame("$", b"1")
    c2 = conn_factory(secured)
    assert c2.call("AUTH", "default", PASSWORD) == Frame("+", b"OK")
    assert c2.call("GET", "x") == Frame("$", b"1")


def test_hello_with_auth(secured, conn_factory):
    c = conn_factory(secured)
    r = c.call("HELLO", "3", "AUTH", "default", "wrong")
    assert r == Frame("-", WRONGPASS)
    r = c.call("HELLO", "3", "AUTH", "default", PASSWORD)
    assert r.kind == "%"
    assert dict((k.value, v) for k, v in r.value)[b"proto"] == Frame(":", 3)
    assert c.call("GET", "missing") == Frame("_", None)


def test_redis_cli_with_password(secured):
    r = redis_cli(secured.port, "SET", "a", "b", extra=["-a", PASSWORD, "--no-auth-warning"])
    assert r.stdout.strip() == "OK", r
    r = redis_cli(secured.port, "GET", "a")
    assert "NOAUTH" in r.stdout + r.stderr


def test_more_than_10_args_before_auth_closes(secured, conn_factory):
    c = conn_factory(secured)
    c.send(encode_command(["MSET"] + ["k", "v"] * 5))  # 11 arguments
    assert c.read_until_closed(5) == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    ok = conn_factory(secured)
    ok.send(encode_command(["AUTH", PASSWORD]))
    assert ok.read_reply() == Frame("+", b"OK")
    assert ok.call("MSET", *(["k", "v"] * 5)) == Frame("+", b"OK")  # fine once authenticated


def test_ten_args_before_auth_are_fine(secured, conn_factory):
    c = conn_factory(secured)
    assert c.call("MSET", *(["k", "v"] * 4), "k") == Frame("-", b"NOAUTH Authentication required.")
    assert c.call("PING") == Frame("-", b"NOAUTH Authentication required.")


def test_bulk_over_16k_before_auth_closes(secured, conn_factory):
    c = conn_factory(secured)
    c.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
    assert c.read_until_closed(5) == b"-ERR Protocol error: unauthenticated bulk length\r\n"
    c2 = conn_factory(secured)
    assert c2.call("AUTH", "x" * 16384) == Frame("-", WRONGPASS)  # 16 KiB exactly is allowed
    assert c2.call("AUTH", PASSWORD) == Frame("+", b"OK")
    assert c2.call("SET", "big", "x" * 100000) == Frame("+", b"OK")


def test_inline_before_auth(secured, conn_factory):
    c = conn_factory(secured)
    c.send(b"GET x\r\n")
    assert c.read_reply() == Frame("-", b"NOAUTH Authentication required.")
    c.send(f"AUTH {PASSWORD}\r\n".encode())
    assert c.read_reply() == Frame("+", b"OK")
