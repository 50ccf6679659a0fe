"""Cluster replicas through real clients: six roostd nodes made into 3 primaries + 3 replicas by
`redis-cli --cluster create --cluster-replicas 1`; replicas redirect writes and, after READONLY, serve reads of
their primary's slots; redis-py's RedisCluster reads from replicas; CLUSTER REPLICAS / REPLICATE / FAILOVER answer
with Redis's replies and errors; WAIT counts the replica. (Failures under faults are in test_faults.py.)

Also passes against redis-server (ROOSTD=/usr/bin/redis-server)."""

from __future__ import annotations

import subprocess
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from servers import redis_cli, target_is_redis
from test_cluster import cluster_nodes, start_node, wait_until


@pytest.fixture
def cluster6(start_roost, tmp_path):
    extra = ("--repl-diskless-sync-delay", "0") if target_is_redis() else ()
    nodes = []
    for i in range(6):
        node = start_node(start_roost, tmp_path / f"nodes-{i}.conf")
        if extra:
            redis_cli(node.port, "config", "set", *extra)
        nodes.append(node)
    create = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                             "--cluster-replicas", "1", "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    assert "[OK] All 16384 slots covered." in create.stdout, create.stdout

    def settled():
        for n in nodes:
            if not redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok"):
                return False
            info = redis_cli(n.port, "info", "replication").stdout
            if "role:slave" in info and "master_link_status:up" not in info:
                return False
        views = [sorted((i, tuple(f for f in flags if f != "myself")) for i, (_, flags, _) in
                        cluster_nodes(n.port).items()) for n in nodes]
        return all(v == views[0] for v in views)

    assert wait_until(settled, 30), [redis_cli(n.port, "cluster", "nodes").stdout for n in nodes]
    return nodes


def roles(nodes):
    """{port: (role, primary_port)} from the first node's CLUSTER NODES."""
    view = cluster_nodes(nodes[0].port)
    port_of = {node_id: int(address.split("@")[0].rsplit(":", 1)[1]) for node_id, (address, _, _) in view.items()}
    out = {}
    for node_id, (address, flags, _) in view.items():
        line = next(l for l in redis_cli(nodes[0].port, "cluster", "nodes").stdout.splitlines()
                    if l.startswith(node_id))
        primary = line.split()[3]
        out[port_of[node_id]] = ("replica" if "slave" in flags else "primary",
                                 port_of.get(primary) if primary != "-" else None)
    return out


def by_port(nodes, port):
    return next(n for n in nodes if n.port == port)


@pytest.mark.time_limit(120)
def test_replicas_redirect_writes_and_serve_reads_after_readonly(cluster6):
    layout = roles(cluster6)
    primaries = [p for p, (role, _) in layout.items() if role == "primary"]
    replicas = {p: primary for p, (role, primary) in layout.items() if role == "replica"}
    assert len(primaries) == 3 and len(replicas) == 3 and sorted(replicas.values()) == sorted(primaries)

    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster6[0].port)], socket_timeout=5)
    keys = [f"key:{i}" for i in range(300)]
    for k in keys:
        rc.set(k, k.upper())
    for port in primaries:
        assert redis.Redis(port=port).execute_command("WAIT", 1, 2000) == 1

    replica_port, primary_port = next(iter(replicas.items()))
    replica = redis.Redis(port=replica_port, socket_timeout=5)
    owned = [k for k in keys if int(redis.Redis(port=primary_port).execute_command("CLUSTER", "KEYSLOT", k)) in
             slots_of(cluster6, primary_port)]
    assert owned
    # Without READONLY a replica redirects reads and writes to its primary.
    with pytest.raises(redis.ResponseError, match=rf"^(MOVED )?\d+ 127\.0\.0\.1:{primary_port}$"):
        replica.get(owned[0])
    with pytest.raises(redis.ResponseError, match=rf"^(MOVED )?\d+ 127\.0\.0\.1:{primary_port}$"):
        replica.set(owned[0], "x")
    # After READONLY it serves reads of its primary's slots (and still redirects writes and other slots).
    assert replica.execute_command("READONLY") in (b"OK", "OK", True)
    assert [replica.get(k) for k in owned] == [k.upper().encode() for k in owned]
    with pytest.raises(redis.ResponseError, match=r"^(MOVED )?\d+ "):
        replica.set(owned[0], "x")
    other = next(k for k in keys if k not in owned)
    with pytest.raises(redis.ResponseError, match=r"^(MOVED )?\d+ "):
        replica.get(other)
    assert replica.execute_command("READWRITE") in (b"OK", "OK", True)
    with pytest.raises(redis.ResponseError, match=r"^(MOVED )?\d+ "):
        replica.get(owned[0])
    # Replicas hold exactly their primary's keys.
    for port, primary in replicas.items():
        assert redis.Redis(port=port).dbsize() == redis.Redis(port=primary).dbsize()

    # redis-py's cluster client reading from replicas gets the same values.
    reader = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster6[0].port)], read_from_replicas=True,
                          socket_timeout=5)
    assert [reader.get(k) for k in keys[:50]] == [k.upper().encode() for k in keys[:50]]


