"""Start and stop real server processes (roostd, or a reference redis-server) for tests.

The binary under test comes from $ROOSTD (scripts/test sets it to the freshly built roostd).
Setting ROOSTD=/usr/bin/redis-server runs the whole suite against Redis itself, which is how
the tests were validated: every test written "against Redis semantics" must pass that way.
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

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = float(os.environ.get("ROOST_START_TIMEOUT", "20"))
STOP_TIMEOUT = 10.0


def roostd_path() -> str:
    env = os.environ.get("ROOSTD")
    if env:
        return env
    for cfg in ("debug", "release"):
        p = REPO / ".build" / cfg / "roostd"
        if p.exists():
            return str(p)
    return str(REPO / ".build" / "debug" / "roostd")


def roost_cli_path() -> str:
    """The `roost` admin CLI: $ROOST_CLI, else the one next to the server under test (scripts/test builds both
    into `swift build --show-bin-path`), else .build/debug/roost."""
    env = os.environ.get("ROOST_CLI")
    if env:
        return env
    beside = Path(roostd_path()).parent / "roost"
    if beside.exists():
        return str(beside)
    return str(REPO / ".build" / "debug" / "roost")


def redis_server_path() -> str:
    return os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server")


def is_redis_binary(path: str) -> bool:
    return "redis-server" in os.path.basename(path)


def target_is_redis() -> bool:
    """True when the suite is being validated against redis-server instead of roostd."""
    return is_redis_binary(roostd_path())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStartError(Exception):
    pass


@dataclass
class ServerHandle:
    name: str
    binary: str
    args: list[str]
    port: int
    host: str
    proc: subprocess.Popen
    log_path: Path
    workdir: Path
    exit_code: Optional[int] = None
    _log_file: object = field(default=None, repr=False)
    _final_log: Optional[str] = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, tail: int = 8000) -> str:
        if self._final_log is not None:
            return self._final_log[-tail:]
        if self._log_file is not None:
            self._log_file.flush()
        try:
            data = self.log_path.read_bytes()
        except OSError as e:
            return f"<no log: {e}>"
        return data[-tail:].decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> Optional[int]:
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code (negative = signal)."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(timeout)
        else:
            self.exit_code = self.proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if not os.environ.get("ROOST_KEEP_LOGS") and self.workdir.exists():
            # set ROOST_KEEP_LOGS=1 to keep logs and workdirs; the log stays readable via log()
            self._final_log = self.log(tail=1 << 20)
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.exit_code

    def describe(self) -> str:
        return (f"{self.name} pid={self.pid} port={self.port} cmd={' '.join([self.binary] + self.args)}\n"
                f"--- log {self.log_path} (tail) ---\n{self.log()}")


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(256)
                if not chunk:
                    return False
                data += chunk
            # +PONG, or an error such as NOAUTH / DENIED: either way the server is up and answering.
            return data[:1] in (b"+", b"-")
    except OSError:
        return False


def start_server(binary: str, extra_args: Sequence[str] = (), name: Optional[str] = None,
                 bind: str = "127.0.0.1", connect_host: str = "127.0.0.1",
                 timeout: float = START_TIMEOUT, attempts: int = 5) -> ServerHandle:
    """Starts `binary --port P --bind B [extra_args]` on a free ephemeral port and waits until it
    answers PING (any RESP reply counts). Retries on a port collision."""
    if not os.path.exists(binary):
        raise ServerStartError(f"server binary not found: {binary} (build it, or set ROOSTD)")
    name = name or os.path.basename(binary)
    last_err = ""
    for _ in range(attempts):
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"roost-it-{name}-"))
        log_path = workdir / "server.log"
        args = ["--port", str(port), "--bind", bind]
        extra = list(extra_args)
        if is_redis_binary(binary):
            args += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
            if "--config" in extra:  # redis-server takes the config file as its first argument
                i = extra.index("--config")
                args.insert(0, extra[i + 1])
                del extra[i:i + 2]
        args += extra
        logf = open(log_path, "wb")
        proc = subprocess.Popen([binary] + args, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=workdir, start_new_session=True)
        h = ServerHandle(name, binary, args, port, connect_host, proc, log_path, workdir, _log_file=logf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not h.alive():
                break
            if _ping(connect_host, port):
                return h
            time.sleep(0.05)
        if h.alive():
            h.stop()
            raise ServerStartError(f"{name} did not answer PING within {timeout}s\n{h.describe()}")
        h.stop()
        log = h.log()
        last_err = f"{name} exited with code {h.exit_code} before answering PING\n{h.describe()}"
        if "in use" in log.lower() or "eaddrinuse" in log.lower():
            continue  # port collision: try another port
        raise ServerStartError(last_err)
    raise ServerStartError(f"could not start {name} after {attempts} attempts\n{last_err}")


def redis_cli(port: int, *args: str, host: str = "127.0.0.1", timeout: float = 10.0,
              stdin: Optional[str] = None, extra: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Runs redis-cli against a server; returns the CompletedProcess (text mode)."""
    cmd = ["redis-cli", "-h", host, "-p", str(port), *extra, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
