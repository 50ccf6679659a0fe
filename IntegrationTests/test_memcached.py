"""The memcached protocol (issue 7): text and meta commands on roostd's `--memcached-port`.

Target: $MEMCACHED_TARGET=memcached runs everything against Debian's memcached itself (how these tests were
validated: all pass); otherwise roostd ($ROOSTD) with `--memcached-port`, and every test skips while roostd does not
know that option yet ("roostd has no memcached port yet"). The cross-protocol tests need roostd's RESP port and skip
against memcached.

    MEMCACHED_TARGET=memcached python3 -m pytest -q IntegrationTests/test_memcached.py -s   # validate on memcached
    ROOSTD=.build/debug/roostd python3 -m pytest -q IntegrationTests/test_memcached.py -s    # roostd
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from memcache import (McConn, McServer, McUnsupported, parse_memccapable, start_memcached, start_target,
                      target_is_memcached)
from memcache_sessions.harness import run_session, sessions

MEMCCAPABLE_ASCII_TESTS = 27  # memccapable -a: its ASCII tests (memcached 1.6 passes 27/27)
ITEM_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def mc() -> McServer:
    try:
        server = start_target()
    except McUnsupported as e:
        pytest.skip(str(e))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mc_ref() -> McServer:
    server = start_memcached()
    yield server
    server.stop()


@pytest.fixture
def conn(mc):
    conns = []

    def make(timeout=5.0) -> McConn:
        c = McConn(mc.host, mc.mc_port, timeout=timeout)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()


def roost_only(mc: McServer):
    if mc.resp_port is None:
        pytest.skip("cross-protocol: needs roostd's RESP port (target is memcached)")


def assert_alive(mc: McServer, key: bytes = b"alive-check"):
    """A fresh client can still store and read: the server and its other clients are unaffected."""
    assert mc.alive(), f"server died:\n{mc.describe()}"
    with McConn(mc.host, mc.mc_port) as c:
        assert c.cmd(b"set " + key + b" 0 0 2", b"ok") == b"STORED"
        assert c.get(key) == {key: (0, b"ok")}


# ---------------------------------------------------------------- memccapable


@pytest.mark.time_limit(150)
def test_memccapable_ascii_all_pass(mc):
    r = subprocess.run(["memccapable", "-a", "-t", "10", "-h", mc.host, "-p", str(mc.mc_port)],
                       capture_output=True, text=True, timeout=140)
    passed, total, bad = parse_memccapable(r.stdout + r.stderr)
    print(f"\nmemccapable (ASCII) against {mc.kind}: {passed}/{total} passed")
    assert not bad, f"memccapable failures: {bad}\n{r.stdout}\n{r.stderr}"
    assert total == MEMCCAPABLE_ASCII_TESTS, f"expected {MEMCCAPABLE_ASCII_TESTS} tests, saw {total}:\n{r.stdout}"
    assert passed == total
    assert r.returncode == 0, r.stdout + r.stderr
    assert_alive(mc)


# ---------------------------------------------------------------- differential


@pytest.mark.time_limit(180)
def test_differential_sessions_against_memcached(mc, mc_ref):
    total, mismatches, per = 0, [], []
    for path in sessions():
        res = run_session(path, mc_ref.mc_port, mc.mc_port)
        total += res.compared
        per.append(f"{path.stem} {res.compared}")
        mismatches += res.mismatches
    print(f"\ndifferential (memcached vs {mc.kind}): {total} commands compared, {len(mismatches)} mismatches "
          f"({', '.join(per)})")
    assert total >= 400, f"only {total} commands compared: sessions missing?"
    assert not mismatches, f"{len(mismatches)} of {total} commands differ:\n" + "\n".join(mismatches[:40])
    assert_alive(mc)


# ---------------------------------------------------------------- pymemcache


@pytest.fixture
def pmc(mc):
    from pymemcache.client.base import Client
    c = Client((mc.host, mc.mc_port), connect_timeout=5, timeout=5, default_noreply=False)
    c.flush_all()
    yield c
    c.close()


@pytest.mark.time_limit(60)
def test_pymemcache_basic(pmc):
    assert pmc.set("a", b"1") is True
    assert pmc.get("a") == b"1"
    assert pmc.get("missing") is None
    assert pmc.add("a", b"2") is False
    assert pmc.add("b", b"2") is True
    assert pmc.replace("zz", b"x") is False
    assert pmc.replace("b", b"3") is True
    assert pmc.append("b", b"4") is True
    assert pmc.prepend("b", b"0") is True
    assert pmc.get("b") == b"034"
    value, cas = pmc.gets("b")
    assert value == b"034" and cas is not None
    assert pmc.cas("b", b"new", cas) is True
    assert pmc.cas("b", b"newer", cas) is False  # stale CAS: EXISTS
    assert pmc.get("b") == b"new"
    assert pmc.cas("nokey", b"x", cas) is None  # NOT_FOUND
    assert pmc.set("n", b"10") is True
    assert pmc.incr("n", 5) == 15
    assert pmc.decr("n", 20) == 0
    assert pmc.incr("n", 2**64 - 1) == 2**64 - 1
    assert pmc.incr("n", 1) == 0  # 64-bit wrap
    assert pmc.incr("nokey", 1) is None
    assert pmc.delete("n") is True
    assert pmc.delete("n") is False
    assert pmc.get("n") is None


@pytest.mark.time_limit(60)
def test_pymemcache_many_touch_noreply(pmc, mc):
    data = {f"k{i}": f"v{i}".encode() * (i % 7 + 1) for i in range(200)}
    assert pmc.set_many(data) == []
    got = pmc.get_many(list(data) + ["nope1", "nope2"])
    assert got == data
    assert pmc.delete_many([f"k{i}" for i in range(100)]) is True
    assert pmc.get_many([f"k{i}" for i in range(100)]) == {}
    assert len(pmc.get_many(list(data))) == 100
    # touch, gat
    pmc.set("t", b"x", expire=1)
    assert pmc.touch("t", 100) is True
    assert pmc.touch("nokey", 100) is False
    time.sleep(2.2)
    assert pmc.get("t") == b"x"  # the touch extended it past its first TTL
    pmc.set("t2", b"y", expire=100)
    with McConn(mc.host, mc.mc_port) as c:  # pymemcache has no gat
        assert c.get(b"t2", verb=b"gat 1") == {b"t2": (0, b"y")}
    time.sleep(2.2)
    assert pmc.get("t2") is None
    # noreply: nothing comes back, but the writes happen (and the connection stays in sync)
    from pymemcache.client.base import Client
    nr = Client((mc.host, mc.mc_port), connect_timeout=5, timeout=5, default_noreply=True)
    try:
        for i in range(500):
            nr.set(f"nr{i}", str(i).encode())
        nr.delete("nr0")
        nr.incr("nr1", 10)
        nr.touch("nr2", 100)
        assert nr.get("nr499") == b"499"
        assert nr.get("nr0") is None
        assert nr.get("nr1") == b"11"
    finally:
        nr.close()
    assert pmc.get_many(["nr3", "nr4"]) == {"nr3": b"3", "nr4": b"4"}


@pytest.mark.time_limit(60)
def test_pymemcache_large_and_binary_values(pmc, mc):
    from pymemcache.exceptions import MemcacheServerError
    near = bytes(range(256)) * ((ITEM_LIMIT - 2048) // 256)  # just under the 1 MB item limit
    assert pmc.set("near", near) is True
    assert pmc.get("near") == near
    over = b"o" * (ITEM_LIMIT + 1)
    with pytest.raises(MemcacheServerError, match="too large"):
        pmc.set("over", over)
    assert pmc.get("over") is None
    with pytest.raises(MemcacheServerError, match="too large"):
        pmc.set("over2", b"o" * (4 * ITEM_LIMIT))
    assert pmc.get("near") == near  # the rejected writes did not desync the connection
    binary = b"\x00\r\n\xff\x01END\r\nVALUE x 0 1\r\n\x80" * 50
    assert pmc.set("bin", binary, flags=12345) is True
    with McConn(mc.host, mc.mc_port) as c:
        assert c.get(b"bin") == {b"bin": (12345, binary)}
    assert pmc.get("bin") == binary
    assert pmc.set("empty", b"") is True
    assert pmc.get("empty") == b""


# ---------------------------------------------------------------- cross-protocol (roostd only)


@pytest.fixture
def rds(mc):
    roost_only(mc)
    import redis
    r = redis.Redis(host=mc.host, port=mc.resp_port, socket_timeout=5)
    yield r
    r.close()


@pytest.mark.time_limit(60)
def test_cross_protocol_values(mc, rds, conn):
    c = conn()
    assert c.cmd(b"set xp:mc 5 0 5", b"hello") == b"STORED"
    assert rds.get("xp:mc") == b"hello"
    binary = b"\x00\r\nbin\xff"
    rds.set("xp:resp", binary)
    assert c.get(b"xp:resp") == {b"xp:resp": (0, binary)}
    # a RESP write resets the client flags to 0
    assert c.get(b"xp:mc") == {b"xp:mc": (5, b"hello")}
    rds.set("xp:mc", "other")
    assert c.get(b"xp:mc") == {b"xp:mc": (0, b"other")}
    # counters both ways
    rds.set("xp:n", 41)
    assert c.cmd(b"incr xp:n 1") == b"42"
    assert rds.incr("xp:n") == 43
    # deletes both ways
    assert c.cmd(b"delete xp:resp") == b"DELETED"
    assert rds.exists("xp:resp") == 0
    rds.delete("xp:n")
    assert c.get(b"xp:n") == {}


@pytest.mark.time_limit(60)
def test_cross_protocol_ttl(mc, rds, conn):
    c = conn()
    assert c.cmd(b"set xp:ttl 0 100 1", b"x") == b"STORED"
    assert 98 <= rds.ttl("xp:ttl") <= 100
    assert c.cmd(b"touch xp:ttl 500") == b"TOUCHED"
    assert 498 <= rds.ttl("xp:ttl") <= 500
    assert c.cmd(b"set xp:nottl 0 0 1", b"x") == b"STORED"
    assert rds.ttl("xp:nottl") == -1
    rds.set("xp:r", "v", ex=50)
    c.send(b"mg xp:r t v\r\n")
    head = c.read_line().split()
    assert head[:2] == [b"VA", b"1"] and 49 <= int(head[2][1:]) <= 50, head
    assert c.read_line() == b"v"
    rds.expire("xp:r", 1)
    time.sleep(2.2)
    assert c.get(b"xp:r") == {}


# ---------------------------------------------------------------- stampede (meta leases)


def _mg(c: McConn, line: bytes):
    c.send(line + b"\r\n")
    head = c.read_line().split()
    value = None
    if head[0] == b"VA":
        value = c.read_data_block(int(head[1]))
    return head, value


STAMPEDE_CLIENTS = 100


def _stampede_round(mc: McServer, conns: list[McConn], fetch: bytes, new_value: bytes, stale_value):
    """All clients fetch at once; the winner (W) recomputes and sets; the others take the stale value (X) or wait
    for the new one. Returns (winners, stale_served, waited)."""
    barrier = threading.Barrier(len(conns))
    results = [None] * len(conns)
    errors = []

    def client(i):
        c = conns[i]
        try:
            barrier.wait(10)
            head, value = _mg(c, fetch)
            flags = set(head[2:] if head[0] == b"VA" else head[1:])
            if b"W" in flags:
                time.sleep(0.05)  # "recompute" while the others are served
                c.send(b"ms hot %d T60\r\n%s\r\n" % (len(new_value), new_value))
                assert c.read_line() == b"HD"
                results[i] = ("win", value, flags)
                return
            assert b"Z" in flags, (head, "a non-winner must see that the win token is already out")
            if b"X" in flags:
                assert value == stale_value, (head, value)
                results[i] = ("stale", value, flags)
                return
            deadline = time.monotonic() + 5  # no usable value: wait for the winner's
            while True:
                _, value = _mg(c, b"mg hot v")
                if value == new_value:
                    break
                assert time.monotonic() < deadline, f"never saw the recomputed value, last {value!r}"
                time.sleep(0.02)
            results[i] = ("waited", value, flags)
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    assert all(r is not None for r in results)
    kinds = [r[0] for r in results]
    return kinds.count("win"), kinds.count("stale"), kinds.count("waited")


@pytest.mark.time_limit(120)
def test_stampede_one_winner_per_round(mc):
    conns = [McConn(mc.host, mc.mc_port, timeout=10) for _ in range(STAMPEDE_CLIENTS)]
    admin = McConn(mc.host, mc.mc_port)
    report = []
    try:
        admin.cmd(b"md hot")
        # round 1: a cold miss; N30 vivifies an empty placeholder, one client wins
        w, s, wt = _stampede_round(mc, conns, b"mg hot v c t N30", b"value-1", None)
        report.append(("miss (N)", w, s, wt))
        assert (w, s) == (1, 0) and wt == STAMPEDE_CLIENTS - 1
        for rnd in range(2, 5):
            # invalidation rounds: the item goes stale, one client wins the recompute, the rest are served stale
            assert admin.cmd(b"md hot I T30") == b"HD"
            old = b"value-%d" % (rnd - 1)
            w, s, wt = _stampede_round(mc, conns, b"mg hot v c t N30", b"value-%d" % rnd, old)
            report.append((f"invalidate (I) {rnd}", w, s, wt))
            assert (w, s, wt) == (1, STAMPEDE_CLIENTS - 1, 0)
        # recache round: the TTL (60) falls under R90, one client wins, the rest get the current value with Z
        w, s, wt = _stampede_round(mc, conns, b"mg hot v c t R90", b"value-r", None)
        report.append(("recache (R)", w, s, wt))
        assert w == 1
        # expiry round: the value expires, the clients miss, N vivifies, one wins
        admin.send(b"ms hot 3 T1\r\nexp\r\n")
        assert admin.read_line() == b"HD"
        time.sleep(2.2)
        w, s, wt = _stampede_round(mc, conns, b"mg hot v c t N30", b"value-e", None)
        report.append(("expiry (N)", w, s, wt))
        assert (w, s) == (1, 0)
        _, value = _mg(admin, b"mg hot v")
        assert value == b"value-e"
    finally:
        print(f"\nstampede against {mc.kind}, {STAMPEDE_CLIENTS} clients: " +
              "; ".join(f"{name}: {w} winner, {s} stale, {wt} waited" for name, w, s, wt in report))
        for c in conns:
            c.close()
        admin.close()


# ---------------------------------------------------------------- bad input


def _read_all_until_close(c: McConn, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends within `timeout`, and whether it closed the connection."""
    deadline = time.monotonic() + timeout
    data = c.buf
    c.buf = b""
    while time.monotonic() < deadline:
        c.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = c.sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


