"""Where the nodes live and how they are cut apart.

`NetnsNetwork`: one network namespace per node, a veth pair per node into a bridge in the root namespace,
private addresses 10.77.N.0/24 (N picked free under a lock, so parallel runs do not collide), loopback up
inside every namespace. The test process (root namespace, 10.77.N.1 on the bridge) reaches every node; a
partition puts blackhole routes *inside the namespaces* (`ip route add blackhole <peer>/32`), so nodes stop
hearing each other while the test client still reaches both sides. `heal()` removes them; `close()` deletes
the namespaces and the bridge (also at interpreter exit).

`LoopbackNetwork`: every node on 127.0.0.1 with ephemeral ports. Partitions go through the server's debug
command `DEBUG CLUSTER-PARTITION <node-id>... | OFF` (roostd with --enable-debug-command yes); redis-server has
no such command, so with Redis on loopback `partition_unsupported_reason` says why partition scenarios skip.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

LOCK_PATH = "/tmp/roost-faults-netns.lock"
SUBNET_PREFIX = "10.77"


class NetnsUnavailable(Exception):
    pass


@dataclass
class Address:
    index: int
    host: str
    port: int
    bus_port: int
    ns: Optional[str] = None  # network namespace name (netns mode)


def _ip(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def netns_unavailable_reason() -> Optional[str]:
    """None if network namespaces can be used, else why not."""
    if os.environ.get("ROOST_FAULTS_NO_NETNS") == "1":
        return "ROOST_FAULTS_NO_NETNS=1"
    if not shutil.which("ip"):
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "not root (network namespaces need CAP_NET_ADMIN)"
    return None


class LoopbackNetwork:
    mode = "loopback"

    def __init__(self, partition_via_debug: bool):
        from servers import free_port  # IntegrationTests/servers.py
        self._free_port = free_port
        self.partition_via_debug = partition_via_debug
        self.partition_unsupported_reason = None if partition_via_debug else (
            "no network namespaces here and redis-server has no DEBUG CLUSTER-PARTITION: "
            "partition scenarios need root + iproute2 (or roostd with --enable-debug-command yes)")
        self.partitioned = False
        self._debug_call: Optional[Callable] = None  # set by the cluster: (address, *args) -> reply

    def add(self, index: int) -> Address:
        return Address(index, "127.0.0.1", self._free_port(), self._free_port())

    def exec_prefix(self, addr: Address) -> list[str]:
        return []

    def extra_server_args(self) -> list[str]:
        return ["--enable-debug-command", "yes"] if self.partition_via_debug else []

    def partition(self, groups: list[list[tuple[Address, str]]]) -> None:
        """groups: lists of (address, node id); nodes in different groups stop exchanging bus traffic."""
        if self.partition_unsupported_reason:
            raise RuntimeError(self.partition_unsupported_reason)
        for gi, group in enumerate(groups):
            others = [nid for gj, g in enumerate(groups) if gj != gi for _, nid in g]
            for addr, _ in group:
                self._debug_call(addr, "DEBUG", "CLUSTER-PARTITION", *others)
        self.partitioned = True

    def heal(self, all_addresses: Iterable[Address]) -> None:
        if not self.partitioned:
            return
        errors = []
        for addr in all_addresses:
            try:
                self._debug_call(addr, "DEBUG", "CLUSTER-PARTITION", "OFF")
            except Exception as e:  # a dead or paused node: it starts unpartitioned when restarted
                errors.append(f"{addr.host}:{addr.port}: {e!r}")
        self.partitioned = False
        if errors:
            print(f"faults: heal: DEBUG CLUSTER-PARTITION OFF failed on {errors}")

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "loopback (127.0.0.1, ephemeral ports" + (", partitions via DEBUG CLUSTER-PARTITION)"
                                                        if self.partition_via_debug else ", no partitions)")


class NetnsNetwork:
    mode = "netns"
    partition_unsupported_reason = None
    CLIENT_PORT = 7000
    BUS_PORT = 17000

    def __init__(self):
        reason = netns_unavailable_reason()
        if reason:
            raise NetnsUnavailable(reason)
        self.rid = secrets.token_hex(3)
        self.bridge = f"rf{self.rid}b"
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.routes: list[tuple[str, str]] = []  # (namespace, blackholed address)
        self.closed = False
        atexit.register(self.close)
        try:
            with open(LOCK_PATH, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                cleanup_stale()
                used = set(re.findall(rf"{re.escape(SUBNET_PREFIX)}\.(\d+)\.",
                                      _ip("-o", "-4", "addr", "show").stdout + _ip("-4", "route").stdout))
                free = [n for n in range(256) if str(n) not in used]
                if not free:
                    raise NetnsUnavailable(f"no free {SUBNET_PREFIX}.N.0/24 subnet")
                self.subnet = random.choice(free)
                _ip("link", "add", self.bridge, "type", "bridge")
                self.links.append(self.bridge)
                _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
                _ip("link", "set", self.bridge, "up")
        except NetnsUnavailable:
            self.close()
            raise
        except Exception as e:
            self.close()
            raise NetnsUnavailable(f"could not create the bridge: {e}") from e

    @property
    def gateway(self) -> str:
        return f"{SUBNET_PREFIX}.{self.subnet}.1"

    def ns_name(self, index: int) -> str:
        return f"roostfault-{self.rid}-{index}"

    def add(self, index: int) -> Address:
        ns = self.ns_name(index)
        host_if, peer_if = f"rf{self.rid}h{index}", f"rf{self.rid}p{index}"
        ip = f"{SUBNET_PREFIX}.{self.subnet}.{10 + index}"
        try:
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
            self.links.append(host_if)
            _ip("link", "set", peer_if, "netns", ns)
            _ip("link", "set", host_if, "master", self.bridge)
            _ip("link", "set", host_if, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", peer_if, "name", "eth0")
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.gateway)
        except Exception as e:
            raise NetnsUnavailable(f"could not set up namespace {ns}: {e}") from e
        return Address(index, ip, self.CLIENT_PORT, self.BUS_PORT, ns)

    def probe(self, a: Address, b: Address, timeout: float = 5.0) -> Optional[str]:
        """None if a TCP connection from a's namespace to b's namespace works (and from here to b), else why
        not. Catches hosts whose firewall drops bridged traffic (br_netfilter + a FORWARD DROP policy)."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", b.ns, sys.executable, "-c",
             "import socket,sys\n"
             "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             f"s.bind(('{b.host}', {b.bus_port})); s.listen(4); print('ready', flush=True); s.settimeout({timeout})\n"
             "for _ in range(2): s.accept()[0].close()\n"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if server.stdout.readline().strip() != "ready":
                return f"probe listener failed: {server.stderr.read()}"
            client = subprocess.run(
                ["ip", "netns", "exec", a.ns, sys.executable, "-c",
                 f"import socket; socket.create_connection(('{b.host}', {b.bus_port}), timeout={timeout}).close()"],
                capture_output=True, text=True, timeout=timeout + 5)
            if client.returncode != 0:
                return f"namespace {a.ns} cannot reach {b.host} over the bridge: {client.stderr.strip()[-300:]}"
            import socket
            try:
                socket.create_connection((b.host, b.bus_port), timeout=timeout).close()
            except OSError as e:
                return f"the root namespace cannot reach {b.host}: {e}"
            return None
        finally:
            server.kill()
            server.wait()

    def exec_prefix(self, addr: Address) -> list[str]:
        return ["ip", "netns", "exec", addr.ns]

    def extra_server_args(self) -> list[str]:
        return []

    def partition(self, groups: list[list[tuple[Address, str]]]) -> None:
        for gi, group in enumerate(groups):
            for gj, other in enumerate(groups):
                if gi == gj:
                    continue
                for a, _ in group:
                    for b, _ in other:
                        _ip("-n", a.ns, "route", "replace", "blackhole", f"{b.host}/32")
                        self.routes.append((a.ns, b.host))

    def heal(self, all_addresses: Iterable[Address] = ()) -> None:
        while self.routes:
            ns, host = self.routes.pop()
            _ip("-n", ns, "route", "del", "blackhole", f"{host}/32", check=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)  # deletes the veth peer inside, hence the pair
        for link in reversed(self.links):
            if _ip("link", "show", link, check=False).returncode == 0:
                _ip("link", "del", link, check=False)
        self.namespaces.clear()
        self.links.clear()

    def describe(self) -> str:
        return f"netns ({SUBNET_PREFIX}.{self.subnet}.0/24, bridge {self.bridge}, namespaces roostfault-{self.rid}-*)"


def cleanup_stale(max_age_s: float = 600) -> None:
    """Best effort: removes the namespaces and bridge of earlier runs that died without cleaning up (SIGKILLed
    test process): a run id none of whose roostfault-<id>-* namespaces has a process, created over max_age_s
    ago. (A run in progress always has live nodes in some of its namespaces.)"""
    if netns_unavailable_reason():
        return
    runs: dict[str, list[str]] = {}
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(r"roostfault-([0-9a-f]+)-\d+", name)
        if m:
            runs.setdefault(m.group(1), []).append(name)
    for rid, names in runs.items():
        try:
            age = time.time() - max(os.stat(f"/run/netns/{n}").st_mtime for n in names)
        except OSError:
            continue
        if age < max_age_s or any(_ip("netns", "pids", n, check=False).stdout.split() for n in names):
            continue
        for n in names:
            _ip("netns", "del", n, check=False)
        _ip("link", "del", f"rf{rid}b", check=False)
