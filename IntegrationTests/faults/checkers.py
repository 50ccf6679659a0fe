"""Checkers over recorded histories (see history.py for the outcomes).

check_set(history, final)        every ok add present in the final read ('lost' otherwise); a present key whose
                                 add certainly failed, or that was never added, is 'unexpected'; unknown adds
                                 may be present or not.
check_counter(history, final)    ok increments <= final value <= ok + unknown increments.
check_register(history)          per key: the reads and writes are linearizable as a single register (initial
                                 value: absent/None). Wing & Gong / Lowe's search (as Knossos and Porcupine do)
                                 with memoization of (linearized set, state). Failed ops are dropped, reads with
                                 unknown outcome are dropped, writes with unknown outcome may take effect at any
                                 time after their invocation or never.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .history import FAIL, OK, UNKNOWN, Op


@dataclass
class SetResult:
    valid: bool
    ok: int
    unknown: int
    failed: int
    lost: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    unknown_present: int = 0

    def summary(self) -> str:
        return (f"acked={self.ok} unknown={self.unknown} (present {self.unknown_present}) failed={self.failed} "
                f"lost={len(self.lost)} unexpected={len(self.unexpected)}")


def check_set(ops: Iterable[Op], final: Iterable[str]) -> SetResult:
    adds = [o for o in ops if o.op == "add"]
    present = set(final)
    by_outcome = {OK: set(), FAIL: set(), UNKNOWN: set()}
    for o in adds:
        by_outcome[o.outcome].add(o.value)
    ok, unknown, failed = by_outcome[OK], by_outcome[UNKNOWN] - by_outcome[OK], \
        by_outcome[FAIL] - by_outcome[OK] - by_outcome[UNKNOWN]
    lost = sorted(ok - present)
    attempted = ok | unknown | failed
    unexpected = sorted((present & failed) | (present - attempted))
    return SetResult(not lost and not unexpected, len(ok), len(unknown), len(failed), lost, unexpected,
                     len(unknown & present))


@dataclass
class CounterResult:
    valid: bool
    final: int
    lower: int
    upper: int

    def summary(self) -> str:
        return f"final={self.final} bounds=[{self.lower}, {self.upper}]"


def check_counter(ops: Iterable[Op], final: Optional[int]) -> CounterResult:
    incs = [o for o in ops if o.op == "incr"]
    lower = sum(o.value for o in incs if o.outcome == OK)
    upper = lower + sum(o.value for o in incs if o.outcome == UNKNOWN)
    value = int(final or 0)
    return CounterResult(lower <= value <= upper, value, lower, upper)


# ---- register linearizability --------------------------------------------------------------------------------

@dataclass
class RegisterResult:
    valid: bool
    keys: int
    ops: int
    bad_key: Optional[str] = None
    explored: int = 0
    seconds: float = 0.0
    timed_out: bool = False

    def summary(self) -> str:
        return (f"keys={self.keys} ops={self.ops} explored={self.explored} {self.seconds:.2f}s"
                + (f" NOT linearizable on {self.bad_key!r}" if self.bad_key else "")
                + (" (search budget exhausted)" if self.timed_out else ""))


class _Entry:
    __slots__ = ("op", "is_call", "time", "match", "prev", "next", "id")

    def __init__(self, op, is_call, t, ident):
        self.op, self.is_call, self.time, self.id = op, is_call, t, ident
        self.match = self.prev = self.next = None


def _register_step(state, op: Op):
    if op.op == "write":
        return True, op.value
    return op.result == state, state  # read


def linearizable_register(ops: list[Op], initial: Any = None, budget: int = 5_000_000) -> tuple[Optional[bool], int]:
    """WGL search for one key. Returns (True/False, states explored), or (None, explored) if the budget of
    explored states ran out."""
    usable = []
    for o in ops:
        if o.outcome == FAIL or (o.op == "read" and o.outcome != OK):
            continue
        usable.append(o)
    entries = []
    for i, o in enumerate(usable):
        call = _Entry(o, True, o.invoke, i)
        entries.append(call)
        if o.outcome == OK:  # an unknown write has no return: it may take effect any time after its call, or never
            ret = _Entry(o, False, o.complete, i)
            call.match = ret
            entries.append(ret)
    # by time; at equal times calls first (treats touching ops as concurrent: the permissive reading)
    entries.sort(key=lambda e: (e.time, 0 if e.is_call else 1))
    head = _Entry(None, True, float("-inf"), -1)
    prev = head
    for e in entries:
        prev.next, e.prev = e, prev
        prev = e
    returns_left = sum(1 for e in entries if not e.is_call)

    def lift(e):
        e.prev.next = e.next
        if e.next:
            e.next.prev = e.prev
        m = e.match
        if m:
            m.prev.next = m.next
            if m.next:
                m.next.prev = m.prev

    def unlift(e):
        m = e.match
        if m:
            m.prev.next = m
            if m.next:
                m.next.prev = m
        e.prev.next = e
        if e.next:
            e.next.prev = e

    cache = set()
    stack = []
    state = initial
    linearized = 0
    explored = 0
    entry = head.next
    while returns_left > 0 and entry is not None:
        if entry.is_call:
            ok, new_state = _register_step(state, entry.op)
            if ok:
                new_lin = linearized | (1 << entry.id)
                key = (new_lin, new_state)
                if key not in cache:
                    explored += 1
                    if explored > budget:
                        return None, explored
                    cache.add(key)
                    stack.append((entry, state))
                    state, linearized = new_state, new_lin
                    lift(entry)
                    if entry.match:
                        returns_left -= 1
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # a return whose call is not linearized yet: backtrack
            if not stack:
                return False, explored
            top, state = stack.pop()
            linearized &= ~(1 << top.id)
            unlift(top)
            if top.match:
                returns_left += 1
            entry = top.next
    return True, explored


def check_register(ops: Iterable[Op], initial: Any = None, budget: int = 5_000_000) -> RegisterResult:
    t0 = time.monotonic()
    by_key: dict[str, list[Op]] = {}
    for o in ops:
        if o.op in ("read", "write"):
            by_key.setdefault(o.key, []).append(o)
    explored_total = 0
    n = sum(len(v) for v in by_key.values())
    for key in sorted(by_key):
        ok, explored = linearizable_register(by_key[key], initial, budget)
        explored_total += explored
        if ok is None:
            return RegisterResult(False, len(by_key), n, key, explored_total, time.monotonic() - t0, True)
        if not ok:
            return RegisterResult(False, len(by_key), n, key, explored_total, time.monotonic() - t0)
    return RegisterResult(True, len(by_key), n, None, explored_total, time.monotonic() - t0)
