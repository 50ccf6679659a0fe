"""Raw RESP2/RESP3 conversations over a plain socket, for black-box tests.

Nothing here trusts the server: every read is bounded by a deadline, every frame is parsed
strictly (a malformed reply raises `ProtocolViolation` with the bytes seen), and the raw bytes
of each reply are kept so that tests can compare them byte for byte.

Frames are parsed into `Frame(kind, value)`:
    kind  '+' simple string (bytes)        '-' error (bytes)           ':' integer (int)
          '$' bulk string (bytes | None)   '*' array (list | None)     '_' null (None)
          '#' boolean (bool)               ',' double (bytes, as sent) '(' big number (bytes)
          '!' blob error (bytes)           '=' verbatim (bytes, with its 3-letter format)
          '%' map (list of (k, v) pairs)   '~' set (list)              '>' push (list)
An attribute frame ('|') in front of a reply is parsed and attached as `Frame.attributes`.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

CRLF = b"\r\n"
AGGREGATES = {b"*": "*", b"%": "%", b"~": "~", b">": ">", b"|": "|"}
DEFAULT_TIMEOUT = 5.0


class ProtocolViolation(Exception):
    """The server sent bytes that are not a valid RESP frame."""


class ConnectionClosed(Exception):
    """The peer closed the connection (possibly in the middle of a frame)."""

    def __init__(self, message: str, partial: bytes = b""):
        super().__init__(message)
        self.partial = partial


class ReplyTimeout(Exception):
    """No complete reply arrived before the deadline."""

    def __init__(self, message: str, partial: bytes = b""):
        super().__init__(message)
        self.partial = partial


@dataclass
class Frame:
    kind: str
    value: Any
    attributes: Optional["Frame"] = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.kind in ("-", "!")

    def __repr__(self) -> str:  # compact, readable in assertion messages
        return render(self)


class Incomplete(Exception):
    pass


def _line(buf: bytes, pos: int) -> tuple[bytes, int]:
    end = buf.find(CRLF, pos)
    if end < 0:
        if len(buf) - pos > 1024 * 1024:
            raise ProtocolViolation(f"header line longer than 1 MiB at offset {pos}")
        raise Incomplete()
    return buf[pos:end], end + 2


def _int(raw: bytes, what: str, buf: bytes, pos: int) -> int:
    try:
        if raw == b"" or raw != raw.strip():
            raise ValueError
        return int(raw)
    except ValueError:
        raise ProtocolViolation(f"bad {what} {raw!r} at offset {pos} in {buf[:200]!r}") from None


def parse_frame(buf: bytes, pos: int = 0) -> tuple[Frame, int]:
    """Parses one complete frame starting at `pos`. Returns (frame, next position).
    Raises Incomplete if more bytes are needed, ProtocolViolation if the bytes are not RESP."""
    if pos >= len(buf):
        raise Incomplete()
    t = buf[pos:pos + 1]
    line, nxt = _line(buf, pos + 1)
    if t in (b"+", b"-"):
        return Frame(t.decode(), line), nxt
    if t == b":":
        return Frame(":", _int(line, "integer", buf, pos)), nxt
    if t == b"_":
        if line != b"":
            raise ProtocolViolation(f"null frame with payload {line!r}")
        return Frame("_", None), nxt
    if t == b"#":
        if line not in (b"t", b"f"):
            raise ProtocolViolation(f"bad boolean {line!r}")
        return Frame("#", line == b"t"), nxt
    if t in (b",", b"("):
        return Frame(t.decode(), line), nxt
    if t in (b"$", b"!", b"="):
        n = _int(line, "bulk length", buf, pos)
        if n == -1 and t == b"$":
            return Frame("$", None), nxt
        if n < 0:
            raise ProtocolViolation(f"negative length {n} for {t!r}")
        if len(buf) < nxt + n + 2:
            raise Incomplete()
        if buf[nxt + n:nxt + n + 2] != CRLF:
            raise ProtocolViolation(f"bulk of length {n} not followed by CRLF: {buf[nxt:nxt + n + 2][:200]!r}")
        return Frame(t.decode(), buf[nxt:nxt + n]), nxt + n + 2
    if t in AGGREGATES:
        n = _int(line, "aggregate length", buf, pos)
        if n == -1 and t == b"*":
            return Frame("*", None), nxt
        if n < 0:
            raise ProtocolViolation(f"negative aggregate length {n} for {t!r}")
        items: list = []
        p = nxt
        count = n * 2 if t in (b"%", b"|") else n
        for _ in range(count):
            f, p = parse_frame(buf, p)
            items.append(f)
        if t in (b"%", b"|"):
            items = [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
        if t == b"|":  # attribute: belongs to the frame that follows
            attr = Frame("|", items)
            inner, p = parse_frame(buf, p)
            inner.attributes = attr
            return inner, p
        return Frame(t.decode(), items), p
    raise ProtocolViolation(f"unknown frame type byte {t!r} at offset {pos} in {buf[pos:pos + 200]!r}")


def encode_command(args: Sequence[Any]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def encode_frame(f: Frame) -> bytes:
    """Canonical RESP bytes of a frame (round-trips what parse_frame read)."""
    k = f.kind
    pre = encode_frame(f.attributes) if f.attributes is not None else b""
    if k in "+-,(":
        return pre + k.encode() + f.value + CRLF
    if k == ":":
        return pre + b":%d\r\n" % f.value
    if k == "_":
        return pre + b"_\r\n"
    if k == "#":
        return pre + (b"#t\r\n" if f.value else b"#f\r\n")
    if k in "$!=":
        if f.value is None:
            return pre + b"$-1\r\n"
        return pre + b"%s%d\r\n%s\r\n" % (k.encode(), len(f.value), f.value)
    if k in "*~>":
        if f.value is None:
            return pre + b"*-1\r\n"
        return pre + b"%s%d\r\n" % (k.encode(), len(f.value)) + b"".join(encode_frame(x) for x in f.value)
    if k in "%|":
        return pre + b"%s%d\r\n" % (k.encode(), len(f.value)) + b"".join(
            encode_frame(a) + encode_frame(b) for a, b in f.value)
    if k == "?":  # placeholder used by masking
        return b"?" + f.value + CRLF
    raise ValueError(f"cannot encode frame kind {k!r}")


def render(f: Frame) -> str:
    """Human-readable one-line form, like redis-cli with types."""
    k = f.kind
    if k == "+":
        return f"+{_s(f.value)}"
    if k in "-!":
        return f"(error) {_s(f.value)}"
    if k == ":":
        return f"(integer) {f.value}"
    if k == "_":
        return "(null)"
    if k == "#":
        return f"(boolean) {'true' if f.value else 'false'}"
    if k == ",":
        return f"(double) {_s(f.value)}"
    if k == "(":
        return f"(big number) {_s(f.value)}"
    if k in "$=":
        return "(nil)" if f.value is None else repr(f.value)
    if k in "*~>":
        if f.value is None:
            return "(nil array)"
        name = {"*": "", "~": "set", ">": "push"}[k]
        return f"{name}[" + ", ".join(render(x) for x in f.value) + "]"
    if k in "%|":
        return "{" + ", ".join(f"{render(a)}: {render(b)}" for a, b in f.value) + "}"
    if k == "?":
        return f"<masked {_s(f.value)}>"
    return f"<{k} {f.value!r}>"


def _s(b: bytes) -> str:
    r = repr(b)
    return r[2:-1] if r.startswith("b'") else r


class RespConnection:
    """One raw TCP connection. `call` sends a command and returns the parsed reply; `call_raw`
    returns (frame, raw bytes). All reads are bounded by `timeout` seconds per reply."""

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, timeout: float = DEFAULT_TIMEOUT,
                 source_address: Optional[tuple[str, int]] = None):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=source_address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RespConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_command(self, *args: Any) -> None:
        self.send(encode_command(args))

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReplyTimeout(f"no complete reply within {self.timeout}s", self.buf)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise ReplyTimeout(f"no complete reply within {self.timeout}s", self.buf) from None
        except ConnectionResetError:
            raise ConnectionClosed("connection reset by peer", self.buf) from None
        if not chunk:
            raise ConnectionClosed("connection closed by peer", self.buf)
        self.buf += chunk

    def read_reply_raw(self, timeout: Optional[float] = None) -> tuple[Frame, bytes]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                frame, end = parse_frame(self.buf, 0)
            except Incomplete:
                self._fill(deadline)
                continue
            raw, self.buf = self.buf[:end], self.buf[end:]
            return frame, raw

    def read_reply(self, timeout: Optional[float] = None) -> Frame:
        return self.read_reply_raw(timeout)[0]

    def call_raw(self, *args: Any, timeout: Optional[float] = None) -> tuple[Frame, bytes]:
        self.send_command(*args)
        return self.read_reply_raw(timeout)

    def call(self, *args: Any, timeout: Optional[float] = None) -> Frame:
        return self.call_raw(*args, timeout=timeout)[0]

    def pipeline(self, commands: Iterable[Sequence[Any]], timeout: Optional[float] = None) -> list[Frame]:
        cmds = list(commands)
        self.send(b"".join(encode_command(c) for c in cmds))
        return [self.read_reply(timeout) for _ in cmds]

    def read_until_closed(self, timeout: Optional[float] = None) -> bytes:
        """Reads until EOF; returns everything received (including already-buffered bytes).
        Raises ReplyTimeout if the peer keeps the connection open past the deadline."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                data, self.buf = self.buf, b""
                return data

    def is_closed(self, timeout: float = 2.0) -> bool:
        """True if the peer closes the connection within `timeout` (data read meanwhile is kept)."""
        try:
            self.read_until_closed(timeout)
            return True
        except ReplyTimeout:
            return False


