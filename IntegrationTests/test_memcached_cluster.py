"""The memcached protocol in cluster mode (issue 7): a memcached client pointed at one node sees the whole cluster.

Three roostd nodes in cluster mode, each with a memcached port at the same offset from its RESP port (the rule by
which a node finds another node's memcached port, docs/MEMCACHED.md "Cluster mode"), joined with
`redis-cli --cluster create`. pymemcache and a raw connection talk to ONE node; redis-py's RedisCluster checks that
every key landed on the node owning its slot. Skips when roostd has no `--memcached-port`.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from memcache import McUnsupported, start_target
from servers import _ping, free_port, redis_cli, roostd_path, target_is_redis

NODE_TIMEOUT_MS = 2000
KEYS = 300


def _port_free(port: int) -> bool:
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Node:
    def __init__(self, port: int, mc_port: int, bus_port: int, workdir: Path):
        self.port, self.mc_port, self.bus_port, self.workdir = port, mc_port, bus_port, workdir
        self.log_path = workdir / "server.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [roostd_path(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(workdir / "nodes.conf"), "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--cluster-port", str(bus_port), "--memcached-port", str(mc_port), "--loglevel", "notice"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
            start_new_session=True)

    def wait_ready(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if _ping("127.0.0.1", self.port):
                return True
            time.sleep(0.05)
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_nodes(count: int, attempts: int = 20) -> list[Node]:
    """`count` nodes whose memcached ports are all RESP port + one offset."""
    offset = random.randint(1000, 9000)
    nodes: list[Node] = []
    for _ in range(attempts):
        if len(nodes) == count:
            return nodes
        port = free_port()
        bus_port = free_port()
        if not _port_free(port + offset) or bus_port in (port, port + offset):
            continue
        node = Node(port, port + offset, bus_port, Path(tempfile.mkdtemp(prefix="roost-it-mccluster-")))
        if node.wait_ready():
            nodes.append(node)
        else:
            log = node.log()
            node.stop()
            if "memcached-port" in log and "unknown" in log.lower():
                for n in nodes:
                    n.stop()
                raise McUnsupported("roostd has no memcached port yet")
    for n in nodes:
        n.stop()
    raise RuntimeError(f"could not start {count} nodes with memcached port offset {offset}")


@pytest.fixture(scope="module")
def cluster():
    if target_is_redis() or os.environ.get("MEMCACHED_TARGET", "roostd") != "roostd":
        pytest.skip("cluster forwarding is roostd's")
    try:
        start_target().stop()  # skips when roostd does not know --memcached-port
    except McUnsupported as e:
        pytest.skip(str(e))
    nodes = start_nodes(3)
    try:
        create = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                                 "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert create.returncode == 0, create.stdout + create.stderr
        deadline = time.monotonic() + 20
        while not all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok") for n in nodes):
            assert time.monotonic() < deadline, "cluster did not reach cluster_state:ok"
            time.sleep(0.1)
        yield nodes
    finally:
        for n in nodes:
            n.stop()


@pytest.fixture
def pmc(cluster):
    from pymemcache.client.base import Client
    client = Client(("127.0.0.1", cluster[0].mc_port), connect_timeout=5, timeout=5)
    yield client
    client.close()


@pytest.fixture
def rc(cluster):
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster[0].port)], socket_timeout=5)
    yield client
    client.close()


def owners(cluster) -> dict[int, int]:
    """slot -> RESP port of its owner, from CLUSTER SLOTS of node 0."""
    client = redis.Redis(port=cluster[0].port, socket_timeout=5)
    result = {}
    for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
        for slot in range(start, end + 1):
            result[slot] = int(primary[1])
    client.close()
    return result


def keys_spread(cluster, rc) -> list[str]:
    keys = [f"mc-cluster-{i}" for i in range(KEYS)]
    mine = cluster[0].port
    slot_owner = owners(cluster)
    ports = {slot_owner[rc.keyslot(k)] for k in keys}
    assert len(ports) == 3, ports
    assert any(slot_owner[rc.keyslot(k)] != mine for k in keys)
    return keys


def local_value(cluster, port: int, key: str):
    node = redis.Redis(port=port, socket_timeout=5)
    try:
        return node.execute_command("GET", key)  # no redirection: only the owner has it
    except redis.exceptions.ResponseError:
        return None
    finally:
        node.close()


@pytest.mark.time_limit(120)
def test_text_commands_reach_every_owner(cluster, pmc, rc):
    keys = keys_spread(cluster, rc)
    slot_owner = owners(cluster)
    for i, key in enumerate(keys):
        assert pmc.set(key, f"v{i}".encode(), flags=i % 7, noreply=False) is True
    for i, key in enumerate(keys):
        assert pmc.get(key) == f"v{i}".encode()
        assert rc.get(key) == f"v{i}".encode()
        owner = slot_owner[rc.keyslot(key)]
        assert local_value(cluster, owner, key) == f"v{i}".encode()
        for other in cluster:
            if other.port != owner:
                assert local_value(cluster, other.port, key) is None
    for key in keys[:60]:
        value, cas = pmc.gets(key)
        assert pmc.cas(key, b"new", cas) is True
        assert pmc.cas(key, b"again", cas) is False
        assert pmc.get(key) == b"new"
    for key in keys[60:120]:
        pmc.set(key, b"10", noreply=False)
        assert pmc.incr(key, 5) == 15
        assert pmc.decr(key, 20) == 0
        assert rc.get(key) == b"0"
    for key in keys[120:180]:
        assert pmc.touch(key, 100, noreply=False) is True
        assert 0 < rc.ttl(key) <= 100
    for key in keys[180:240]:
        assert pmc.delete(key, noreply=False) is True
        assert pmc.get(key) is None
        assert rc.get(key) is None
    assert pmc.delete("mc-cluster-missing", noreply=False) is False
    # noreply: not waited for, but done before what follows on the same connection
    for key in keys[240:]:
        pmc.set(key, b"quiet", noreply=True)
    for key in keys[240:]:
        assert pmc.get(key) == b"quiet"
    assert pmc.touch(keys[-1], 50, noreply=True) is True
    assert pmc.get(keys[-1]) == b"quiet" and 0 < rc.ttl(keys[-1]) <= 50


@pytest.mark.time_limit(120)
def test_multi_get_across_nodes_keeps_key_order(cluster, pmc, rc):
    keys = keys_spread(cluster, rc)
    for i, key in enumerate(keys):
        pmc.set(key, f"m{i}".encode())
    pmc.delete(keys[5])
    from pymemcache.client.base import Client
    raw_order = Client(("127.0.0.1", cluster[1].mc_port), timeout=5)
    try:
        got = pmc.get_many(keys[:100])
        assert got == {k: f"m{i}".encode() for i, k in enumerate(keys[:100]) if i != 5}
        many = pmc.gets_many(keys[100:150])
        assert set(many) == set(keys[100:150])
        assert raw_order.get_many(keys[:20]) == {k: f"m{i}".encode() for i, k in enumerate(keys[:20]) if i != 5}
    finally:
        raw_order.close()
    # the raw reply: VALUE blocks in the request's key order (duplicates included), one END
    picked = [keys[7], keys[3], keys[5], keys[200], keys[7], keys[42]]
    with socket.create_connection(("127.0.0.1", cluster[0].mc_port), timeout=5) as s:
        s.sendall(("get " + " ".join(picked) + "\r\n").encode())
        expected = b"".join(f"VALUE {k} 0 {len(v)}\r\n{v}\r\n".encode()
                            for k, v in ((k, f"m{keys.index(k)}") for k in picked) if k != keys[5]) + b"END\r\n"
        data = b""
        while not data.endswith(b"END\r\n") and len(data) < len(expected):
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert data == expected


def meta(sock: socket.socket, request: bytes, until: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    deadline = time.monotonic() + 5
    while not data.endswith(until):
        assert time.monotonic() < deadline, data
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


@pytest.mark.time_limit(60)
def test_meta_commands_on_remote_keys(cluster, rc):
    slot_owner = owners(cluster)
    mine = cluster[0].port
    remote = [k for k in (f"meta-{i}" for i in range(200)) if slot_owner[rc.keyslot(k)] != mine][:20]
    assert len(remote) == 20
    with socket.create_connection(("127.0.0.1", cluster[0].mc_port), timeout=5) as s:
        for i, key in enumerate(remote):
            assert meta(s, f"ms {key} 5 F{i} T0 O{i}\r\nhello\r\n".encode(), b"\r\n") == f"HD O{i}\r\n".encode()
            assert meta(s, f"mg {key} v f k\r\n".encode(), b"hello\r\n") == f"VA 5 f{i} k{key}\r\nhello\r\n".encode()
            assert rc.get(key) == b"hello"
        # quiet: a miss says nothing, a hit still answers; the mn at the end orders it
        reply = meta(s, f"mg nosuch-{remote[0]} v q\r\nmg {remote[1]} v q\r\nmd {remote[2]} q\r\nmn\r\n".encode(),
                     b"MN\r\n")
        assert reply == b"VA 5\r\nhello\r\nMN\r\n"
        assert rc.get(remote[2]) is None
        # base64 keys route by the decoded key
        import base64
        encoded = base64.b64encode(remote[3].encode()).decode()
        assert meta(s, f"mg {encoded} b v\r\n".encode(), b"hello\r\n") == b"VA 5\r\nhello\r\n"
        # a pipeline mixing local and remote requests answers in order
        local = next(k for k in (f"local-{i}" for i in range(200)) if slot_owner[rc.keyslot(k)] == mine)
        batch = b"".join(f"ms {k} 1\r\n{j}\r\nmg {k} v\r\n".encode() for j, k in enumerate([local] + remote[4:9]))
        expected = b"".join(f"HD\r\nVA 1\r\n{j}\r\n".encode() for j in range(6))
        assert meta(s, batch + b"mn\r\n", b"MN\r\n") == expected + b"MN\r\n"
        # me answers from the owner
        assert meta(s, f"me {remote[4]}\r\n".encode(), b"\r\n").startswith(f"ME {remote[4]} ".encode())


@pytest.mark.time_limit(60)
def test_flush_all_is_local_and_stats_stay_local(cluster, pmc, rc):
    slot_owner = owners(cluster)
    mine = cluster[0].port
    keys = [f"flush-{i}" for i in range(100)]
    for key in keys:
        pmc.set(key, b"x")
    assert pmc.flush_all() is True
    for key in keys:
        expect = None if slot_owner[rc.keyslot(key)] == mine else b"x"
        assert pmc.get(key) == expect
    assert pmc.version()
    assert b"pid" in b"".join(pmc.stats().keys()) or "pid" in {str(k) for k in pmc.stats()}


@pytest.mark.time_limit(60)
def test_forwarded_requests_are_never_forwarded_again(cluster, rc):
    slot_owner = owners(cluster)
    mine = cluster[0].port
    remote = next(k for k in (f"hop-{i}" for i in range(200)) if slot_owner[rc.keyslot(k)] != mine)
    local = next(k for k in (f"hop-{i}" for i in range(200)) if slot_owner[rc.keyslot(k)] == mine)
    with socket.create_connection(("127.0.0.1", cluster[0].mc_port), timeout=5) as s:
        # what another node sends first on its connections: keys are then served here or refused
        reply = meta(s, f"roost_forwarded\r\nget {remote}\r\nset {local} 0 0 1\r\nx\r\nmn\r\n".encode(), b"MN\r\n")
        assert reply == b"SERVER_ERROR cluster is down\r\nSTORED\r\nMN\r\n"


@pytest.mark.time_limit(90)
def test_a_dead_owner_fails_only_its_requests(cluster, pmc, rc):
    """Runs last: it kills node 2. Its keys answer a SERVER_ERROR; the others keep working on the same connection."""
    slot_owner = owners(cluster)
    dead = cluster[2]
    keys = [f"dead-{i}" for i in range(300)]
    for key in keys:
        assert pmc.set(key, b"v", noreply=False) is True
    os.killpg(dead.proc.pid, signal.SIGKILL)
    dead.proc.wait(10)
    with socket.create_connection(("127.0.0.1", cluster[0].mc_port), timeout=10) as s:
        for key in keys[:60]:
            reply = meta(s, f"get {key}\r\n".encode(), b"\r\n")
            while reply.startswith(b"VALUE") and not reply.endswith(b"END\r\n"):
                reply += s.recv(65536)
            if slot_owner[rc.keyslot(key)] == dead.port:
                assert reply in (b"SERVER_ERROR forwarding failed\r\n", b"SERVER_ERROR cluster is down\r\n"), reply
            else:
                assert reply == f"VALUE {key} 0 1\r\nv\r\nEND\r\n".encode() or reply == b"SERVER_ERROR cluster is down\r\n"
