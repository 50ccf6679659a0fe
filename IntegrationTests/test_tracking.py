"""Client-side caching (`CLIENT TRACKING`, issue 8's server half) against real roostd processes.

Clients: redis-py with `protocol=3` (its invalidation push handler feeding a near cache; redis-py 8's own
`cache_config` cache refuses servers that report a Redis version below 7.4, Roost and Redis 7.0 both), redis-py in
RESP2 redirecting to a subscriber, redis-cli as a `SUBSCRIBE __redis__:invalidate` listener, and raw RESP
(IntegrationTests/resp.py) where the exact frames matter.

What is checked: every way a key changes reaches the clients that read it (writes from other connections, EXPIRE,
expiry, eviction under maxmemory, memcached-port writes, writes applied on a replica, FLUSHALL's null
invalidation); RESP2 delivery through REDIRECT to a subscriber; BCAST prefixes, NOLOOP and OPTIN; the broken
redirect push; the bounded tracking table (`tracking-table-max-keys`) invalidating what it drops; a stress test
with many writers on other connections and event loops after which no cached value is stale; and a differential
check of the CLIENT TRACKING family's replies and errors against redis-server 7.0.

Every test also passes against redis-server (ROOSTD=/usr/bin/redis-server) except the ones marked roost_only.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time

import pytest
import redis

from resp import Frame, RespConnection
from servers import free_port, roostd_path, start_server, target_is_redis

pytestmark = pytest.mark.time_limit(90)


def _wait(pred, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _text(frame: Frame):
    """A frame as plain Python values (bytes decoded), for readable comparisons."""
    if frame.kind in ("*", ">", "~") and frame.value is not None:
        return [_text(f) for f in frame.value]
    if frame.kind == "%":
        return {_text(k): _text(v) for k, v in frame.value}
    if isinstance(frame.value, bytes):
        return frame.value.decode(errors="replace")
    return frame.value


class Resp3Tracker:
    """A raw RESP3 connection that separates push frames from replies and records invalidated keys."""

    def __init__(self, server, *tracking, track: bool = True, hello: bool = True):
        self.conn = RespConnection(server.host, server.port, timeout=5)
        if hello:
            assert self.conn.call("HELLO", "3").kind == "%"
        self.id = self.conn.call("CLIENT", "ID").value
        self.pushes: list = []
        self.invalidated: list = []  # keys, in order; None for a flush
        if track:
            assert self.call("CLIENT", "TRACKING", "on", *tracking) == "OK"

    def _record(self, frame: Frame) -> None:
        push = _text(frame)
        self.pushes.append(push)
        if push[0] == "invalidate":
            if push[1] is None:
                self.invalidated.append(None)
            else:
                self.invalidated.extend(push[1])

    def call(self, *args):
        self.conn.send_command(*args)
        while True:
            frame = self.conn.read_reply()
            if frame.kind == ">":
                self._record(frame)
                continue
            return _text(frame)

    def poll(self, seconds: float) -> None:
        """Reads pushes for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                frame = self.conn.read_reply(timeout=max(0.01, deadline - time.monotonic()))
            except Exception:
                return
            assert frame.kind == ">", f"unexpected non-push frame {frame}"
            self._record(frame)

    def wait_invalidated(self, keys, timeout: float = 5.0) -> None:
        wanted = set(keys)
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.invalidated):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"invalidations for {sorted(wanted - set(self.invalidated))} never came " \
                                  f"(got {self.pushes})"
            self.poll(min(0.1, remaining))

    def close(self) -> None:
        self.conn.close()


def _redis(server, **kw) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=10, **kw)


def _info(server, section: str) -> dict:
    return _redis(server, decode_responses=True).info(section)


# MARK: RESP3 pushes with redis-py


