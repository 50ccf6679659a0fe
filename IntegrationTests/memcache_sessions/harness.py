"""Differential sessions for the memcached protocol: the same bytes to a reference memcached and to the server under
test, in lock step, replies compared after normalisation.

Session files (`*.txt` here), one command per line, run in file order on one connection per server:

    # comment, blank lines ignored
    set k 0 0 3\\r\\nabc        a command: escapes \\r \\n \\t \\0 \\\\ \\xNN are decoded, then macros expanded,
                                 then \\r\\n appended (a storage command carries its data block on the same line)
    @sleep 2.5                   both sides wait (expiry); the clock is shared, the servers are asked in lock step
    @reconnect                   new connections on both sides

Macros: {{A*251}} = 251 times 'A' (any single character); {{now+N}} / {{now-N}} = unix time plus/minus N seconds
(absolute expiry); {{cas}} = the last CAS number this very server returned (gets/gats `VALUE … cas`, meta `c` flag),
so a session can do a CAS round trip against each server with that server's own numbers.

After each command the harness sends `mn\\r\\n` and reads replies up to `MN` (data blocks announced by `VALUE`/`VA`
are read by length), so a command that answers nothing (noreply, quiet mode) compares as an empty reply. A closed
connection compares as `<closed>` (then both sides reconnect), no reply within the deadline as `<timeout>`.

Normalisation (see EXPECTED_DIFFERENCES.md): CAS numbers are renumbered per server by order of first appearance
(#1, #2, ...); `VERSION …` text; `stats` replies are compared as framing only (STAT lines then END); `ME` debug
lines' slab class and item size; meta `t` (remaining TTL) and ME's `la=`/`exp=` may differ by 1 second (the two
servers' clocks tick at different instants).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from memcache import McClosed, McConn, McTimeout  # noqa: E402

SESSION_DIR = HERE
REPLY_TIMEOUT = 3.0

_ESC = re.compile(rb"\\(r|n|t|0|\\|x[0-9a-fA-F]{2})")
_MACRO = re.compile(rb"\{\{(.)\*(\d+)\}\}|\{\{now([+-]\d+)\}\}|\{\{cas\}\}")


def _unescape(raw: bytes) -> bytes:
    def rep(m):
        e = m.group(1)
        return {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}.get(e) or bytes([int(e[1:], 16)])
    return _ESC.sub(rep, raw)


@dataclass
class Step:
    kind: str  # "cmd", "sleep", "reconnect"
    text: bytes = b""
    arg: float = 0.0
    lineno: int = 0


def load_session(path: Path) -> list[Step]:
    steps = []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        line = raw.rstrip(b"\r")
        if not line.strip() or line.startswith(b"#"):
            continue
        if line.startswith(b"@sleep "):
            steps.append(Step("sleep", arg=float(line.split()[1]), lineno=n))
        elif line.strip() == b"@reconnect":
            steps.append(Step("reconnect", lineno=n))
        else:
            steps.append(Step("cmd", text=line, lineno=n))
    return steps


def sessions(pattern: str = "") -> list[Path]:
    return [p for p in sorted(SESSION_DIR.glob("*.txt")) if pattern in p.name]


class Side:
    """One server's connection and its CAS bookkeeping."""

    def __init__(self, name: str, port: int, host: str = "127.0.0.1"):
        self.name, self.host, self.port = name, host, port
        self.conn = McConn(host, port, timeout=REPLY_TIMEOUT)
        self.last_cas = b"0"
        self.cas_ids: dict[bytes, int] = {}

    def reconnect(self):
        self.conn.close()
        self.conn = McConn(self.host, self.port, timeout=REPLY_TIMEOUT)

    def expand(self, text: bytes) -> bytes:
        def rep(m):
            if m.group(1) is not None:
                return m.group(1) * int(m.group(2))
            if m.group(3) is not None:
                return str(int(time.time()) + int(m.group(3))).encode()
            return self.last_cas
        return _unescape(_MACRO.sub(rep, text)) + b"\r\n"

    def run(self, command: bytes) -> list[bytes]:
        c = self.conn
        c.send(command + b"mn\r\n")
        # a session's own `mn` lines answer MN too: those are part of the reply, the last MN is the sentinel's
        own_mn = sum(1 for line in command.split(b"\r\n") if line == b"mn" or line.startswith(b"mn "))
        out: list[bytes] = []
        deadline = time.monotonic() + REPLY_TIMEOUT
        try:
            while True:
                part = c.read_reply_line_with_data(max(0.0, deadline - time.monotonic()))
                if part == [b"MN"]:
                    if own_mn == 0:
                        break
                    own_mn -= 1
                out.extend(part)
        except McClosed:
            out.append(b"<closed>")
            self.reconnect()
        except McTimeout:
            out.append(b"<timeout>")
            self.reconnect()
        except OSError as e:  # e.g. a reset while sending
            out.append(b"<closed>")
            self.reconnect()
        self._note_cas(out)
        return out

    def _note_cas(self, lines: list[bytes]):
        for cas in _cas_numbers(lines):
            self.last_cas = cas

    def cas_id(self, cas: bytes) -> bytes:
        if cas not in self.cas_ids:
            self.cas_ids[cas] = len(self.cas_ids) + 1
        return b"#%d" % self.cas_ids[cas]

    def close(self):
        self.conn.close()


