"""Hostile clients must not make the server's memory grow without bound, nor stall others."""

from __future__ import annotations

import time

import pytest

from resp import Frame, RespConnection, encode_command

MB = 1024


def _try_send(c: RespConnection, data: bytes) -> bool:
    try:
        c.send(data)
        return True
    except OSError:
        return False  # the server may close such a client: that is fine too


@pytest.mark.time_limit(90)
def test_huge_declared_sizes_sent_slowly_do_not_grow_rss(start_roost, conn_factory):
    s = start_roost("--loglevel", "warning")
    good = conn_factory(s)
    for i in range(100):
        good.call("SET", f"warm:{i}", "x" * 100)
    time.sleep(0.5)
    base = s.rss_kib()

    hostile = []
    for _ in range(10):  # 100 MB bulk headers
        h = RespConnection(s.host, s.port)
        _try_send(h, b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$104857600\r\n")
        hostile.append(h)
    for _ in range(5):  # huge multibulk counts
        h = RespConnection(s.host, s.port)
        _try_send(h, b"*2147483647\r\n$3\r\nSET\r\n")
        hostile.append(h)
    for _ in range(5):
        h = RespConnection(s.host, s.port)
        _try_send(h, b"*1048576\r\n")
        hostile.append(h)

    sent = 0
    peak = base
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:  # trickle 4 KiB per hostile client per round
        for h in hostile[:10]:
            if _try_send(h, b"y" * 4096):
                sent += 4096
        for h in hostile[10:]:
            _try_send(h, b"$1\r\nz\r\n" * 64)
        t0 = time.monotonic()
        assert good.call("SET", "alive", "1") == Frame("+", b"OK")
        assert good.call("GET", "warm:7") == Frame("$", b"x" * 100)
        assert time.monotonic() - t0 < 1.0, "a well-behaved client was stalled by hostile clients"
        peak = max(peak, s.rss_kib())
        time.sleep(0.05)

    growth_kib = peak - base
    allowed_kib = 64 * MB + 2 * sent // 1024
    assert growth_kib < allowed_kib, (f"RSS grew by {growth_kib} KiB while hostile clients sent only "
                                      f"{sent // 1024} KiB (base {base} KiB, peak {peak} KiB)")
    for h in hostile:
        h.close()
    assert good.call("PING") == Frame("+", b"PONG")
    assert s.alive()


@pytest.mark.time_limit(60)
def test_client_that_never_reads_is_closed_at_the_output_limit(start_roost, conn_factory):
    """client-output-buffer-limit normal <hard>: unsent replies past the hard limit close that client only."""
    s = start_roost("--loglevel", "warning", "--client-output-buffer-limit", "normal 4mb 0 0")
    good = conn_factory(s)
    assert good.call("SET", "big", "x" * (1024 * 1024)) == Frame("+", b"OK")

    # Under the limit: 2 MiB of replies the client reads later are all delivered.
    patient = conn_factory(s)
    patient.send(b"".join(encode_command(["GET", "big"]) for _ in range(2)))
    time.sleep(0.5)
    assert [patient.read_reply() for _ in range(2)] == [Frame("$", b"x" * (1024 * 1024))] * 2

    # Past it: 64 MiB of replies that are never read close the connection; RSS stays bounded.
    base = s.rss_kib()
    hostile = conn_factory(s)
    _try_send(hostile, b"".join(encode_command(["GET", "big"]) for _ in range(64)))
    time.sleep(1)  # not reading: the kernel's buffers fill and the rest waits in the server
    assert s.rss_kib() - base < 48 * MB, "unsent replies grew the server's memory past the limit"
    delivered = hostile.read_until_closed(timeout=20)  # raises ReplyTimeout if the server keeps the client
    assert len(delivered) < 64 * 1024 * 1024, "every reply was delivered: no limit was applied"
    assert good.call("GET", "big") == Frame("$", b"x" * (1024 * 1024))
