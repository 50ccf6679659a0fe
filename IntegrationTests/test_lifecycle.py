"""Process lifecycle: SIGTERM (exit 0, replies delivered), --config FILE, logging to stdout."""

from __future__ import annotations

import signal
import time

import pytest

from resp import Frame, RespConnection, encode_command, parse_all


def test_sigterm_idle_exits_zero(start_roost, conn_factory):
    s = start_roost("--loglevel", "warning")
    c = conn_factory(s)
    assert c.call("SET", "k", "v") == Frame("+", b"OK")
    s.signal(signal.SIGTERM)
    assert s.wait(10) == 0, f"exit code {s.exit_code} (None = still running after 10 s)\n{s.describe()}"
    assert c.is_closed(2)


def _wait_counter(server, key: bytes, target: int, timeout: float = 15):
    with RespConnection(server.host, server.port) as w:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = w.call("GET", key).value
            if v is not None and int(v) >= target:
                return
            time.sleep(0.01)
    raise AssertionError(f"server did not process {target} commands within {timeout}s")


@pytest.mark.time_limit(60)
def test_sigterm_while_client_pipelines_10k_commands(start_roost):
    s = start_roost("--loglevel", "warning")
    c = RespConnection(s.host, s.port, timeout=10)
    n = 10000
    c.send(b"".join(encode_command(["INCR", "n"]) for _ in range(n)))  # the client reads nothing yet
    _wait_counter(s, b"n", n)  # every command has been executed: all replies are due
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    data = c.read_until_closed(15)
    code = s.wait(15)
    assert code == 0, f"exit code {code} (None = still running)\n{s.describe()}"
    assert time.monotonic() - t0 < 15
    replies = parse_all(data)
    assert replies == [Frame(":", i) for i in range(1, n + 1)], f"got {len(replies)} replies"
    c.close()


@pytest.mark.roost_only("Redis drops output it has not written yet when it shuts down; Roost flushes replies")
@pytest.mark.time_limit(60)
def test_sigterm_flushes_replies_larger_than_socket_buffers(start_roost):
    s = start_roost("--loglevel", "warning")
    c = RespConnection(s.host, s.port, timeout=10)
    assert c.call("SET", "v", "x" * 1000) == Frame("+", b"OK")
    n = 10000  # ~10 MB of replies: far more than the kernel buffers hold
    c.send(b"".join(encode_command(["GET", "v"]) for _ in range(n)) + encode_command(["INCR", "done"]))
    _wait_counter(s, b"done", 1)
    s.signal(signal.SIGTERM)
    data = c.read_until_closed(20)
    assert s.wait(20) == 0, s.describe()
    replies = parse_all(data)
    assert len(replies) == n + 1
    assert replies[-1] == Frame(":", 1)


def test_config_file(start_roost, conn_factory, tmp_path):
    conf = tmp_path / "roost.conf"
    conf.write_text("# Roost test configuration (redis.conf syntax)\n"
                    "\n"
                    "requirepass \"file secret\"\n"
                    "maxclients 50\n"
                    "timeout 0\n"
                    "loglevel warning\n")
    s = start_roost("--config", str(conf))
    c = conn_factory(s)
    assert c.call("GET", "x") == Frame("-", b"NOAUTH Authentication required.")
    assert c.call("AUTH", "file secret") == Frame("+", b"OK")
    assert c.call("SET", "x", "1") == Frame("+", b"OK")


def test_logs_go_to_stdout(start_roost):
    s = start_roost()  # default log level
    s.stop()
    assert s.exit_code == 0, s.describe()
    assert s.log().strip(), "nothing was logged to stdout"
