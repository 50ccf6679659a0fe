"""Cluster mode: three real nodes created by `redis-cli --cluster create`, driven by redis-cli and redis-py's
RedisCluster; a node killed with SIGKILL is failed by the others and rejoins as itself; garbage on the bus port
does no harm; the bus port's connection cap and frame timeout bound what stray connections can hold.

Every node gets its client port and its bus port (`--cluster-port`) from the free-port helper, since the default
bus port (port + 10000) may not exist for an ephemeral port."""

from __future__ import annotations

import os
import random
import select
import signal
import socket
import subprocess
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from servers import free_port, redis_cli, target_is_redis

NODE_TIMEOUT_MS = 2000


def start_node(start_roost, config_path, bus_port=None):
    bus_port = bus_port or free_port()
    handle = start_roost("--cluster-enabled", "yes", "--cluster-config-file", str(config_path),
                         "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--cluster-port", str(bus_port),
                         "--loglevel", "notice", name=f"cluster-{config_path.stem}")
    handle.bus_port = bus_port
    return handle


def cluster_nodes(port):
    """CLUSTER NODES of one node as {id: (address, flags, slots)}."""
    out = redis_cli(port, "cluster", "nodes").stdout
    nodes = {}
    for line in out.strip().splitlines():
        fields = line.split()
        nodes[fields[0]] = (fields[1], fields[2].split(","), fields[8:])
    return nodes


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def check_ok(port):
    result = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{port}"], capture_output=True,
                            text=True, timeout=20)
    return result.returncode == 0 and "[OK] All 16384 slots covered." in result.stdout \
        and "[OK] All nodes agree about slots configuration." in result.stdout, result.stdout


@pytest.fixture
def cluster3(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    create = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                             "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    assert "[OK] All 16384 slots covered." in create.stdout, create.stdout
    assert wait_until(lambda: all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok")
                                  for n in nodes), 20)
    return nodes


@pytest.mark.time_limit(90)
def test_create_then_check_info_and_nodes_agree(cluster3):
    ok, output = check_ok(cluster3[0].port)
    assert ok, output
    info = subprocess.run(["redis-cli", "--cluster", "info", f"127.0.0.1:{cluster3[1].port}"], capture_output=True,
                          text=True, timeout=20)
    assert info.returncode == 0 and "3 masters" in info.stdout, info.stdout
    ids = {redis_cli(n.port, "cluster", "myid").stdout.strip() for n in cluster3}
    assert len(ids) == 3
    for node in cluster3:
        view = cluster_nodes(node.port)
        assert set(view) == ids
        assert sum(1 for _, flags, _ in view.values() if "myself" in flags) == 1
        text = redis_cli(node.port, "cluster", "info").stdout
        assert "cluster_known_nodes:3" in text and "cluster_size:3" in text
        assert "cluster_enabled:1" in redis_cli(node.port, "info", "cluster").stdout
    assert redis_cli(cluster3[0].port, "cluster", "keyslot", "{user1000}.following").stdout.strip() == \
        redis_cli(cluster3[0].port, "cluster", "keyslot", "user1000").stdout.strip()


@pytest.mark.time_limit(120)
def test_redis_py_cluster_sets_and_gets_10000_keys_mget_and_pipeline(cluster3):
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster3], decode_responses=True)
    try:
        keys = [f"key:{i}" for i in range(10_000)]
        slots = set()
        for key in keys:
            assert rc.set(key, key[::-1])
            slots.add(rc.keyslot(key))
        assert len(slots) > 5_000  # spread over all three nodes
        for key in keys:
            assert rc.get(key) == key[::-1]
        counts = [redis.Redis(port=n.port).dbsize() for n in cluster3]
        assert sum(counts) == 10_000 and all(c > 2_000 for c in counts), counts

        tagged = {f"{{user42}}:{field}": str(i) for i, field in enumerate(["name", "mail", "age", "city"])}
        assert rc.mset_nonatomic(tagged) is not None
        assert rc.execute_command("MGET", *tagged) == list(tagged.values())
        assert rc.mget_nonatomic(["key:1", "key:2", "key:3"]) == ["1:yek", "2:yek", "3:yek"]

        pipe = rc.pipeline()
        for i in range(500):
            pipe.set(f"piped:{i}", i)
        for i in range(500):
            pipe.get(f"piped:{i}")
        replies = pipe.execute()
        assert replies[:500] == [True] * 500
        assert replies[500:] == [str(i) for i in range(500)]
    finally:
        rc.close()


