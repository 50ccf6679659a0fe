"""Operation histories recorded by the clients.

An `Op` is one logical client operation: (process, op, key, value, invoke, complete, outcome[, note, result]).
    op        'add' (write a fresh key: a set element), 'incr' (counter), 'write' / 'read' (register)
    outcome   'ok'      it happened (for writes followed by WAIT: acknowledged by the required replicas)
              'fail'    it certainly did not happen (error reply before execution: -CLUSTERDOWN, -MOVED
                        exhausted, connection refused, ...)
              'unknown' it may or may not have happened (timeout or connection lost after sending, or
                        written on the primary but WAIT returned too few replicas: note 'noack')
    result    what a read returned / the counter value INCR returned
    served_at when the reply to the command itself arrived (for a write followed by WAIT: before the WAIT), so
              that availability figures do not include WAIT's own wait
Times are time.monotonic() seconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterable, Optional

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


@dataclass
class Op:
    process: int
    op: str
    key: str
    value: Any
    invoke: float
    complete: float
    outcome: str
    note: str = ""
    result: Any = None
    served_at: Optional[float] = None  # when the server's reply to the write itself arrived (before any WAIT)

    @property
    def served(self) -> bool:
        """The server executed it (acknowledged, or written but not replicated in time)."""
        return self.outcome == OK or self.note == "noack"


class History:
    def __init__(self):
        self.ops: list[Op] = []
        self._lock = threading.Lock()

    def add(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def __iter__(self):
        return iter(list(self.ops))

    def __len__(self) -> int:
        return len(self.ops)

    def of(self, op: Optional[str] = None, outcome: Optional[str] = None) -> list[Op]:
        return [o for o in self.ops if (op is None or o.op == op) and (outcome is None or o.outcome == outcome)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.ops:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out

    def notes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.ops:
            if o.note:
                out[o.note] = out.get(o.note, 0) + 1
        return out


def served_time(o: Op) -> float:
    return o.served_at if o.served_at is not None else o.complete


def first_served_after(ops: Iterable[Op], t: float) -> Optional[float]:
    """When the first served op invoked at or after t was served (None if none)."""
    times = [served_time(o) for o in ops if o.invoke >= t and o.served]
    return min(times) if times else None


def max_gap(ops: Iterable[Op], start: float, end: float) -> float:
    """Longest interval within [start, end] with no served op completing: how long clients saw no service."""
    times = sorted(served_time(o) for o in ops if o.served and start <= served_time(o) <= end)
    points = [start] + times + [end]
    return max(b - a for a, b in zip(points, points[1:]))