def test_redis_py_resp3_gets_an_invalidate_push_for_another_connections_write(roost):
    r = _redis(roost, protocol=3, single_connection_client=True)
    pushes = []
    r.connection._parser.set_invalidation_push_handler(pushes.append)
    assert r.client_tracking_on() in (True, b"OK", "OK")
    w = _redis(roost)
    w.set("k", "v1")
    assert r.get("k") == b"v1"
    assert r.mget("m1", "m2") == [None, None]
    w.set("k", "v2")
    w.delete("m2")  # absent: not a change, no invalidation
    w.set("m1", "x")
    conn = r.connection

    def received():
        while conn.can_read(timeout=0.05):
            conn.read_response(push_request=True)
        return {bytes(key) for push in pushes for key in (push[1] or [])} >= {b"k", b"m1"}

    _wait(received, 5, "invalidate pushes for k and m1")
    assert all(push[0] in (b"invalidate", "invalidate") for push in pushes)
    keys = [key for push in pushes for key in push[1]]
    assert sorted(keys) == [b"k", b"m1"], pushes  # one invalidation each; the key is then forgotten
    w.set("k", "v3")  # not read again since: nothing more to say
    time.sleep(0.2)
    while conn.can_read(timeout=0.05):
        conn.read_response(push_request=True)
    assert sorted(key for push in pushes for key in push[1]) == [b"k", b"m1"]
    r.close()


# MARK: What counts as a change


def test_expiry_and_expire_invalidate_without_anyone_touching_the_key(roost):
    t = Resp3Tracker(roost)
    w = _redis(roost)
    w.set("short", "v", px=150)
    w.set("later", "v")
    assert t.call("MGET", "short", "later") == ["v", "v"]
    t.wait_invalidated(["short"], timeout=5)  # the active expiry cycle removed it
    assert "later" not in t.invalidated
    w.pexpire("later", 50)
    t.wait_invalidated(["later"])  # PEXPIRE changed it
    t.close()


def test_flushall_sends_the_null_invalidation(roost):
    t = Resp3Tracker(roost, "NOLOOP")
    r = _redis(roost, protocol=3, single_connection_client=True)
    pushes = []
    r.connection._parser.set_invalidation_push_handler(pushes.append)
    r.client_tracking_on()
    assert t.call("GET", "a") is None
    # Even the flushing client itself gets it, NOLOOP or not (as in Redis).
    assert t.call("FLUSHALL") == "OK"
    t.wait_invalidated([None])
    _wait(lambda: r.ping() and pushes, 5, "redis-py to see the flush")
    assert pushes == [[b"invalidate", None]]
    t.close()