@pytest.mark.time_limit(60)
def test_redis_cli_follows_moved_and_errors_have_redis_text(cluster3):
    ports = [n.port for n in cluster3]
    for port in ports:
        assert redis_cli(port, "-c", "set", "foo", "bar").stdout.strip() == "OK"
        assert redis_cli(port, "-c", "get", "foo").stdout.strip() == "bar"
    slot = int(redis_cli(ports[0], "cluster", "keyslot", "foo").stdout)
    owner_port = None
    for port in ports:
        reply = redis_cli(port, "get", "foo").stdout.strip()
        if reply == "bar":
            owner_port = port
        else:
            assert reply.startswith(f"MOVED {slot} 127.0.0.1:"), reply
    assert owner_port is not None
    plain = redis.Redis(port=owner_port)
    assert redis_cli(owner_port, "mget", "foo", "foo2").stdout.strip() == \
        "CROSSSLOT Keys in request don't hash to the same slot"
    assert plain.execute_command("MGET", "{foo}a", "{foo}b") == [None, None]
    for command in ("readonly", "readwrite", "asking"):
        assert redis_cli(owner_port, command).stdout.strip() == "OK"


@pytest.mark.time_limit(60)
def test_single_node_without_slots_refuses_keys_then_serves_after_addslots(start_roost, tmp_path):
    node = start_node(start_roost, tmp_path / "nodes-single.conf")
    r = redis.Redis(port=node.port)
    assert redis_cli(node.port, "set", "foo", "bar").stdout.strip() == "CLUSTERDOWN Hash slot not served"
    assert r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383) == b"OK"
    assert wait_until(lambda: r.execute_command("CLUSTER", "INFO").startswith(b"cluster_state:ok"), 5)
    assert r.set("foo", "bar") and r.get("foo") == b"bar"
    assert r.execute_command("CLUSTER", "COUNTKEYSINSLOT", r.execute_command("CLUSTER", "KEYSLOT", "foo")) == 1
    assert r.execute_command("CLUSTER", "GETKEYSINSLOT", 12182, 10) == [b"foo"]
    with pytest.raises(redis.exceptions.ResponseError, match="^Slot 0 is already busy$"):
        r.execute_command("CLUSTER", "ADDSLOTS", 0)
    assert r.execute_command("CLUSTER", "DELSLOTS", 0) == b"OK"
    assert r.execute_command("CLUSTER", "INFO").startswith(b"cluster_state:fail")
    assert redis_cli(node.port, "get", "foo").stdout.strip() == "CLUSTERDOWN The cluster is down"
    assert r.config_set("cluster-require-full-coverage", "no")
    assert r.get("foo") == b"bar"


@pytest.mark.time_limit(120)
def test_killed_node_is_failed_by_the_others_and_rejoins_as_itself(cluster3, start_roost, tmp_path):
    victim = cluster3[2]
    victim_id = redis_cli(victim.port, "cluster", "myid").stdout.strip()
    victim_slots = cluster_nodes(cluster3[0].port)[victim_id][2]
    assert victim_slots
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    started = time.monotonic()
    survivors = cluster3[:2]
    assert wait_until(lambda: all("fail" in cluster_nodes(n.port)[victim_id][1] for n in survivors),
                      5 * NODE_TIMEOUT_MS / 1000), [cluster_nodes(n.port) for n in survivors]
    detected = time.monotonic() - started
    assert detected < 3 * NODE_TIMEOUT_MS / 1000 + 1, detected
    assert redis_cli(survivors[0].port, "cluster", "info").stdout.startswith("cluster_state:fail")

    restarted = start_node(start_roost, tmp_path / "nodes-2.conf")
    assert redis_cli(restarted.port, "cluster", "myid").stdout.strip() == victim_id

    def rejoined():
        for n in survivors:
            address, flags, slots = cluster_nodes(n.port)[victim_id]
            if "fail" in flags or "fail?" in flags or slots != victim_slots:
                return False
            if not address.startswith(f"127.0.0.1:{restarted.port}@"):
                return False
        return True

    assert wait_until(rejoined, 20), [cluster_nodes(n.port) for n in survivors]
    assert cluster_nodes(restarted.port)[victim_id][2] == victim_slots
    ok, output = check_ok(survivors[0].port)
    assert ok, output


