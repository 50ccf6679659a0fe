"""A cluster of real server processes (roostd or redis-server, same flags) for fault scenarios.

    c = FaultCluster(nodes=6, replicas=1, node_timeout_ms=2000)   # ROOSTD picks the binary
    c.start()             # network, processes, `redis-cli --cluster create ... --cluster-replicas 1`, healthy
    p = c.primaries()[0]; r = c.replicas_of(p)[0]
    c.kill(p); c.restart(p); c.pause(p); c.resume(p)
    c.isolate(p); c.heal()                                      # network partitions (see net.py)
    c.close()             # SIGKILL every node by PID, delete namespaces/bridge, remove work dirs

Every admin query opens a fresh connection with a short timeout (a node may be dead or paused). Node
roles, primaries and slots come from CLUSTER NODES (`view(node)`: that node's whole view; `self_info(node)`:
its own line, which is what it acts on).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from resp import RespConnection
from servers import is_redis_binary, roostd_path

from .net import Address, LoopbackNetwork, NetnsNetwork, NetnsUnavailable, netns_unavailable_reason

SLOTS = 16384
START_TIMEOUT = float(os.environ.get("ROOST_START_TIMEOUT", "20"))


class ReplyError(Exception):
    pass


try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except Exception:  # not Linux / no libc symbol: nodes are still killed by close() and atexit
    _prctl = None


def _die_with_parent() -> None:
    """preexec_fn: the node gets SIGKILL when the thread that started it dies (PR_SET_PDEATHSIG), so a test
    process killed by SIGTERM/SIGKILL leaves no server behind. Nodes are started from the main thread."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def to_py(frame) -> Any:
    if frame.kind in ("-", "!"):
        raise ReplyError(frame.value.decode(errors="replace"))
    v = frame.value
    if frame.kind in ("*", "~", ">"):
        return None if v is None else [to_py(f) for f in v]
    if frame.kind == "%":
        return {to_py(k): to_py(x) for k, x in v}
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


def command(host: str, port: int, *args, timeout: float = 2.0) -> Any:
    """One command on a fresh connection; raises ReplyError on an error reply, OSError/ReplyTimeout/... on
    connection trouble."""
    with RespConnection(host, port, timeout=timeout) as c:
        return to_py(c.call(*args))


