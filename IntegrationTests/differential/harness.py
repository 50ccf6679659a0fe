"""Differential testing: replay scripted command sessions against a reference Redis and against
Roost, and compare the raw reply bytes (after the normalisation rules a line declares).

Session file format (sessions/*.txt), one item per line:

    # a comment (whole line)
    SET key "va lue\\x00"  # note      a command, quoted like redis-cli (see resp.split_args); an
                                       unquoted word starting with '#' begins a comment
    TTL key   # expect: int-range 0 100 a command with normalisation rules (';'-separated)
    !resp 3                            send HELLO 3 to both (reply compared with server/version/id masked)
    !resp 2                            back to RESP2
    !sleep 0.2                         wait (for expiry); not a command
    !pipeline ... !end                 the commands between are written in one send, then all replies read
    !inline PING                       send the rest of the line raw, as an inline command, + CRLF
    !scan [MATCH p] [COUNT n]          run SCAN 0.. to completion on both; compare the sorted key sets
    !closed                            both servers must close the connection now; then reconnect both
    !replay-resp3                      (file flag) also replay this whole session after HELLO 3

Rules (after '# expect:'):
    masked-int          integer replies (at any depth) are masked: only the type is compared
    int-range A B       the integer reply must lie in [A, B] on both sides, then it is masked
    sorted              aggregate elements are sorted before comparison (unordered replies)
    any-error           both replies must be errors; the messages may differ
    masked              every scalar is masked; the shape (types, lengths) is compared
    mask-fields a,b     in a map (or RESP2 flat key/value array) the values of these keys are masked
    type-only           only the top-level reply type is compared
    known-diff ID       a documented difference (EXPECTED_DIFFERENCES.md#ID): not compared, reported
    frames N            the command answers with N frames (SUBSCRIBE a b c, a message push before a reply):
                        all N are read and compared one by one

Everything else is compared byte for byte.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resp import (ConnectionClosed, Frame, ProtocolViolation, ReplyTimeout, RespConnection,  # noqa: E402
                  encode_command, encode_frame, render, split_args)

SESSIONS_DIR = Path(__file__).resolve().parent / "sessions"
KNOWN_RULES = {"masked-int", "int-range", "sorted", "any-error", "masked", "mask-fields", "type-only", "known-diff",
               "frames"}
HELLO_RULE = [("mask-fields", ["server", "version", "id"])]


@dataclass
class Step:
    line_no: int
    text: str
    kind: str  # "cmd", "inline", "resp", "sleep", "scan", "pipeline"
    args: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    children: list = field(default_factory=list)  # for pipeline

    def label(self) -> str:
        return f"line {self.line_no}: {self.text}"


@dataclass
class Session:
    path: Path
    steps: list
    replay_resp3: bool = False

    @property
    def name(self) -> str:
        return self.path.stem


def _parse_rules(spec: str, where: str) -> list:
    rules = []
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            continue
        words = part.split()
        name, params = words[0], words[1:]
        if name not in KNOWN_RULES:
            raise ValueError(f"{where}: unknown rule {name!r}")
        if name == "int-range":
            params = [int(params[0]), int(params[1])]
        elif name == "frames":
            params = [int(params[0])]
        elif name == "mask-fields":
            params = [p for p in " ".join(params).replace(" ", "").split(",") if p]
        elif name == "known-diff" and not params:
            raise ValueError(f"{where}: known-diff needs an id from EXPECTED_DIFFERENCES.md")
        rules.append((name, params))
    return rules


_EXPECT = re.compile(r"^#\s*expect:\s*(.*)$")


def _split_comment(line: str) -> tuple[str, str]:
    """Splits 'CMD args  # comment' at the first unquoted '#' that starts a word."""
    inq = insq = False
    i = 0
    while i < len(line):
        c = line[i]
        if inq:
            if c == "\\":
                i += 1
            elif c == '"':
                inq = False
        elif insq:
            if c == "\\":
                i += 1
            elif c == "'":
                insq = False
        elif c == '"':
            inq = True
        elif c == "'":
            insq = True
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i:]
        i += 1
    return line, ""


def parse_session(path: Path) -> Session:
    steps: list[Step] = []
    replay = False
    pipeline: Optional[Step] = None
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{no}"
        rules = []
        line, comment = _split_comment(line)
        m = _EXPECT.match(comment)
        if m:
            rules = _parse_rules(m.group(1), where)
        if line.startswith("!"):
            word, _, rest = line[1:].partition(" ")
            rest = rest.strip()
            if word == "replay-resp3":
                replay = True
            elif word == "pipeline":
                if pipeline is not None:
                    raise ValueError(f"{where}: nested !pipeline")
                pipeline = Step(no, line, "pipeline")
            elif word == "end":
                if pipeline is None:
                    raise ValueError(f"{where}: !end without !pipeline")
                steps.append(pipeline)
                pipeline = None
            elif word == "resp":
                if rest not in ("2", "3"):
                    raise ValueError(f"{where}: !resp takes 2 or 3")
                s = Step(no, line, "resp", args=[b"HELLO", rest.encode()], rules=rules or HELLO_RULE)
                (pipeline.children if pipeline else steps).append(s)
            elif word == "sleep":
                steps.append(Step(no, line, "sleep", args=[float(rest)]))
            elif word == "inline":
                s = Step(no, line, "inline", args=[rest.encode()], rules=rules)
                (pipeline.children if pipeline else steps).append(s)
            elif word == "closed":
                steps.append(Step(no, line, "closed"))
            elif word == "scan":
                steps.append(Step(no, line, "scan", args=split_args(rest), rules=rules))
            else:
                raise ValueError(f"{where}: unknown directive !{word}")
            continue
        try:
            args = split_args(line)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        s = Step(no, line, "cmd", args=args, rules=rules)
        (pipeline.children if pipeline else steps).append(s)
    if pipeline is not None:
        raise ValueError(f"{path.name}: !pipeline without !end")
    return Session(path, steps, replay)


def load_sessions(pattern: str = "*.txt") -> list[Session]:
    return [parse_session(p) for p in sorted(SESSIONS_DIR.glob(pattern))]


def count_commands(session: Session) -> int:
    n = 0
    for s in session.steps:
        if s.kind == "pipeline":
            n += len(s.children)
        elif s.kind != "sleep":
            n += 1
    return n


# ---------------------------------------------------------------- normalisation

def _mask(f: Frame) -> Frame:
    return Frame("?", f.kind.encode())


def _mask_ints(f: Frame) -> Frame:
    if f.kind == ":":
        return _mask(f)
    if f.kind in "*~>" and f.value is not None:
        return Frame(f.kind, [_mask_ints(x) for x in f.value])
    if f.kind in "%|":
        return Frame(f.kind, [(_mask_ints(a), _mask_ints(b)) for a, b in f.value])
    return f


def _mask_all(f: Frame) -> Frame:
    if f.kind in "*~>" and f.value is not None:
        return Frame(f.kind, [_mask_all(x) for x in f.value])
    if f.kind in "%|":
        return Frame(f.kind, [(_mask_all(a), _mask_all(b)) for a, b in f.value])
    return _mask(f)


def _key_name(f: Frame) -> Optional[str]:
    if f.kind in "+$" and f.value is not None:
        return f.value.decode(errors="replace").lower()
    return None


def _mask_fields(f: Frame, names: list) -> Frame:
    names = [n.lower() for n in names]
    if f.kind == "%":
        return Frame("%", [(k, _mask_all(v) if _key_name(k) in names else v) for k, v in f.value])
    if f.kind == "*" and f.value is not None and len(f.value) % 2 == 0:
        out = list(f.value)
        for i in range(0, len(out), 2):
            if _key_name(out[i]) in names:
                out[i + 1] = _mask_all(out[i + 1])
        return Frame("*", out)
    return f


def _sorted(f: Frame) -> Frame:
    if f.kind in "*~" and f.value is not None:
        return Frame(f.kind, sorted(f.value, key=encode_frame))
    return f


def normalise(f: Frame, rules: list) -> tuple[Optional[Frame], Optional[str]]:
    """Returns (normalised frame, violation message or None)."""
    for name, params in rules:
        if name == "masked-int":
            f = _mask_ints(f)
        elif name == "int-range":
            lo, hi = params
            if f.kind != ":" or not (lo <= f.value <= hi):
                return f, f"expected an integer in [{lo}, {hi}], got {render(f)}"
            f = _mask(f)
        elif name == "sorted":
            f = _sorted(f)
        elif name == "any-error":
            if not f.is_error:
                return f, f"expected an error, got {render(f)}"
            f = Frame("-", b"<any error>")
        elif name == "masked":
            f = _mask_all(f)
        elif name == "mask-fields":
            f = _mask_fields(f, params)
        elif name == "type-only":
            f = Frame("?", f.kind.encode())
    return f, None


# ---------------------------------------------------------------- running

@dataclass
class Outcome:
    step: Step
    ref: str
    target: str
    status: str  # "match", "mismatch", "known-diff"
    note: str = ""


@dataclass
class SessionResult:
    session: str
    protocol: int
    outcomes: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def mismatches(self) -> list:
        return [o for o in self.outcomes if o.status == "mismatch"]

    def summary(self) -> str:
        return (f"{self.session} [RESP{self.protocol}]: {self.total} commands, {self.count('match')} match, "
                f"{self.count('known-diff')} known differences, {len(self.mismatches)} mismatches")

    def report(self, ref_name: str = "redis", target_name: str = "roost", verbose: bool = False) -> str:
        lines = [self.summary()]
        for o in self.outcomes:
            if o.status == "mismatch" or (verbose and o.status == "known-diff"):
                tag = "MISMATCH" if o.status == "mismatch" else "known difference"
                lines.append(f"  {tag} {self.session}.txt {o.step.label()}")
                if o.note:
                    lines.append(f"    note : {o.note}")
                lines.append(f"    {ref_name:<6}: {o.ref}")
                lines.append(f"    {target_name:<6}: {o.target}")
        return "\n".join(lines)


class _Side:
    """One server's connection inside a session; survives a dropped connection by reconnecting."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: Optional[RespConnection] = None
        self.connect()

    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = RespConnection(self.host, self.port, timeout=self.timeout)

    def close(self):
        if self.conn:
            self.conn.close()

    def send(self, data: bytes):
        self.conn.send(data)

    def expect_closed(self) -> str:
        try:
            extra = self.conn.read_until_closed(self.timeout)
            state = "closed" if not extra else f"closed after sending more bytes {extra[:200]!r}"
        except ReplyTimeout as e:
            state = f"<still open after {self.timeout}s; received {e.partial[:200]!r}>"
        except OSError as e:
            state = "closed" if isinstance(e, ConnectionResetError) else f"<socket error {e}>"
        self.connect()
        return state

    def read(self) -> tuple[Optional[Frame], bytes, Optional[str]]:
        try:
            f, raw = self.conn.read_reply_raw()
            return f, raw, None
        except ReplyTimeout as e:
            err = f"<no complete reply within {self.timeout}s; partial {e.partial[:200]!r}>"
        except ConnectionClosed as e:
            err = f"<connection closed; partial {e.partial[:200]!r}>"
        except ProtocolViolation as e:
            err = f"<invalid RESP: {e}>"
        except OSError as e:
            err = f"<socket error: {e}>"
        try:
            self.connect()  # keep going with the rest of the session on a fresh connection
        except OSError as e:
            err += f" <reconnect failed: {e}>"
        return None, b"", err