def slots_of(nodes, port):
    view = cluster_nodes(nodes[0].port)
    slots = set()
    for address, _, ranges in view.values():
        if int(address.split("@")[0].rsplit(":", 1)[1]) != port:
            continue
        for r in ranges:
            if r.startswith("["):
                continue
            start, _, end = r.partition("-")
            slots.update(range(int(start), int(end or start) + 1))
    return slots


@pytest.mark.time_limit(120)
def test_replica_commands_reply_like_redis(cluster6):
    layout = roles(cluster6)
    primary_port = next(p for p, (role, _) in layout.items() if role == "primary")
    replica_port = next(p for p, (role, primary) in layout.items() if role == "replica" and primary == primary_port)
    ids = {int(a.split("@")[0].rsplit(":", 1)[1]): i for i, (a, _, _) in cluster_nodes(cluster6[0].port).items()}
    primary = redis.Redis(port=primary_port, decode_responses=True)
    replica = redis.Redis(port=replica_port, decode_responses=True)

    listed = primary.execute_command("CLUSTER", "REPLICAS", ids[primary_port])
    assert len(listed) == 1 and listed[0].startswith(ids[replica_port]) and " slave " in listed[0]
    assert primary.execute_command("CLUSTER", "SLAVES", ids[primary_port]) == listed
    with pytest.raises(redis.ResponseError, match="^The specified node is not a master$"):
        primary.execute_command("CLUSTER", "REPLICAS", ids[replica_port])
    with pytest.raises(redis.ResponseError, match="^Unknown node"):
        primary.execute_command("CLUSTER", "REPLICAS", "f" * 40)

    with pytest.raises(redis.ResponseError, match="^You should send CLUSTER FAILOVER to a replica$"):
        primary.execute_command("CLUSTER", "FAILOVER")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        replica.execute_command("CLUSTER", "FAILOVER", "SOON")
    with pytest.raises(redis.ResponseError, match="^Can't replicate myself$"):
        replica.execute_command("CLUSTER", "REPLICATE", ids[replica_port])
    with pytest.raises(redis.ResponseError, match="^I can only replicate a master, not a replica.$"):
        primary.execute_command("CLUSTER", "REPLICATE", ids[replica_port])
    with pytest.raises(redis.ResponseError, match="^To set a master the node must be empty and without assigned slots.$"):
        primary.execute_command("CLUSTER", "REPLICATE", next(i for p, i in ids.items() if p not in
                                                              (primary_port, replica_port)
                                                              and layout[p][0] == "primary"))
    with pytest.raises(redis.ResponseError, match="^REPLICAOF not allowed in cluster mode.$"):
        replica.execute_command("REPLICAOF", "127.0.0.1", str(primary_port))

    role = replica.execute_command("ROLE")
    assert role[0] == "slave" and int(role[2]) == primary_port and role[3] == "connected"
    role = primary.execute_command("ROLE")
    assert role[0] == "master" and [int(r[1]) for r in role[2]] == [replica_port]

    # A default CLUSTER FAILOVER swaps the roles; the old primary replicates the new one.
    assert replica.execute_command("CLUSTER", "FAILOVER") == "OK"
    assert wait_until(lambda: replica.execute_command("ROLE")[0] == "master"
                      and primary.execute_command("ROLE")[0] == "slave", 15)
    assert wait_until(lambda: "master_link_status:up" in redis_cli(primary_port, "info", "replication").stdout, 15)
    assert primary.info("replication")["master_port"] == replica_port