def test_eviction_under_maxmemory_invalidates_every_evicted_key(start_roost):
    server = start_roost("--loglevel", "warning", "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
    t = Resp3Tracker(server)
    w = _redis(server)
    value = b"x" * 200
    keys = [f"read:{i}" for i in range(200)]
    w.mset({k: value for k in keys})
    for start in range(0, len(keys), 50):
        assert len(t.call("MGET", *keys[start:start + 50])) == 50
    pipe = w.pipeline(transaction=False)
    for i in range(30000):
        pipe.set(f"fill:{i}", value)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    assert _info(server, "stats")["evicted_keys"] > 0
    gone = [k for k in keys if not w.exists(k)]
    assert gone, "the fill should have evicted some of the keys the tracker read"
    t.wait_invalidated(gone, timeout=10)
    t.close()


def test_memcached_set_invalidates_a_resp_reader(start_roost):
    if target_is_redis():
        pytest.skip("redis-server has no memcached port")
    mc_port = free_port()
    server = start_roost("--loglevel", "warning", "--memcached-port", str(mc_port))
    t = Resp3Tracker(server)
    assert t.call("GET", "mc:key") is None
    with socket.create_connection((server.host, mc_port), timeout=5) as mc:
        mc.sendall(b"set mc:key 0 0 5\r\nhello\r\n")
        assert mc.recv(64) == b"STORED\r\n"
        t.wait_invalidated(["mc:key"])
        assert t.call("GET", "mc:key") == "hello"
        mc.sendall(b"delete mc:key\r\n")
        assert mc.recv(64) == b"DELETED\r\n"
    t.invalidated.clear()
    t.wait_invalidated(["mc:key"])
    t.close()


def test_writes_applied_on_a_replica_invalidate_its_tracking_clients(start_roost):
    primary = start_roost("--loglevel", "warning", *([] if not target_is_redis() else ["--repl-diskless-sync-delay", "0"]))
    replica = start_roost("--loglevel", "warning")
    assert _redis(replica).replicaof(primary.host, primary.port)
    p = _redis(primary)
    p.set("replicated", "v1")
    _wait(lambda: _redis(replica).get("replicated") == b"v1", 15, "the replica to sync")
    t = Resp3Tracker(replica)
    assert t.call("GET", "replicated") == "v1"
    p.set("replicated", "v2")
    t.wait_invalidated(["replicated"], timeout=10)
    assert t.call("GET", "replicated") == "v2"
    p.delete("replicated")
    t.invalidated.clear()
    t.wait_invalidated(["replicated"], timeout=10)
    t.close()


# MARK: Delivery modes


def test_resp2_redirect_to_a_redis_cli_subscriber(roost):
    """A RESP2 tracking client (redis-py) redirects to a connection subscribed to __redis__:invalidate; the
    subscriber is redis-cli, which prints each message it gets."""
    listener = subprocess.Popen(
        ["redis-cli", "-h", roost.host, "-p", str(roost.port), "SUBSCRIBE", "__redis__:invalidate"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        probe = _redis(roost, decode_responses=True)
        sub = _wait(lambda: [c for c in probe.client_list() if c["cmd"] == "subscribe"], 5, "redis-cli to subscribe")
        assert "P" in sub[0]["flags"] and sub[0]["sub"] == "1"
        r = _redis(roost, single_connection_client=True)
        assert r.client_tracking_on(clientid=int(sub[0]["id"])) in (True, b"OK", "OK")
        assert r.execute_command("CLIENT", "GETREDIR") == int(sub[0]["id"])
        info = r.execute_command("CLIENT", "TRACKINGINFO")
        assert info == {b"flags": [b"on"], b"redirect": int(sub[0]["id"]), b"prefixes": []}, info
        mine = [c for c in probe.client_list() if c["id"] == str(r.client_id())][0]
        assert mine["flags"] == "t" and mine["redir"] == sub[0]["id"]
        assert r.get("shared") is None
        _redis(roost).set("shared", "1")
        lines = []
        deadline = time.monotonic() + 5
        while "shared" not in lines and time.monotonic() < deadline:
            lines.append(listener.stdout.readline().strip())
        # redis-cli prints the subscribe confirmation, then `message`, the channel and the payload's elements.
        assert lines[-3:] == ["message", "__redis__:invalidate", "shared"], lines
    finally:
        listener.terminate()
        listener.wait(5)


def test_resp2_redirect_frames_and_the_subscribed_mode(roost):
    sub = RespConnection(roost.host, roost.port)
    sub_id = sub.call("CLIENT", "ID").value
    assert _text(sub.call("SUBSCRIBE", "__redis__:invalidate")) == ["subscribe", "__redis__:invalidate", 1]
    tracker = RespConnection(roost.host, roost.port)
    assert tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", sub_id).value == b"OK"
    assert _text(tracker.call("GET", "k")) is None
    w = _redis(roost)
    w.set("k", "v")
    assert _text(sub.read_reply()) == ["message", "__redis__:invalidate", ["k"]]
    w.flushall()
    frame, raw = sub.read_reply_raw()
    assert raw == b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    # A RESP2 subscriber may only run the pub/sub commands, PING, QUIT and RESET.
    assert sub.call("GET", "k").value == (b"ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING "
                                          b"/ QUIT / RESET are allowed in this context")
    assert _text(sub.call("PING")) == ["pong", ""]
    assert _text(sub.call("UNSUBSCRIBE")) == ["unsubscribe", "__redis__:invalidate", 0]
    assert sub.call("GET", "k").kind == "$"
    # Not subscribed any more: a redirected invalidation has no way to reach a RESP2 connection.
    assert _text(tracker.call("GET", "k")) is None
    w.set("k", "again")
    assert tracker.call("PING").value == b"PONG"
    with pytest.raises(Exception):
        sub.read_reply(timeout=0.3)


def test_redirect_target_gone_sends_tracking_redir_broken(roost):
    target = RespConnection(roost.host, roost.port)
    target_id = target.call("CLIENT", "ID").value
    t = Resp3Tracker(roost, "REDIRECT", target_id)
    assert t.call("CLIENT", "GETREDIR") == target_id
    assert t.call("GET", "k") is None
    target.close()
    _wait(lambda: all(c["id"] != str(target_id) for c in _redis(roost, decode_responses=True).client_list()), 5,
          "the target to be gone")
    _redis(roost).set("k", "v")
    _wait(lambda: t.poll(0.1) or ["tracking-redir-broken", target_id] in t.pushes, 5, "tracking-redir-broken")
    info = t.call("CLIENT", "TRACKINGINFO")
    assert info == {"flags": ["on", "broken_redirect"], "redirect": target_id, "prefixes": []}
    assert "flags=tR " in t.call("CLIENT", "INFO")
    t.close()


def test_bcast_prefixes_noloop_and_optin(roost):
    bcast = Resp3Tracker(roost, "BCAST", "PREFIX", "user:", "PREFIX", "session:", "NOLOOP")
    optin = Resp3Tracker(roost, "OPTIN")
    w = _redis(roost)
    assert optin.call("GET", "plain") is None  # not remembered: no CLIENT CACHING yes before it
    assert optin.call("CLIENT", "CACHING", "yes") == "OK"
    assert optin.call("GET", "cached") is None  # remembered
    w.mset({"user:1": "a", "order:1": "b", "session:9": "c", "plain": "d", "cached": "e"})
    bcast.wait_invalidated(["user:1", "session:9"])
    optin.wait_invalidated(["cached"])
    assert bcast.call("SET", "user:2", "own write") == "OK"  # NOLOOP: not reported back to the writer
    w.set("user:3", "x")
    bcast.wait_invalidated(["user:3"])
    assert set(bcast.invalidated) == {"user:1", "session:9", "user:3"}
    assert optin.call("PING") == "PONG"
    optin.poll(0.2)
    assert optin.invalidated == ["cached"]
    info = bcast.call("CLIENT", "TRACKINGINFO")
    assert info == {"flags": ["on", "bcast", "noloop"], "redirect": 0, "prefixes": ["session:", "user:"]}
    stats = _info(roost, "stats")
    assert stats["tracking_total_prefixes"] == 2
    assert _info(roost, "clients")["tracking_clients"] == 2
    bcast.close()
    optin.close()


def test_own_write_invalidation_follows_the_reply_in_a_pipeline(roost):
    """The connection's own write: the push comes right after that command's reply, before the next reply."""
    t = Resp3Tracker(roost)
    assert t.call("GET", "k") is None
    t.conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n2\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    frames = [_text(t.conn.read_reply()) for _ in range(3)]
    assert frames == ["OK", ["invalidate", ["k"]], "2"]
    t.close()


# MARK: The bounded table


@pytest.mark.roost_only("a table bound enforced on every read (Redis trims an oversized table in its cron)")
def test_a_full_tracking_table_invalidates_what_it_drops(start_roost):
    server = start_roost("--loglevel", "warning", "--tracking-table-max-keys", "10")
    assert _redis(server, decode_responses=True).config_get("tracking-table-max-keys") == {
        "tracking-table-max-keys": "10"}
    t = Resp3Tracker(server)
    keys = [f"bounded:{i}" for i in range(100)]
    for key in keys:
        assert t.call("GET", key) is None
        assert _info(server, "stats")["tracking_total_keys"] <= 10
    # 90 keys were dropped (chosen at random), each with its invalidation; 10 are still remembered.
    _wait(lambda: t.poll(0.05) or len(t.invalidated) >= 90, 5, "90 invalidations")
    t.poll(0.2)
    assert len(t.invalidated) == 90 and len(set(t.invalidated)) == 90, t.invalidated
    assert _info(server, "stats")["tracking_total_keys"] == 10
    # The ones still remembered are reported when they change: every key read was covered.
    w = _redis(server)
    w.mset({k: "v" for k in keys})
    t.wait_invalidated(keys)
    assert sorted(t.invalidated) == sorted(keys)  # exactly once each
    # Lowering the bound drops (and invalidates) at once.
    for key in keys[:10]:
        t.call("GET", key)
    t.invalidated.clear()
    _redis(server).config_set("tracking-table-max-keys", 4)
    assert _info(server, "stats")["tracking_total_keys"] == 4
    t.wait_invalidated([])
    t.poll(0.3)
    assert len(t.invalidated) == 6
    t.close()


# MARK: Stress: many writers, other connections, other event loops


@pytest.mark.time_limit(120)
def test_many_writers_leave_no_stale_value_in_a_near_cache(start_roost):
    """Readers keep a near cache filled by GET and emptied by invalidation pushes while writers on other
    connections (and event loops) overwrite the same keys. After the writers stop and each reader has made one
    round trip, every cached value equals the server's: no invalidation was lost or overtaken by a stale reply.

    What it cannot show: the microsecond window between a read and its registration (a server that registered
    after reading would pass it nearly always, tried); TrackingDispatchTests pins that order deterministically."""
    extra = [] if target_is_redis() else ["--event-loops", "4"]
    server = start_roost("--loglevel", "warning", *extra)
    keys = [f"hot:{i}" for i in range(24)]
    _redis(server).mset({k: "0" for k in keys})
    stop = threading.Event()
    errors: list = []
    writes = [0]

    def writer(seed: int):
        try:
            w = _redis(server)
            rng = random.Random(seed)
            n = 0
            while not stop.is_set():
                key = rng.choice(keys)
                if rng.random() < 0.1:
                    w.delete(key)
                else:
                    n += 1
                    w.set(key, f"{seed}:{n}")
            writes[0] += n
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    class Reader:
        def __init__(self, seed):
            self.r = _redis(server, protocol=3, single_connection_client=True)
            self.cache: dict = {}
            self.hits = 0
            self.r.connection._parser.set_invalidation_push_handler(self.on_push)
            self.r.client_tracking_on()
            self.rng = random.Random(seed)

        def on_push(self, push):
            if push[1] is None:
                self.cache.clear()
            else:
                for key in push[1]:
                    self.cache.pop(key.decode(), None)

        def drain(self):
            conn = self.r.connection
            while conn.can_read(timeout=0):
                conn.read_response(push_request=True)

        def get(self, key):
            self.drain()
            if key in self.cache:
                self.hits += 1
                return self.cache[key]
            value = self.r.get(key)
            self.cache[key] = value
            return value

    readers = [Reader(i) for i in range(3)]

    def read_loop(reader):
        try:
            while not stop.is_set():
                reader.get(reader.rng.choice(keys))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=read_loop, args=(reader,)) for reader in readers]
    for th in threads:
        th.start()
    time.sleep(6)
    stop.set()
    for th in threads:
        th.join(30)
    assert not errors, errors
    truth = dict(zip(keys, _redis(server).mget(keys)))
    for reader in readers:
        # Every write was acknowledged before now, so its invalidation is queued on the reader's connection; two
        # round trips carry everything queued before them.
        reader.r.ping()
        reader.r.ping()
        reader.drain()
        stale = {k: (v, truth[k]) for k, v in reader.cache.items() if v != truth[k]}
        assert not stale, f"stale cached values (cached, server): {stale}"
        assert reader.hits > 0, "the near cache never served a hit: the test did not test anything"
    assert writes[0] > 200


# MARK: Differential: replies and errors of the CLIENT TRACKING family


def _session(server) -> list:
    """Runs the same script on a server and returns every reply, raw, with client ids replaced by names."""
    a = RespConnection(server.host, server.port)
    b = RespConnection(server.host, server.port)
    a_id, b_id = a.call("CLIENT", "ID").value, b.call("CLIENT", "ID").value
    ids = {str(a_id).encode(): b"<A>", str(b_id).encode(): b"<B>"}

    def norm(raw: bytes) -> bytes:
        for real, name in ids.items():
            raw = raw.replace(b":" + real + b"\r\n", b":" + name + b"\r\n")
        return raw

    out = []

    def run(conn, *args):
        name = " ".join(args)
        args = [str(b_id) if x == "<B>" else str(a_id) if x == "<A>" else x for x in args]
        frame, raw = conn.call_raw(*args)
        if args[0] == "HELLO":
            out.append((name, frame.kind))  # server details differ; the shape is checked elsewhere
        elif "GETREDIR" in args or "TRACKINGINFO" in args:
            out.append((name, norm(raw)))  # the only replies that carry a client id
        else:
            out.append((name, raw))

    script = [
        ("CLIENT", "TRACKING"), ("CLIENT", "TRACKING", "maybe"), ("CLIENT", "TRACKING", "on", "bogus"),
        ("CLIENT", "TRACKING", "on", "PREFIX", "a"), ("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
        ("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"), ("CLIENT", "TRACKING", "on", "REDIRECT", "999999"),
        ("CLIENT", "TRACKING", "on", "REDIRECT", "x"), ("CLIENT", "TRACKING", "on", "REDIRECT", "0"),
        ("CLIENT", "TRACKING", "on", "REDIRECT", "<B>", "REDIRECT", "<B>"),
        ("CLIENT", "TRACKING", "on", "REDIRECT"), ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab"),
        ("CLIENT", "CACHING", "yes"), ("CLIENT", "CACHING"), ("CLIENT", "GETREDIR"), ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "TRACKINGINFO", "x"),
        ("CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", "<B>"), ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "CACHING", "no"), ("CLIENT", "CACHING", "maybe"), ("CLIENT", "CACHING", "yes"),
        ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"), ("GET", "x"), ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "TRACKING", "on", "OPTOUT"), ("CLIENT", "TRACKING", "on", "BCAST"),
        ("CLIENT", "TRACKING", "on", "NOLOOP"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"),
        ("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "off", "NOLOOP"), ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "CACHING", "yes"),
        ("CLIENT", "TRACKING", "on", "OPTOUT"), ("CLIENT", "CACHING", "yes"), ("CLIENT", "CACHING", "no"),
        ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "off"),
        ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b", "PREFIX", "a", "NOLOOP"),
        ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"), ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"),
        ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"), ("CLIENT", "TRACKING", "on", "BCAST"),
        ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d"), ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "TRACKING", "on"), ("HELLO", "3"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "off"),
        ("CLIENT", "TRACKINGINFO"), ("HELLO", "2"),
        ("CLIENT", "TRACKING", "on", "bcast", "prefix", "", "prefix", "x"),
        ("CLIENT", "TRACKING", "off"),
    ]
    for command in script:
        run(a, *command)
    # The subscribed mode of RESP2 and its error text.
    for command in [("SUBSCRIBE",), ("SUBSCRIBE", "ch1", "ch2"), ("GET", "k"), ("CLIENT", "ID"), ("PING",),
                    ("PING", "x"), ("PING", "x", "y"), ("UNSUBSCRIBE", "ch1"), ("UNSUBSCRIBE",), ("UNSUBSCRIBE",),
                    ("GET", "k")]:
        b.send_command(*command)
        frames = []
        expected = 2 if command == ("SUBSCRIBE", "ch1", "ch2") else 1
        for _ in range(expected):
            frames.append(b.read_reply_raw()[1])
        out.append((" ".join(command), b"".join(frames)))
    for command in [("HELLO", "3"), ("SUBSCRIBE", "ch"), ("GET", "k"), ("UNSUBSCRIBE",), ("UNSUBSCRIBE",), ("RESET",)]:
        b.send_command(*command)
        out.append((" ".join(command), b.read_reply_raw()[1] if command[0] != "HELLO" else b.read_reply().kind))
    a.close()
    b.close()
    return out


def test_client_tracking_family_matches_redis(roost, redis_ref):
    ours, theirs = _session(roost), _session(redis_ref)
    assert len(ours) == len(theirs)
    for (command, mine), (_, reference) in zip(ours, theirs):
        assert mine == reference, f"{command}: roostd {mine!r}, redis-server {reference!r}"