def _wire(step: Step) -> bytes:
    if step.kind == "inline":
        return step.args[0] + b"\r\n"
    return encode_command(step.args)


def _compare(step: Step, rf, rraw, rerr, tf, traw, terr) -> Outcome:
    ref_txt = rerr or f"{render(rf)}   {rraw[:300]!r}"
    tgt_txt = terr or f"{render(tf)}   {traw[:300]!r}"
    known = [p for n, p in step.rules if n == "known-diff"]
    if known:
        return Outcome(step, ref_txt, tgt_txt, "known-diff", f"documented difference {known[0][0]}")
    if rerr or terr:
        return Outcome(step, ref_txt, tgt_txt, "mismatch", "harness-level failure")
    if not step.rules:
        ok = rraw == traw
        return Outcome(step, ref_txt, tgt_txt, "match" if ok else "mismatch")
    rn, rviol = normalise(rf, step.rules)
    tn, tviol = normalise(tf, step.rules)
    if rviol:
        return Outcome(step, ref_txt, tgt_txt, "mismatch", f"REFERENCE violates the rule (fix the session): {rviol}")
    if tviol:
        return Outcome(step, ref_txt, tgt_txt, "mismatch", tviol)
    ok = encode_frame(rn) == encode_frame(tn)
    note = "" if ok else f"after rules {step.rules}: {render(rn)} vs {render(tn)}"
    return Outcome(step, ref_txt, tgt_txt, "match" if ok else "mismatch", note)


