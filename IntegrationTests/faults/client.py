"""A thin cluster client that measures availability honestly, and the workloads built on it.

`Router` keeps a slot -> node map from CLUSTER SLOTS, one connection per node, short timeouts and no hidden
retries: -MOVED updates the map and re-sends (the command was not executed), -ASK is followed once; every
other error, a refused connection or a timeout ends the operation and is recorded as it is (see history.py).
After a connection problem the map is refreshed from any node that answers (at most every 100 ms).

Workloads run client threads (one Router each) until stopped, recording into a shared History:
    SetWorkload       each op writes a fresh key (an element added to a set), optionally followed by WAIT
    CounterWorkload   INCR of one counter key, optionally followed by WAIT
    RegisterWorkload  random reads and writes (unique values) of a few keys
Keys can be restricted to a set of slots (e.g. one primary's), so that a fault on that primary shows up in
every op.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Iterable, Optional

from redis.crc import key_slot

from resp import ConnectionClosed, ProtocolViolation, ReplyTimeout, RespConnection

from .history import FAIL, OK, UNKNOWN, History, Op

SLOTS = 16384


def slot_of(key: str) -> int:
    return key_slot(key.encode())


def key_in_slots(prefix: str, slots: Optional[frozenset], rng: random.Random) -> str:
    """A key `prefix:<random>` whose slot is in `slots` (any slot when None)."""
    while True:
        k = f"{prefix}:{rng.getrandbits(40):x}"
        if slots is None or slot_of(k) in slots:
            return k


class OpFailed(Exception):
    """The op certainly did not execute."""


class OpUnknown(Exception):
    """The op may have executed."""


class Router:
    def __init__(self, seeds: Iterable[tuple[str, int]], timeout: float = 0.5, connect_timeout: float = 0.3,
                 refresh_interval: float = 0.1):
        self.seeds = list(seeds)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.refresh_interval = refresh_interval
        self.owner: list[Optional[tuple[str, int]]] = [None] * SLOTS
        self.conns: dict[tuple[str, int], RespConnection] = {}
        self.last_refresh = 0.0
        self.last_reply_time: Optional[float] = None
        self.rng = random.Random()

    def close(self) -> None:
        for c in self.conns.values():
            c.close()
        self.conns.clear()

    def refresh(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self.last_refresh < self.refresh_interval:
            return False
        self.last_refresh = now
        candidates = list(dict.fromkeys(self.seeds + [a for a in self.owner if a]))
        self.rng.shuffle(candidates)
        for host, port in candidates:
            try:
                with RespConnection(host, port, timeout=self.connect_timeout) as c:
                    f = c.call("CLUSTER", "SLOTS", timeout=self.timeout)
                if f.kind != "*" or not f.value:
                    continue
                owner: list[Optional[tuple[str, int]]] = [None] * SLOTS
                for entry in f.value:
                    lo, hi, master = entry.value[0].value, entry.value[1].value, entry.value[2].value
                    addr = (master[0].value.decode() or host, master[1].value)
                    for s in range(lo, hi + 1):
                        owner[s] = addr
                self.owner = owner
                return True
            except Exception:
                continue
        return False

    def _conn(self, addr: tuple[str, int]) -> RespConnection:
        c = self.conns.get(addr)
        if c is None:
            try:
                c = RespConnection(addr[0], addr[1], timeout=self.connect_timeout)
            except OSError as e:
                raise OpFailed(f"connect:{type(e).__name__}") from None
            c.sock.settimeout(self.timeout)
            self.conns[addr] = c
        return c

    def _drop(self, addr: tuple[str, int]) -> None:
        c = self.conns.pop(addr, None)
        if c:
            c.close()

    def _call(self, addr, args, timeout) -> object:
        c = self._conn(addr)
        try:
            c.send_command(*args)
        except OSError:
            # Nothing (or part of the command) reached the server? We cannot know: unknown.
            self._drop(addr)
            raise OpUnknown("send") from None
        try:
            return c.read_reply(timeout)
        except ReplyTimeout:
            self._drop(addr)
            raise OpUnknown("timeout") from None
        except (ConnectionClosed, OSError, ProtocolViolation):
            self._drop(addr)
            raise OpUnknown("closed") from None

    def execute(self, key: str, *args, then: Optional[tuple] = None, then_timeout: Optional[float] = None):
        """Runs `args` on the owner of key's slot (following MOVED, and ASK once), then `then` (e.g. WAIT) on the
        same connection. Returns (reply frame, then-frame or None, address). Raises OpFailed / OpUnknown."""
        slot = slot_of(key)
        for _ in range(6):
            addr = self.owner[slot]
            if addr is None:
                self.refresh(force=True)
                addr = self.owner[slot]
                if addr is None:
                    raise OpFailed("noroute")
            try:
                reply = self._call(addr, args, self.timeout)
                if reply.kind == "-" and reply.value.startswith(b"ASK "):
                    target = reply.value.decode().split(" ")[2].rsplit(":", 1)
                    addr = (target[0] or addr[0], int(target[1]))
                    self._call(addr, ("ASKING",), self.timeout)
                    reply = self._call(addr, args, self.timeout)
            except (OpFailed, OpUnknown):
                self.refresh()
                raise
            if reply.kind == "-":
                text = reply.value.decode(errors="replace")
                word = text.split(" ", 1)[0]
                if word == "MOVED":
                    host, port = text.split(" ")[2].rsplit(":", 1)
                    self.owner[slot] = (host or addr[0], int(port))
                    self.refresh()
                    continue
                if word in ("CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN", "READONLY"):
                    self.refresh()
                raise OpFailed(word)
            self.last_reply_time = time.monotonic()
            return reply, self._then(addr, then, then_timeout), addr
        raise OpFailed("redirects")

    def _then(self, addr, then, then_timeout):
        if then is None:
            return None
        return self._call(addr, then, then_timeout or self.timeout)


class ClientThread(threading.Thread):
    def __init__(self, workload: "Workload", process: int):
        super().__init__(daemon=True, name=f"fault-client-{process}")
        self.workload = workload
        self.process = process

    def run(self) -> None:
        w = self.workload
        router = Router(w.seeds, timeout=w.timeout, connect_timeout=w.connect_timeout)
        router.refresh(force=True)
        rng = random.Random(self.process * 7919 + int(time.time()))
        try:
            for seq in itertools.count():
                if w.stop_event.is_set():
                    return
                op = w.step(router, self.process, seq, rng)
                w.history.add(op)
                if op.outcome != OK and op.note != "noack":
                    time.sleep(w.error_pause)
                elif w.pause:
                    time.sleep(w.pause)
        finally:
            router.close()


class Workload:
    """Base: `threads` client threads calling step() until stop()."""

    def __init__(self, seeds, history: Optional[History] = None, threads: int = 4, timeout: float = 0.5,
                 connect_timeout: float = 0.3, pause: float = 0.0, error_pause: float = 0.02,
                 process_base: int = 0):
        self.seeds = list(seeds)
        self.history = history if history is not None else History()
        self.n_threads = threads
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.pause = pause
        self.error_pause = error_pause
        self.process_base = process_base
        self.stop_event = threading.Event()
        self.threads: list[ClientThread] = []

    def start(self) -> "Workload":
        self.threads = [ClientThread(self, self.process_base + i) for i in range(self.n_threads)]
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)

    def step(self, router: Router, process: int, seq: int, rng: random.Random) -> Op:
        raise NotImplementedError

    # shared: a write (args) optionally followed by WAIT
    def _write(self, router: Router, process: int, opname: str, key: str, value, args: tuple,
               wait: Optional[tuple[int, int]]) -> Op:
        t0 = time.monotonic()
        then = ("WAIT", wait[0], wait[1]) if wait else None
        then_timeout = wait[1] / 1000 + router.timeout if wait else None
        result = served_at = None
        router.last_reply_time = None
        try:
            reply, acked, _ = router.execute(key, *args, then=then, then_timeout=then_timeout)
            result = reply.value
            served_at = router.last_reply_time
            if wait is None:
                outcome, note = OK, ""
            elif acked is not None and acked.kind == ":" and acked.value >= wait[0]:
                outcome, note = OK, ""
            elif acked is not None and acked.kind == ":":
                outcome, note = UNKNOWN, "noack"
            else:
                outcome, note = UNKNOWN, f"wait:{acked!r}"[:40]
        except OpFailed as e:
            outcome, note = FAIL, str(e)
        except OpUnknown as e:
            outcome, note = UNKNOWN, str(e)
            served_at = router.last_reply_time  # set when only the WAIT timed out
            if served_at is not None:
                note = "noack"
        return Op(process, opname, key, value, t0, time.monotonic(), outcome, note, result, served_at)


class SetWorkload(Workload):
    """Adds fresh keys `<prefix>:<random>` (value = the key's sequence tag), followed by WAIT when `wait`."""

    def __init__(self, seeds, prefix: str = "set", slots: Optional[frozenset] = None,
                 wait: Optional[tuple[int, int]] = (1, 200), **kw):
        super().__init__(seeds, **kw)
        self.prefix, self.slots, self.wait = prefix, slots, wait

    def step(self, router, process, seq, rng):
        key = key_in_slots(f"{self.prefix}:{process}", self.slots, rng)
        return self._write(router, process, "add", key, key, ("SET", key, f"{process}:{seq}"), self.wait)


class CounterWorkload(Workload):
    def __init__(self, seeds, key: str = "counter", wait: Optional[tuple[int, int]] = (1, 200), **kw):
        super().__init__(seeds, **kw)
        self.key, self.wait = key, wait

    def step(self, router, process, seq, rng):
        return self._write(router, process, "incr", self.key, 1, ("INCR", self.key), self.wait)


class RegisterWorkload(Workload):
    """Reads and writes of `keys`; every write value is unique (`<process>:<seq>`)."""

    def __init__(self, seeds, keys: list[str], read_ratio: float = 0.5, **kw):
        super().__init__(seeds, **kw)
        self.keys, self.read_ratio = keys, read_ratio

    def step(self, router, process, seq, rng):
        key = rng.choice(self.keys)
        if rng.random() < self.read_ratio:
            t0 = time.monotonic()
            try:
                reply, _, _ = router.execute(key, "GET", key)
                value = None if reply.value is None else reply.value.decode()
                return Op(process, "read", key, None, t0, time.monotonic(), OK, "", value)
            except OpFailed as e:
                return Op(process, "read", key, None, t0, time.monotonic(), FAIL, str(e))
            except OpUnknown as e:
                return Op(process, "read", key, None, t0, time.monotonic(), UNKNOWN, str(e))
        value = f"{process}:{seq}"
        return self._write(router, process, "write", key, value, ("SET", key, value), None)


def read_keys(seeds, keys: Iterable[str], attempts: int = 50, timeout: float = 2.0) -> dict[str, Optional[str]]:
    """Final read: GET of every key through a Router, retried until each read succeeds (raises if one keeps
    failing). Pipelined per node."""
    router = Router(seeds, timeout=timeout, connect_timeout=timeout)
    router.refresh(force=True)
    pending = list(dict.fromkeys(keys))
    out: dict[str, Optional[str]] = {}
    try:
        for _ in range(attempts):
            if not pending:
                return out
            by_node: dict = {}
            for k in pending:
                by_node.setdefault(router.owner[slot_of(k)], []).append(k)
            retry = []
            for addr, ks in by_node.items():
                if addr is None:
                    retry += ks
                    continue
                try:
                    c = router._conn(addr)
                    frames = c.pipeline([("GET", k) for k in ks], timeout=timeout + len(ks) / 5000)
                except Exception:
                    router._drop(addr)
                    retry += ks
                    continue
                for k, f in zip(ks, frames):
                    if f.kind == "-":
                        retry.append(k)
                    else:
                        out[k] = None if f.value is None else f.value.decode()
            pending = retry
            if pending:
                time.sleep(0.1)
                router.refresh(force=True)
        raise RuntimeError(f"final read: {len(pending)} keys still unreadable, e.g. {pending[:3]}")
    finally:
        router.close()


class DirectProbe(threading.Thread):
    """Writes `SET key <n>` (then `WAIT` when given) straight to one node, no redirects followed, every
    `interval` seconds, recording (time, result): 'ok' (no WAIT), 'acked' / 'noack' (WAIT reached the
    replicas or not), an error reply's first word ('MOVED', 'CLUSTERDOWN', ...), 'timeout', 'closed',
    'connect'."""

    def __init__(self, host: str, port: int, key: str, wait: Optional[tuple[int, int]] = None,
                 interval: float = 0.01, timeout: float = 0.3):
        super().__init__(daemon=True, name=f"probe-{host}:{port}")
        self.host, self.port, self.key, self.wait = host, port, key, wait
        self.interval, self.timeout = interval, timeout
        self.records: list[tuple[float, str]] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        conn = None
        n = 0
        while not self.stop_event.is_set():
            n += 1
            result = None
            try:
                if conn is None:
                    try:
                        conn = RespConnection(self.host, self.port, timeout=self.timeout)
                    except OSError:
                        result = "connect"
                if conn is not None:
                    f = conn.call("SET", self.key, str(n), timeout=self.timeout)
                    if f.kind == "-":
                        result = f.value.decode(errors="replace").split(" ", 1)[0]
                    elif self.wait is None:
                        result = "ok"
                    else:
                        a = conn.call("WAIT", self.wait[0], self.wait[1], timeout=self.wait[1] / 1000 + self.timeout)
                        result = "acked" if a.kind == ":" and a.value >= self.wait[0] else "noack"
            except ReplyTimeout:
                result = "timeout"
            except (ConnectionClosed, OSError, ProtocolViolation):
                result = "closed"
            if result in ("timeout", "closed") and conn is not None:
                conn.close()
                conn = None
            self.records.append((time.monotonic(), result))
            time.sleep(self.interval)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)

    def first(self, result: str, after: float = 0.0) -> Optional[float]:
        for t, r in list(self.records):
            if t >= after and r == result:
                return t
        return None

    def count(self, result: str, start: float = 0.0, end: float = float("inf")) -> int:
        return sum(1 for t, r in list(self.records) if start <= t <= end and r == result)

    def summary(self, start: float = 0.0, end: float = float("inf")) -> dict[str, int]:
        out: dict[str, int] = {}
        for t, r in list(self.records):
            if start <= t <= end:
                out[r] = out.get(r, 0) + 1
        return out