META_CODES = {b"HD", b"VA", b"EN", b"NF", b"NS", b"EX", b"OK"}


def _is_reply_line(lines, i):
    """Data blocks follow VALUE/VA lines; everything else is a reply line."""
    if i == 0:
        return True
    prev = lines[i - 1].split(b" ")
    return not ((prev[0] == b"VALUE" and len(prev) >= 4) or (prev[0] == b"VA" and len(prev) >= 2))


def _cas_numbers(lines):
    for i, line in enumerate(lines):
        if not _is_reply_line(lines, i):
            continue
        f = line.split(b" ")
        if f[0] == b"VALUE" and len(f) >= 5:
            yield f[4]
        elif f[0] in META_CODES:
            for tok in f[1:]:
                if re.fullmatch(rb"c\d+", tok):
                    yield tok[1:]
        elif f[0] == b"ME":
            for tok in f[2:]:
                if tok.startswith(b"cas="):
                    yield tok[4:]


def normalise(side: Side, lines: list[bytes]) -> list[bytes]:
    if lines and lines[-1] == b"END" and len(lines) > 1 and all(l.startswith(b"STAT ") for l in lines[:-1]):
        return [b"<STAT lines>", b"END"]
    out = []
    for i, line in enumerate(lines):
        if not _is_reply_line(lines, i):
            out.append(line)
            continue
        f = line.split(b" ")
        if f[0] == b"VERSION":
            out.append(b"VERSION <text>")
        elif f[0] == b"VALUE" and len(f) >= 5:
            out.append(b" ".join(f[:4] + [side.cas_id(f[4])] + f[5:]))
        elif f[0] in META_CODES:
            out.append(b" ".join(f[:1] + [b"c" + side.cas_id(t[1:]) if re.fullmatch(rb"c\d+", t) else t
                                         for t in f[1:]]))
        elif f[0] == b"ME":
            g = []
            for t in f:
                if t.startswith(b"cas="):
                    t = b"cas=" + side.cas_id(t[4:])
                elif t.startswith(b"cls=") or t.startswith(b"size="):
                    t = t.split(b"=")[0] + b"=*"
                g.append(t)
            out.append(b" ".join(g))
        else:
            out.append(line)
    return out


def _tok_equal(a: bytes, b: bytes) -> bool:
    if a == b:
        return True
    for pat in (rb"t(-?\d+)", rb"la=(\d+)", rb"exp=(-?\d+)"):
        ma, mb = re.fullmatch(pat, a), re.fullmatch(pat, b)
        if ma and mb and a[:1] == b[:1] and int(ma.group(1)) >= 0 and int(mb.group(1)) >= 0:
            return abs(int(ma.group(1)) - int(mb.group(1))) <= 1
    return False


def replies_equal(a: list[bytes], b: list[bytes]) -> bool:
    if len(a) != len(b):
        return False
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        if not _is_reply_line(a, i):
            return False
        xs, ys = x.split(b" "), y.split(b" ")
        if len(xs) != len(ys) or not all(_tok_equal(p, q) for p, q in zip(xs, ys)):
            return False
    return True


@dataclass
class Result:
    compared: int = 0
    mismatches: list = field(default_factory=list)
    transcript: list = field(default_factory=list)


def run_session(path: Path, ref_port: int, tgt_port: int, host: str = "127.0.0.1",
                verbose: bool = False) -> Result:
    res = Result()
    ref, tgt = Side("reference", ref_port, host), Side("target", tgt_port, host)
    try:
        for step in load_session(path):
            if step.kind == "sleep":
                time.sleep(step.arg)
                continue
            if step.kind == "reconnect":
                ref.reconnect()
                tgt.reconnect()
                continue
            a = normalise(ref, ref.run(ref.expand(step.text)))
            b = normalise(tgt, tgt.run(tgt.expand(step.text)))
            res.compared += 1
            shown = step.text if len(step.text) <= 120 else step.text[:100] + b"...(%d bytes)" % len(step.text)
            res.transcript.append((step.lineno, shown, a, b))
            if not replies_equal(a, b):
                res.mismatches.append(f"{path.name}:{step.lineno}: {shown!r}\n    reference: {_show(a)}\n"
                                      f"    target:    {_show(b)}")
            if verbose:
                print(f"{path.name}:{step.lineno} {shown!r} -> {_show(a)}" + ("" if a == b else f"  /  {_show(b)}"))
    finally:
        ref.close()
        tgt.close()
    return res


def _show(lines):
    return [l if len(l) <= 100 else l[:80] + b"...(%d bytes)" % len(l) for l in lines]


def main():
    import argparse
    p = argparse.ArgumentParser(description="memcached differential sessions against two running servers")
    p.add_argument("--ref-port", type=int, required=True, help="reference memcached's port")
    p.add_argument("--target-port", type=int, required=True, help="server under test's memcached port")
    p.add_argument("-k", default="", help="only session files whose name contains this")
    p.add_argument("-v", action="store_true")
    a = p.parse_args()
    total, bad = 0, []
    for s in sessions(a.k):
        r = run_session(s, a.ref_port, a.target_port, verbose=a.v)
        total += r.compared
        bad += r.mismatches
    print("\n".join(bad))
    print(f"{total} commands compared, {len(bad)} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