def parse_info(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def parse_slot_ranges(fields: Iterable[str]) -> frozenset:
    slots: set[int] = set()
    for f in fields:
        if f.startswith("["):  # migrating/importing marker
            continue
        if "-" in f:
            a, b = f.split("-", 1)
            slots.update(range(int(a), int(b) + 1))
        else:
            slots.add(int(f))
    return frozenset(slots)


@dataclass
class NodeInfo:
    """One line of CLUSTER NODES."""
    id: str
    addr: str  # host:port
    flags: frozenset
    master_id: Optional[str]
    config_epoch: int
    link: str
    slots: frozenset

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        return "fail" in self.flags or "fail?" in self.flags


def parse_cluster_nodes(text: str) -> dict[str, NodeInfo]:
    nodes = {}
    for line in text.strip().splitlines():
        f = line.split()
        if len(f) < 8:
            continue
        addr = f[1].split("@")[0]
        nodes[f[0]] = NodeInfo(f[0], addr, frozenset(f[2].split(",")), None if f[3] == "-" else f[3],
                               int(f[6]), f[7], parse_slot_ranges(f[8:]))
    return nodes


@dataclass
class Node:
    index: int
    address: Address
    workdir: Path
    binary: str
    id: str = ""
    proc: Optional[subprocess.Popen] = None
    paused: bool = False
    starts: int = 0

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def port(self) -> int:
        return self.address.port

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    @property
    def conf(self) -> Path:
        return self.workdir / "nodes.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cmd(self, *args, timeout: float = 2.0) -> Any:
        return command(self.host, self.port, *args, timeout=timeout)

    def try_cmd(self, *args, timeout: float = 2.0, default=None) -> Any:
        try:
            return self.cmd(*args, timeout=timeout)
        except Exception:
            return default

    def info(self, section: str = "replication", timeout: float = 2.0) -> dict[str, str]:
        return parse_info(self.cmd("INFO", section, timeout=timeout))

    def log_tail(self, lines: int = 40) -> str:
        try:
            data = self.log_path.read_bytes()[-64 * 1024:].decode(errors="replace")
        except OSError as e:
            return f"<no log: {e}>"
        return "\n".join(data.splitlines()[-lines:])

    def __repr__(self) -> str:
        return f"<{self.name} {self.addr} id={self.id[:8]} pid={self.pid}>"


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Polls until predicate() is truthy; returns its last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = predicate()
        except Exception:
            v = None
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class FaultCluster:
    def __init__(self, nodes: int = 6, replicas: int = 1, node_timeout_ms: int = 2000,
                 binary: Optional[str] = None, netns: Optional[bool] = None, extra_args: Iterable[str] = (),
                 log: Callable[[str], None] = print):
        self.n = nodes
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.binary = binary or roostd_path()
        self.is_redis = is_redis_binary(self.binary)
        self.want_netns = netns
        self.extra_args = list(extra_args)
        self.log = log
        self.nodes: list[Node] = []
        self.net = None
        self.netns_skip_reason: Optional[str] = None
        self.closed = False
        self._lock = threading.Lock()
        self.root = Path(tempfile.mkdtemp(prefix="roost-faults-"))
        atexit.register(self.close)

    @property
    def node_timeout(self) -> float:
        return self.node_timeout_ms / 1000

    # ---- setup ---------------------------------------------------------------------------------------------

    def _make_network(self) -> None:
        reason = netns_unavailable_reason() if self.want_netns is not False else "netns=False"
        if reason is None:
            try:
                self.net = NetnsNetwork()
                addrs = [self.net.add(i) for i in range(self.n)]
                problem = self.net.probe(addrs[0], addrs[1])
                if problem is None:
                    return self._add_nodes(addrs)
                reason = problem
            except NetnsUnavailable as e:
                reason = str(e)
            if self.net is not None:
                self.net.close()
        if self.want_netns:
            raise NetnsUnavailable(reason)
        self.netns_skip_reason = reason
        self.net = LoopbackNetwork(partition_via_debug=not self.is_redis)
        self.net._debug_call = lambda a, *args: command(a.host, a.port, *args)
        self._add_nodes([self.net.add(i) for i in range(self.n)])

    def _add_nodes(self, addrs: list[Address]) -> None:
        for a in addrs:
            wd = self.root / f"node{a.index}"
            wd.mkdir()
            self.nodes.append(Node(a.index, a, wd, self.binary))

    def server_args(self, node: Node) -> list[str]:
        args = ["--port", str(node.port), "--bind", node.host, "--protected-mode", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", str(node.conf),
                "--cluster-node-timeout", str(self.node_timeout_ms), "--cluster-port", str(node.address.bus_port),
                "--loglevel", "notice"]
        if self.is_redis:
            # As IntegrationTests/servers.py: no persistence, files in the work dir. Diskless full syncs start
            # at once instead of after Redis's default 5 s batching delay.
            args += ["--save", "", "--appendonly", "no", "--dir", str(node.workdir),
                     "--repl-diskless-sync-delay", "0"]
        return args + self.net.extra_server_args() + self.extra_args

    def start_node(self, node: Node) -> None:
        cmdline = self.net.exec_prefix(node.address) + [self.binary] + self.server_args(node)
        with open(node.log_path, "ab") as logf:
            logf.write(f"\n==== start #{node.starts + 1}: {' '.join(cmdline)}\n".encode())
            logf.flush()
            node.proc = subprocess.Popen(cmdline, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=node.workdir, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        node.starts += 1
        node.paused = False
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not node.alive():
                raise RuntimeError(f"{node} exited with {node.proc.returncode} at start:\n{node.log_tail()}")
            try:
                node.cmd("PING", timeout=1.0)
                return
            except ReplyError:
                return  # answering (LOADING etc.)
            except Exception:
                time.sleep(0.02)
        raise RuntimeError(f"{node} did not answer PING within {START_TIMEOUT}s:\n{node.log_tail()}")

    def start(self) -> "FaultCluster":
        self._make_network()
        self.log(f"faults: {self.n} nodes, binary {self.binary}, network {self.net.describe()}"
                 + (f" (netns not used: {self.netns_skip_reason})" if self.netns_skip_reason else ""))
        for node in self.nodes:
            self.start_node(node)
            node.id = node.cmd("CLUSTER", "MYID")
        r = subprocess.run(["redis-cli", "--cluster", "create", *[n.addr for n in self.nodes],
                            "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           capture_output=True, text=True, timeout=90)
        if r.returncode != 0 or "[OK] All 16384 slots covered." not in r.stdout:
            raise RuntimeError(f"redis-cli --cluster create failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        self.wait_healthy(timeout=30)
        return self

    # ---- processes and faults -------------------------------------------------------------------------------

    def mark(self, node: Node, what: str) -> None:
        """Appends a harness event to the node's log (wall clock, like the server's own lines)."""
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        try:
            with open(node.log_path, "a") as f:
                f.write(f"==== harness {stamp} {what}\n")
        except OSError:
            pass

    def kill(self, node: Node) -> None:
        """kill -9 (by PID)."""
        self.mark(node, "SIGKILL")
        if node.alive():
            os.kill(node.pid, signal.SIGKILL)
            node.proc.wait(10)
        node.paused = False

    def restart(self, node: Node) -> None:
        """Starts the node again with the same port and nodes.conf (no persistence: it comes back empty)."""
        if node.alive():
            self.kill(node)
        self.start_node(node)

    def pause(self, node: Node) -> None:
        self.mark(node, "SIGSTOP")
        os.kill(node.pid, signal.SIGSTOP)
        node.paused = True

    def resume(self, node: Node) -> None:
        self.mark(node, "SIGCONT")
        os.kill(node.pid, signal.SIGCONT)
        node.paused = False

    @property
    def partition_unsupported_reason(self) -> Optional[str]:
        return self.net.partition_unsupported_reason

    def partition(self, *groups: list[Node]) -> None:
        """Cuts bus traffic between the groups (nodes not listed form one more group together)."""
        listed = {n.index for g in groups for n in g}
        rest = [n for n in self.nodes if n.index not in listed]
        gs = [list(g) for g in groups] + ([rest] if rest else [])
        for n in self.nodes:
            self.mark(n, "partition " + " | ".join(",".join(x.name for x in g) for g in gs))
        self.net.partition([[(n.address, n.id) for n in g] for g in gs])

    def isolate(self, node: Node) -> None:
        self.partition([node])

    def heal(self) -> None:
        for n in self.nodes:
            self.mark(n, "heal")
        self.net.heal([n.address for n in self.nodes])

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for node in self.nodes:
            if node.alive():
                try:
                    os.kill(node.pid, signal.SIGCONT)
                    os.kill(node.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        if self.net is not None:
            self.net.close()
        if not os.environ.get("ROOST_KEEP_LOGS"):
            shutil.rmtree(self.root, ignore_errors=True)

    def describe(self) -> str:
        out = [f"network: {self.net.describe() if self.net else '-'}; work dir {self.root}"]
        for n in self.nodes:
            out.append(f"--- {n} alive={n.alive()} paused={n.paused} log tail ---\n{n.log_tail(25)}")
        return "\n".join(out)

    # ---- topology -----------------------------------------------------------------------------------------

    def by_id(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def view(self, node: Node, timeout: float = 2.0) -> dict[str, NodeInfo]:
        return parse_cluster_nodes(node.cmd("CLUSTER", "NODES", timeout=timeout))

    def self_info(self, node: Node, timeout: float = 2.0) -> NodeInfo:
        return self.view(node, timeout)[node.id]

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.alive() and not n.paused]

    def primaries(self) -> list[Node]:
        """Nodes that consider themselves masters with slots (live, answering ones)."""
        out = []
        for n in self.live():
            try:
                me = self.self_info(n)
            except Exception:
                continue
            if me.is_master and me.slots:
                out.append(n)
        return out

    def replicas_of(self, primary: Node) -> list[Node]:
        out = []
        for n in self.live():
            if n is primary:
                continue
            try:
                me = self.self_info(n)
            except Exception:
                continue
            if not me.is_master and me.master_id == primary.id:
                out.append(n)
        return out

    def slots_of(self, primary: Node) -> frozenset:
        return self.self_info(primary).slots

    def is_primary_of_slots(self, node: Node, observers: Optional[list[Node]] = None) -> bool:
        """True if `node` says it is a master with slots and every observer agrees."""
        me = self.self_info(node)
        if not (me.is_master and me.slots):
            return False
        for o in observers or []:
            v = self.view(o).get(node.id)
            if v is None or not v.is_master or v.slots != me.slots:
                return False
        return True

    def is_replica_of(self, node: Node, primary: Node, linked: bool = True) -> bool:
        me = self.self_info(node)
        if me.is_master or me.master_id != primary.id:
            return False
        if not linked:
            return True
        info = node.info("replication")
        return info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == "0"

    def slot_claims(self, nodes: Optional[list[Node]] = None) -> dict[int, list[str]]:
        """slot -> ids of the (answering) nodes that claim it as their own master slots. More than one id for a
        slot means two primaries for that slot."""
        claims: dict[int, list[str]] = {}
        for n in nodes or self.live():
            try:
                me = self.self_info(n)
            except Exception:
                continue
            if me.is_master:
                for s in me.slots:
                    claims.setdefault(s, []).append(n.id)
        return claims

    def double_claimed_slots(self) -> int:
        return sum(1 for ids in self.slot_claims().values() if len(ids) > 1)

    # ---- health -------------------------------------------------------------------------------------------

    def health_problems(self, check_data: bool = False) -> list[str]:
        """Empty when: every node is up and says cluster_state:ok; every node's CLUSTER NODES knows all nodes,
        flags none failing and agrees on who serves which slots; every slot has exactly one primary; every
        primary has `replicas` replicas with a live link, not syncing, caught up to the primary's offset
        (and, with check_data, the same DBSIZE and keys)."""
        problems = []
        views = {}
        for n in self.nodes:
            if not n.alive() or n.paused:
                problems.append(f"{n.name} is not running")
                continue
            try:
                state = parse_info(n.cmd("CLUSTER", "INFO")).get("cluster_state")
                if state != "ok":
                    problems.append(f"{n.name} cluster_state:{state}")
                views[n.id] = self.view(n)
            except Exception as e:
                problems.append(f"{n.name} unreachable: {e!r}")
        if problems:
            return problems
        ref = None
        for nid, v in views.items():
            name = self.by_id(nid).name
            if set(v) != {n.id for n in self.nodes}:
                problems.append(f"{name} knows {len(v)} nodes")
            bad = [i[:8] for i, x in v.items() if x.failing]
            if bad:
                problems.append(f"{name} flags failing: {bad}")
            shape = {i: (x.is_master, x.master_id, x.slots) for i, x in v.items()}
            if ref is None:
                ref = shape
            elif shape != ref:
                problems.append(f"{name} disagrees on roles/slots")
        me = {nid: v[nid] for nid, v in views.items()}
        claims = {}
        for nid, x in me.items():
            if x.is_master:
                for s in x.slots:
                    claims.setdefault(s, []).append(nid)
        if len(claims) != SLOTS or any(len(c) != 1 for c in claims.values()):
            problems.append(f"slots claimed: {len(claims)}, double-claimed: "
                            f"{sum(1 for c in claims.values() if len(c) > 1)}")
        if problems:
            return problems
        for p in [self.by_id(i) for i, x in me.items() if x.is_master and x.slots]:
            reps = [self.by_id(i) for i, x in me.items() if not x.is_master and x.master_id == p.id]
            if len(reps) != self.replicas:
                problems.append(f"{p.name} has {len(reps)} replicas")
                continue
            try:
                p_off = int(p.info("replication").get("master_repl_offset", "-1"))
                for r in reps:
                    info = r.info("replication")
                    if info.get("master_link_status") != "up" or info.get("master_sync_in_progress") != "0":
                        problems.append(f"{r.name} link {info.get('master_link_status')} "
                                        f"sync_in_progress {info.get('master_sync_in_progress')}")
                    elif int(info.get("slave_repl_offset", "-1")) < p_off:
                        problems.append(f"{r.name} offset {info.get('slave_repl_offset')} < primary {p_off}")
                    elif check_data:
                        problems += self.data_differences(p, r)
            except Exception as e:
                problems.append(f"replication info of {p.name}: {e!r}")
        return problems

    def data_differences(self, primary: Node, replica: Node) -> list[str]:
        pd, rd = primary.cmd("DBSIZE"), replica.cmd("DBSIZE")
        if pd != rd:
            return [f"DBSIZE {primary.name}={pd} {replica.name}={rd}"]
        pk, rk = set(self.keys(primary)), set(self.keys(replica))
        if pk != rk:
            return [f"keys differ {primary.name}/{replica.name}: {len(pk - rk)} only on primary, "
                    f"{len(rk - pk)} only on replica"]
        return []

    def keys(self, node: Node, match: str = "*", timeout: float = 10.0) -> list[str]:
        """All keys of one node (SCAN)."""
        out, cursor = [], "0"
        with RespConnection(node.host, node.port, timeout=timeout) as c:
            while True:
                cursor, batch = to_py(c.call("SCAN", cursor, "MATCH", match, "COUNT", 1000))
                out += batch
                if cursor == "0":
                    return out

    def wait_healthy(self, timeout: float, check_data: bool = False) -> float:
        """Waits until health_problems() is empty; returns the seconds it took, raises with the problems."""
        t0 = time.monotonic()
        last: list[str] = []
        while True:
            last = self.health_problems(check_data)
            if not last:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"cluster not healthy after {timeout}s: {last}")
            time.sleep(0.1)