def _scan_all(side: _Side, extra: list) -> tuple[Optional[list], str]:
    cursor = b"0"
    keys: set = set()
    for _ in range(100000):
        side.send(encode_command([b"SCAN", cursor] + extra))
        f, raw, err = side.read()
        if err:
            return None, err
        if f.is_error:
            return None, render(f)
        if f.kind != "*" or len(f.value) != 2 or f.value[0].kind != "$" or f.value[1].kind != "*":
            return None, f"malformed SCAN reply {render(f)}"
        cursor = f.value[0].value
        keys.update(x.value for x in f.value[1].value)
        if cursor == b"0":
            return sorted(keys), ""
    return None, "SCAN did not terminate within 100000 iterations"


def run_session(session: Session, ref_port: int, target_port: int, protocol: int = 2,
                host: str = "127.0.0.1", timeout: float = 5.0) -> SessionResult:
    result = SessionResult(session.name, protocol)
    ref, tgt = _Side(host, ref_port, timeout), _Side(host, target_port, timeout)
    try:
        for side in (ref, tgt):  # a clean keyspace, not counted
            side.send(encode_command([b"FLUSHALL"]))
            f, _, err = side.read()
            if err or f.is_error:
                raise RuntimeError(f"FLUSHALL failed on port {side.port}: {err or render(f)}")
        steps = list(session.steps)
        if protocol == 3:
            steps.insert(0, Step(0, "!resp 3 (replay in RESP3)", "resp", args=[b"HELLO", b"3"], rules=HELLO_RULE))
        for step in steps:
            if step.kind == "sleep":
                time.sleep(step.args[0])
            elif step.kind == "pipeline":
                data = b"".join(_wire(c) for c in step.children)
                ref.send(data)
                rreplies = [ref.read() for _ in step.children]
                tgt.send(data)
                treplies = [tgt.read() for _ in step.children]
                for c, r, t in zip(step.children, rreplies, treplies):
                    result.outcomes.append(_compare(c, *r, *t))
            elif step.kind == "closed":
                rc, tc = ref.expect_closed(), tgt.expect_closed()
                result.outcomes.append(Outcome(step, rc, tc, "match" if rc == tc == "closed" else "mismatch"))
            elif step.kind == "scan":
                rk, rerr = _scan_all(ref, step.args)
                tk, terr = _scan_all(tgt, step.args)
                ref_txt = rerr or f"{len(rk)} keys {rk[:50]}"
                tgt_txt = terr or f"{len(tk)} keys {tk[:50]}"
                ok = not rerr and not terr and rk == tk
                result.outcomes.append(Outcome(step, ref_txt, tgt_txt, "match" if ok else "mismatch"))
            else:
                data = _wire(step)
                frames = next((p[0] for n, p in step.rules if n == "frames"), 1)
                one = Step(step.line_no, step.text, step.kind, step.args, [r for r in step.rules if r[0] != "frames"])
                try:
                    ref.send(data)
                    rs = [ref.read() for _ in range(frames)]
                except OSError as e:
                    rs = [(None, b"", f"<send failed: {e}>")] * frames
                try:
                    tgt.send(data)
                    ts = [tgt.read() for _ in range(frames)]
                except OSError as e:
                    ts = [(None, b"", f"<send failed: {e}>")] * frames
                    try:
                        tgt.connect()
                    except OSError:
                        pass
                for r, t in zip(rs, ts):
                    result.outcomes.append(_compare(one, *r, *t))
    finally:
        ref.close()
        tgt.close()
    return result