@pytest.mark.time_limit(60)
def test_garbage_on_the_bus_port_does_no_harm(cluster3):
    node = cluster3[0]
    rng = random.Random(5)
    payloads = [bytes(rng.getrandbits(8) for _ in range(4096)),
                b"RBUS\x02\x01\x00\x00\xff\xff\xff\xff",  # a length far above the limit
                b"RBUS\x09",  # an unknown version
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"RBUS\x02\x01\x00\x00\x00\x00\x00\x60" + bytes(84)]  # a frame whose fields are all zero
    for payload in payloads:
        with socket.create_connection(("127.0.0.1", node.bus_port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(5)
            try:
                assert s.recv(16) == b""  # the node closes the link and sends nothing
            except ConnectionResetError:
                pass
    # A connection that sends half a frame and stalls holds only its own buffer, until the frame timeout closes it.
    stalled = socket.create_connection(("127.0.0.1", node.bus_port), timeout=5)
    stalled.sendall(b"RBUS\x02\x01\x00\x00\x00\x00\x10\x00")
    assert redis_cli(node.port, "ping").stdout.strip() == "PONG"
    assert node.alive()
    time.sleep(2 * NODE_TIMEOUT_MS / 1000)
    for n in cluster3:
        flags = [f for _, fl, _ in cluster_nodes(n.port).values() for f in fl]
        assert "fail" not in flags and "fail?" not in flags
    ok, output = check_ok(node.port)
    assert ok, output
    stalled.close()
    if not target_is_redis():
        assert "bad frame" in node.log(1 << 20)


# Roost's limits on inbound bus connections (BusInboundLimits): 2 per known node + 32, and a complete frame within
# the node timeout (clamped to 1...5 s) of the connection opening or of a frame's first byte. Redis has neither.
BUS_CONNECTIONS_PER_NODE = 2
BUS_CONNECTION_HEADROOM = 32
BUS_FRAME_TIMEOUT = min(max(NODE_TIMEOUT_MS, 1000), 5000) / 1000
roost_only = pytest.mark.skipif(target_is_redis(), reason="Roost's own bus limits")


def open_bus_connections(node, count, payload=b""):
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", node.bus_port), timeout=5)
        if payload:
            try:
                s.sendall(payload)
            except OSError:  # refused and closed before the payload went out
                pass
        sockets.append(s)
    return sockets


def closed_by_peer(sockets, wait):
    """The sockets the node has closed within `wait` seconds (each reads EOF or a reset)."""
    closed, pending, deadline = set(), list(sockets), time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
        for s in readable:
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b""
            if data == b"":
                closed.add(s)
                pending.remove(s)
    return closed


def no_failures(nodes):
    flags = [f for n in nodes for _, fl, _ in cluster_nodes(n.port).values() for f in fl]
    return "fail" not in flags and "fail?" not in flags


@roost_only
@pytest.mark.time_limit(90)
def test_bus_connections_over_the_cap_are_closed_and_the_cluster_stays_healthy(cluster3):
    node = cluster3[0]
    cap = BUS_CONNECTIONS_PER_NODE * len(cluster3) + BUS_CONNECTION_HEADROOM
    sockets = open_bus_connections(node, 3 * cap)
    try:
        # The peers hold two inbound links, so at most cap - 2 of ours are admitted; the rest are closed at once.
        closed = closed_by_peer(sockets, BUS_FRAME_TIMEOUT / 2)
        admitted = len(sockets) - len(closed)
        assert 0 < admitted <= cap - 2, (admitted, cap)
        assert redis_cli(node.port, "ping").stdout.strip() == "PONG"
        assert redis_cli(node.port, "cluster", "info").stdout.startswith("cluster_state:ok")
        # The admitted ones sent no frame, so they are closed after the frame timeout, freeing their places.
        assert len(closed_by_peer([s for s in sockets if s not in closed], BUS_FRAME_TIMEOUT + 2)) == admitted
    finally:
        for s in sockets:
            s.close()
    assert node.alive()
    time.sleep(NODE_TIMEOUT_MS / 1000)
    assert wait_until(lambda: no_failures(cluster3), 10), [cluster_nodes(n.port) for n in cluster3]
    assert all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok") for n in cluster3)
    ok, output = check_ok(node.port)
    assert ok, output
    log = node.log(1 << 20)
    assert "too many open" in log
    # Refusals are logged within a budget (10 lines a minute), not once per connection.
    assert log.count("Refusing a cluster bus connection") <= 10


@roost_only
@pytest.mark.time_limit(60)
def test_a_stalled_or_trickling_half_frame_is_closed_within_the_frame_timeout(start_roost, tmp_path):
    node = start_node(start_roost, tmp_path / "nodes.conf")
    header = b"RBUS\x02\x01\x00\x00\x00\x00\x10\x00"  # a ping frame of 4,096 bytes
    started = time.monotonic()
    stalled = open_bus_connections(node, 1, header + bytes(100))[0]
    trickling = open_bus_connections(node, 1, header)[0]
    for _ in range(int(BUS_FRAME_TIMEOUT / 0.25) + 8):
        if closed_by_peer([stalled, trickling], 0.25) == {stalled, trickling}:
            break
        try:
            trickling.send(b"\x00")  # one byte at a time never completes the frame in time
        except OSError:
            pass
    elapsed = time.monotonic() - started
    assert closed_by_peer([stalled, trickling], 0.5) == {stalled, trickling}
    assert BUS_FRAME_TIMEOUT - 0.5 <= elapsed <= BUS_FRAME_TIMEOUT + 1.5, elapsed
    stalled.close()
    trickling.close()
    assert redis_cli(node.port, "ping").stdout.strip() == "PONG"
    assert "no complete frame in time" in node.log(1 << 20)


@roost_only
@pytest.mark.time_limit(60)
def test_rss_stays_flat_while_200_connections_send_partial_large_frames(start_roost, tmp_path):
    node = start_node(start_roost, tmp_path / "nodes.conf")
    # Warm up: the event loops' read buffers and the first connections' allocations.
    for s in open_bus_connections(node, 40, b"RBUS\x02\x01\x00\x00\x00\x04\x00\x00" + bytes(32 * 1024)):
        s.close()
    time.sleep(0.5)
    before = node.rss_kib()
    # Each announces a frame of 256 KiB (the most the decoder accepts) and sends 32 KiB of it.
    sockets = open_bus_connections(node, 200, b"RBUS\x02\x01\x00\x00\x00\x04\x00\x00" + bytes(32 * 1024))
    try:
        time.sleep(0.5)
        grown = node.rss_kib() - before
        assert redis_cli(node.port, "ping").stdout.strip() == "PONG"
        assert grown < 4 * 1024, f"RSS grew by {grown} KiB"
    finally:
        for s in sockets:
            s.close()
    assert node.alive()


@pytest.mark.time_limit(30)
def test_cluster_commands_refused_when_cluster_mode_is_off(roost):
    r = redis.Redis(port=roost.port)
    for command in (("CLUSTER", "INFO"), ("READONLY",), ("READWRITE",), ("ASKING",)):
        with pytest.raises(redis.exceptions.ResponseError, match="^This instance has cluster support disabled$"):
            r.execute_command(*command)
    assert "cluster_enabled:0" in redis_cli(roost.port, "info", "cluster").stdout
    assert r.set("a", 1) and r.execute_command("MGET", "a", "b") == [b"1", None]
