"""memcached-protocol helpers: a reference memcached process, roostd with `--memcached-port`, a raw text client.

The server under test for the memcached tests is chosen by $MEMCACHED_TARGET:

    MEMCACHED_TARGET=memcached   Debian's memcached itself (validates the tests: everything must pass)
    (unset) / roostd             roostd ($ROOSTD) started with `--memcached-port P`; if that roostd rejects the
                                 option ("unknown directive"), start_target() raises McUnsupported and the tests
                                 skip, so the suite stays green until the server side lands.

A raw connection (McConn) reads with strict bounds: every read has a deadline, a line is at most
MAX_LINE bytes, a data block is read by its announced length (at most MAX_DATA).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from servers import ServerStartError, free_port, roostd_path, start_server, target_is_redis

START_TIMEOUT = 20.0
MAX_LINE = 64 * 1024
MAX_DATA = 8 * 1024 * 1024


def memcached_path() -> str:
    return os.environ.get("MEMCACHED", shutil.which("memcached") or "/usr/bin/memcached")


def target_is_memcached() -> bool:
    return os.environ.get("MEMCACHED_TARGET", "roostd").lower() in ("memcached", os.path.basename(memcached_path()))


class McUnsupported(Exception):
    """The server under test has no memcached port (roostd before issue 7 landed, or redis-server)."""


@dataclass
class McServer:
    """A server speaking memcached's text protocol on mc_port (and, for roostd, RESP on resp_port)."""
    kind: str  # "memcached" or "roostd"
    mc_port: int
    resp_port: Optional[int]
    proc: subprocess.Popen
    workdir: Path
    log_path: Path
    host: str = "127.0.0.1"
    _roost: object = field(default=None, repr=False)  # servers.ServerHandle for roostd
    _log_file: object = field(default=None, repr=False)
    _final_log: Optional[str] = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, tail: int = 8000) -> str:
        if self._roost is not None:
            return self._roost.log(tail)
        if self._final_log is not None:
            return self._final_log[-tail:]
        try:
            return self.log_path.read_bytes()[-tail:].decode(errors="replace")
        except OSError as e:
            return f"<no log: {e}>"

    def describe(self) -> str:
        return f"{self.kind} pid={self.pid} memcached port={self.mc_port} resp port={self.resp_port}\n{self.log()}"

    def stop(self) -> None:
        if self._roost is not None:
            self._roost.stop()
            return
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.workdir.exists():
            self._final_log = self.log(1 << 20)
            if not os.environ.get("ROOST_KEEP_LOGS"):
                shutil.rmtree(self.workdir, ignore_errors=True)


def _mc_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"version\r\n")
            data = b""
            while not data.endswith(b"\r\n") and len(data) < 1024:
                chunk = s.recv(256)
                if not chunk:
                    return False
                data += chunk
            return data.startswith(b"VERSION ")
    except OSError:
        return False


def _wait_mc(server: McServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            return False
        if _mc_answers(server.host, server.mc_port):
            return True
        time.sleep(0.05)
    return False


def start_memcached(extra: Sequence[str] = (), attempts: int = 5) -> McServer:
    """`memcached -p PORT -U 0 -t 2 -l 127.0.0.1 [extra]` (plus `-u nobody` as root, which memcached requires)."""
    binary = memcached_path()
    if not os.path.exists(binary):
        raise ServerStartError(f"memcached not found: {binary} (apt-get install memcached)")
    last = ""
    for _ in range(attempts):
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="roost-it-memcached-"))
        log_path = workdir / "server.log"
        argv = [binary, "-p", str(port), "-U", "0", "-t", "2", "-l", "127.0.0.1"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += list(extra)
        logf = open(log_path, "wb")
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                                start_new_session=True)
        s = McServer("memcached", port, None, proc, workdir, log_path, _log_file=logf)
        if _wait_mc(s, START_TIMEOUT):
            return s
        s.stop()
        last = s.log()
        if "in use" in last.lower():
            continue
        raise ServerStartError(f"memcached did not start: {' '.join(argv)}\n{last}")
    raise ServerStartError(f"memcached did not start after {attempts} attempts\n{last}")


def start_roostd_mc(extra: Sequence[str] = (), attempts: int = 5) -> McServer:
    """roostd (ROOSTD) with `--memcached-port P`; raises McUnsupported if it does not know the option."""
    if target_is_redis():
        raise McUnsupported("ROOSTD is redis-server, which has no memcached port (set MEMCACHED_TARGET=memcached)")
    last = ""
    for _ in range(attempts):
        port = free_port()
        try:
            h = start_server(roostd_path(), ["--loglevel", "warning", "--memcached-port", str(port), *extra],
                             name="roostd-mc")
        except ServerStartError as e:
            text = str(e).lower()
            if "memcached" in text and ("unknown" in text or "unrecognized" in text or "bad directive" in text):
                raise McUnsupported("roostd has no memcached port yet") from None
            if "in use" in text:
                last = str(e)
                continue
            raise
        s = McServer("roostd", port, h.port, h.proc, h.workdir, h.log_path, _roost=h)
        if _wait_mc(s, START_TIMEOUT):
            return s
        s.stop()
        log = s.log(1 << 20)
        if len(log) > 8000:  # a crash's reason is at the start of its report, the stack at the end
            log = log[:5000] + "\n[...]\n" + log[-3000:]
        last = log
        if "in use" in log.lower():
            continue
        raise ServerStartError(f"roostd does not answer `version` on its memcached port {port}\n{log}")
    raise ServerStartError(f"roostd with a memcached port did not start after {attempts} attempts\n{last}")