@pytest.mark.time_limit(60)
def test_bad_input_exact_errors_others_unaffected(mc, conn):
    other = conn()
    assert other.cmd(b"set keep 7 0 4", b"safe") == b"STORED"

    c = conn()
    assert c.cmd(b"get " + b"k" * 251) == b"CLIENT_ERROR bad command line format"
    assert c.cmd(b"set " + b"k" * 251 + b" 0 0 1", b"x") == b"CLIENT_ERROR bad command line format"
    assert c.read_line() == b"ERROR"  # the data line, read as a command
    assert c.cmd(b"set " + b"k" * 250 + b" 0 0 1", b"x") == b"STORED"
    assert c.cmd(b"set neg 0 0 -1", b"abc") == b"CLIENT_ERROR bad command line format"
    assert c.read_line() == b"ERROR"
    assert c.cmd(b"set big 0 0 %d" % (ITEM_LIMIT + 1), b"b" * (ITEM_LIMIT + 1)) == \
        b"SERVER_ERROR object too large for cache"
    assert c.cmd(b"get big") == b"END"
    assert c.cmd(b"\x00\x01\xfe\xff garbage \x7f") == b"ERROR"
    assert c.cmd(b"bogus command") == b"ERROR"
    assert c.cmd(b"set short 0 0 3", b"abcdef") == b"CLIENT_ERROR bad data chunk"
    assert c.read_line() == b"ERROR"
    assert c.cmd(b"ms m 1 Zz", b"x") == b"CLIENT_ERROR invalid flag"
    assert c.get(b"keep") == {b"keep": (7, b"safe")}  # this connection still works

    # a line over the limit: the server closes that connection (memcached sends nothing, just closes)
    long = conn()
    long.send(b"z" * 70000 + b"\r\n")
    data, closed = _read_all_until_close(long, 5)
    assert closed, f"a 70,000-byte command line did not close the connection; got {data[:100]!r}"
    assert data in (b"", b"CLIENT_ERROR line too long\r\n"), data[:200]

    # a 2 MB line with no newline at all, sent slowly in pieces: closed too, memory bounded
    endless = conn()
    closed = False
    try:
        for _ in range(64):
            endless.send(b"g" * 32768)
    except OSError:
        closed = True
    if not closed:
        _, closed = _read_all_until_close(endless, 5)
    assert closed, "a 2 MB line without newline did not close the connection"

    assert other.get(b"keep") == {b"keep": (7, b"safe")}
    assert other.cmd(b"incr keep 1") == b"CLIENT_ERROR cannot increment or decrement non-numeric value"
    assert_alive(mc)