def parse_all(data: bytes) -> list[Frame]:
    """Parses a byte string made of complete frames (raises on a trailing partial frame)."""
    out, pos = [], 0
    while pos < len(data):
        f, pos = parse_frame(data, pos)
        out.append(f)
    return out


def split_args(line: str) -> list[bytes]:
    """Splits a command line like redis-cli/sdssplitargs: whitespace separates arguments;
    "double quotes" understand \\n \\r \\t \\b \\a \\\\ \\" and \\xHH; 'single quotes' understand \\'."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        done = False
        while not done:
            if inq:
                if i >= n:
                    raise ValueError(f"unbalanced double quotes in: {line}")
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and _ishex(line[i + 2:i + 4]):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}.get(
                        line[i], line[i].encode())
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError(f"closing quote must be followed by a space in: {line}")
                    done = True
                else:
                    cur += c.encode()
            elif insq:
                if i >= n:
                    raise ValueError(f"unbalanced single quotes in: {line}")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError(f"closing quote must be followed by a space in: {line}")
                    done = True
                else:
                    cur += c.encode()
            else:
                if i >= n:
                    done = True
                    continue
                c = line[i]
                if c.isspace():
                    done = True
                elif c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode()
            if i < n:
                i += 1
        args.append(bytes(cur))


def _ishex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)
