"""Connection limits: --maxclients, --timeout; protected mode."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from resp import Frame, RespConnection


def test_maxclients(start_roost, conn_factory):
    s = start_roost("--maxclients", "2", "--loglevel", "warning")
    a, b = conn_factory(s), conn_factory(s)
    assert a.call("PING") == Frame("+", b"PONG")
    assert b.call("PING") == Frame("+", b"PONG")
    third = conn_factory(s)
    assert third.read_until_closed(5) == b"-ERR max number of clients reached\r\n"
    assert a.call("SET", "k", "v") == Frame("+", b"OK")  # the admitted clients are unaffected
    a.close()
    deadline = time.monotonic() + 5  # the freed slot becomes available again
    while True:
        c = conn_factory(s)
        try:
            if c.call("GET", "k") == Frame("$", b"v"):
                break
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_idle_timeout_closes_idle_clients_only(start_roost, conn_factory):
    s = start_roost("--timeout", "1", "--loglevel", "warning")
    idle = conn_factory(s)
    busy = conn_factory(s)
    assert idle.call("PING") == Frame("+", b"PONG")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        assert busy.call("PING") == Frame("+", b"PONG")  # active: must never be closed
        time.sleep(0.2)
    assert idle.is_closed(3), "an idle client was not closed within ~4-7 s with --timeout 1"
    assert busy.call("SET", "alive", "yes") == Frame("+", b"OK")


def test_timeout_zero_means_never(start_roost, conn_factory):
    s = start_roost("--timeout", "0", "--loglevel", "warning")
    c = conn_factory(s)
    time.sleep(2.5)
    assert c.call("PING") == Frame("+", b"PONG")


def non_loopback_ipv4() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.254", 9))  # no packet is sent; picks the outgoing interface
            addr = s.getsockname()[0]
            if not addr.startswith("127."):
                return addr
    except OSError:
        pass
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            addr = line.split()[3].split("/")[0]
            if not addr.startswith("127."):
                return addr
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    return None


@pytest.fixture
def external_addr():
    addr = non_loopback_ipv4()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    return addr


def test_protected_mode_denies_non_loopback_clients(start_roost, external_addr):
    s = start_roost("--protected-mode", "yes", "--loglevel", "warning", bind="0.0.0.0")
    with RespConnection(external_addr, s.port) as c:
        c.send(b"PING\r\n")
        reply = c.read_until_closed(5)
    assert reply.startswith(b"-DENIED "), reply
    assert b"protected mode" in reply and reply.endswith(b"\r\n")
    with RespConnection("127.0.0.1", s.port) as local:
        assert local.call("PING") == Frame("+", b"PONG")


def test_protected_mode_off_or_password_admits_non_loopback(start_roost, external_addr):
    s = start_roost("--protected-mode", "no", "--loglevel", "warning", bind="0.0.0.0")
    with RespConnection(external_addr, s.port) as c:
        assert c.call("PING") == Frame("+", b"PONG")
    s2 = start_roost("--protected-mode", "yes", "--requirepass", "pw", "--loglevel", "warning", bind="0.0.0.0")
    with RespConnection(external_addr, s2.port) as c:
        assert c.call("PING") == Frame("-", b"NOAUTH Authentication required.")
        assert c.call("AUTH", "pw") == Frame("+", b"OK")
        assert c.call("PING") == Frame("+", b"PONG")


def test_replies_reach_a_client_that_half_closes_right_after_sending(start_roost):
    # Replies are flushed at the end of the event loop's turn; a FIN read in the same turn must not make the server
    # close before those replies are out (Redis answers everything it read before the EOF).
    s = start_roost("--loglevel", "warning")
    expected = b"+PONG\r\n+OK\r\n$1\r\nb\r\n"
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            sock.sendall(b"PING\r\nSET a b\r\nGET a\r\n")
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        assert received == expected