def start_target(extra_memcached: Sequence[str] = (), extra_roostd: Sequence[str] = ()) -> McServer:
    """The server under test ($MEMCACHED_TARGET)."""
    if target_is_memcached():
        return start_memcached(extra_memcached)
    return start_roostd_mc(extra_roostd)


class McClosed(Exception):
    pass


class McTimeout(Exception):
    pass


class McConn:
    """A raw memcached text/meta-protocol connection with bounded reads."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise McTimeout(f"no reply within the deadline; have {self.buf[:200]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise McTimeout(f"no reply within the deadline; have {self.buf[:200]!r}") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise McClosed(f"connection closed; have {self.buf[:200]!r}")
        self.buf += chunk

    def read_line(self, timeout: Optional[float] = None, max_line: int = MAX_LINE) -> bytes:
        """One line without its \\r\\n."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > max_line:
                raise AssertionError(f"reply line longer than {max_line} bytes: {self.buf[:100]!r}...")
            self._fill(deadline)

    def read_exact(self, n: int, timeout: Optional[float] = None) -> bytes:
        if n > MAX_DATA:
            raise AssertionError(f"announced data block of {n} bytes exceeds {MAX_DATA}")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_data_block(self, n: int, timeout: Optional[float] = None) -> bytes:
        data = self.read_exact(n + 2, timeout)
        if data[-2:] != b"\r\n":
            raise AssertionError(f"data block of {n} bytes not followed by \\r\\n: {data[-20:]!r}")
        return data[:-2]

    def read_reply_line_with_data(self, timeout: Optional[float] = None) -> list[bytes]:
        """One reply line; if it announces data (VALUE ... / VA n ...), the data too. Returns [line] or [line, data]."""
        line = self.read_line(timeout)
        fields = line.split(b" ")
        if fields[0] == b"VALUE" and len(fields) >= 4 and fields[3].isdigit():
            return [line, self.read_data_block(int(fields[3]), timeout)]
        if fields[0] == b"VA" and len(fields) >= 2 and fields[1].isdigit():
            return [line, self.read_data_block(int(fields[1]), timeout)]
        return [line]

    def read_until_mn(self, timeout: Optional[float] = None) -> list[bytes]:
        """Reply lines (with data blocks) up to the `MN` that answers a trailing `mn` sentinel."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out: list[bytes] = []
        while True:
            part = self.read_reply_line_with_data(max(0.0, deadline - time.monotonic()))
            if part == [b"MN"]:
                return out
            out.extend(part)

    def call(self, command: bytes, timeout: Optional[float] = None) -> list[bytes]:
        """Sends `command` (bytes, CRLFs included) followed by `mn\\r\\n`, returns every reply line/data before MN."""
        self.send(command + b"mn\r\n")
        return self.read_until_mn(timeout)

    # Convenience single-reply helpers
    def cmd(self, line: bytes, data: Optional[bytes] = None, timeout: Optional[float] = None) -> bytes:
        self.send(line + b"\r\n" + (data + b"\r\n" if data is not None else b""))
        return self.read_line(timeout)

    def get(self, *keys: bytes, verb: bytes = b"get") -> dict[bytes, tuple]:
        """{key: (flags, value[, cas])}."""
        self.send(verb + b" " + b" ".join(keys) + b"\r\n")
        out = {}
        while True:
            part = self.read_reply_line_with_data()
            f = part[0].split(b" ")
            if part[0] == b"END":
                return out
            if f[0] != b"VALUE":
                raise AssertionError(f"unexpected reply to {verb!r}: {part[0]!r}")
            out[f[1]] = (int(f[2]), part[1]) + ((int(f[4]),) if len(f) > 4 else ())


def parse_memccapable(output: str) -> tuple[int, int, list[str]]:
    """(passed, total, failed-or-skipped test names) from memccapable's `name   [pass]` lines."""
    passed, total, bad = 0, 0, []
    for line in output.splitlines():
        line = line.rstrip()
        if line.endswith("]") and "[" in line:
            name, _, status = line.rpartition("[")
            status = status[:-1].strip().lower()
            if status in ("pass", "fail", "skip", "failed", "skipped"):
                total += 1
                if status == "pass":
                    passed += 1
                else:
                    bad.append(f"{name.strip()} [{status}]")
    return passed, total, bad
