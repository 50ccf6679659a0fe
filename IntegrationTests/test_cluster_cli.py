"""The `roost` admin CLI (`roost cluster create/check/info/failover/demo`) against real cluster nodes — three
primaries, and three primaries with a replica each — and a six-node cluster made by `redis-cli --cluster create`.

The nodes come from the conftest `start_roost` fixture (ephemeral client and bus ports, stopped by PID at
teardown); `roost cluster demo` is run as a subprocess and stopped with SIGTERM, after which every node PID it
started must be gone. The CLI binary is $ROOST_CLI, else the `roost` next to $ROOSTD (see servers.py)."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess

import pytest
from redis.cluster import ClusterNode, RedisCluster

from servers import redis_cli, roost_cli_path, roostd_path
from test_cluster import check_ok, start_node, wait_until

pytestmark = pytest.mark.skipif(not os.path.exists(roost_cli_path()),
                                reason=f"roost CLI not built: {roost_cli_path()} (set ROOST_CLI)")


def roost(*args, timeout=60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([roost_cli_path(), *args], capture_output=True, text=True, timeout=timeout, **kw)


def addresses(nodes):
    return [f"127.0.0.1:{n.port}" for n in nodes]


def set_and_get(ports, count):
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports], decode_responses=True)
    try:
        for i in range(count):
            assert rc.set(f"key:{i}", f"value:{i}")
        for i in range(count):
            assert rc.get(f"key:{i}") == f"value:{i}"
    finally:
        rc.close()


@pytest.fixture
def roost_cluster3(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    create = roost("cluster", "create", *addresses(nodes), "--yes")
    assert create.returncode == 0, create.stdout + create.stderr
    assert "[OK] All nodes agree about slots configuration." in create.stdout, create.stdout
    assert "[OK] All 16384 slots covered." in create.stdout, create.stdout
    return nodes


@pytest.mark.time_limit(90)
def test_roost_cluster_create_then_redis_cli_and_roost_check_ok(roost_cluster3):
    nodes = roost_cluster3
    for n in nodes:
        assert redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok")
    ok, output = check_ok(nodes[1].port)
    assert ok, output
    check = roost("cluster", "check", f"127.0.0.1:{nodes[2].port}")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "[OK] All nodes agree about slots configuration." in check.stdout
    assert "[OK] All 16384 slots covered." in check.stdout
    # redis-cli --cluster create's split: 0-5460, 5461-10922, 10923-16383
    slots = redis_cli(nodes[0].port, "cluster", "slots").stdout.split()
    for bound in ("0", "5460", "5461", "10922", "10923", "16383"):
        assert bound in slots

    set_and_get([n.port for n in nodes], 300)
    info = roost("cluster", "info", f"127.0.0.1:{nodes[0].port}")
    assert info.returncode == 0, info.stdout + info.stderr
    assert "[OK] 300 keys in 3 primaries." in info.stdout, info.stdout
    lines = [line for line in info.stdout.splitlines() if " keys | " in line]
    assert len(lines) == 3 and sum(int(re.search(r"-> (\d+) keys", line)[1]) for line in lines) == 300
    assert sorted(int(re.search(r"\| (\d+) slots", line)[1]) for line in lines) == [5461, 5461, 5462]


@pytest.mark.time_limit(90)
def test_roost_cluster_check_reports_open_and_uncovered_slots(roost_cluster3):
    first, second = roost_cluster3[0], roost_cluster3[1]
    target_id = redis_cli(second.port, "cluster", "myid").stdout.strip()
    assert redis_cli(first.port, "cluster", "setslot", "100", "migrating", target_id).stdout.strip() == "OK"
    check = roost("cluster", "check", f"127.0.0.1:{first.port}")
    assert check.returncode == 1, check.stdout
    assert "[WARNING] The following slots are open: 100" in check.stdout, check.stdout
    assert "[OK] All 16384 slots covered." in check.stdout
    assert redis_cli(first.port, "cluster", "setslot", "100", "stable").stdout.strip() == "OK"
    assert roost("cluster", "check", f"127.0.0.1:{second.port}").returncode == 0

    assert redis_cli(first.port, "cluster", "delslots", "0").stdout.strip() == "OK"
    check = roost("cluster", "check", f"127.0.0.1:{second.port}")
    assert check.returncode == 1, check.stdout
    assert "[ERR] Not all 16384 slots are covered by nodes." in check.stdout, check.stdout
    assert "[ERR] 1 slots uncovered: 0" in check.stdout, check.stdout
    assert "[OK] All 16384 slots covered." not in check.stdout


@pytest.mark.time_limit(60)
def test_roost_cluster_create_refuses_what_it_cannot_do(start_roost, tmp_path):
    replicas = roost("cluster", "create", *[f"127.0.0.1:{p}" for p in range(1, 6)], "--replicas", "1")
    assert replicas.returncode == 1 and "At least 6 nodes are required." in replicas.stderr, replicas.stderr
    too_few = roost("cluster", "demo", "--nodes", "5", "--replicas", "1")
    assert too_few.returncode != 0 and "too few for --replicas 1" in too_few.stderr, too_few.stderr
    plain = [start_roost("--loglevel", "warning") for _ in range(3)]
    refused = roost("cluster", "create", *addresses(plain), "--yes")
    assert refused.returncode == 1
    assert f"[ERR] Node 127.0.0.1:{plain[0].port} is not configured as a cluster node." in refused.stderr
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    redis_cli(nodes[1].port, "cluster", "addslots", "7")
    refused = roost("cluster", "create", *addresses(nodes), "--yes")
    assert refused.returncode == 1 and f"Node 127.0.0.1:{nodes[1].port} is not empty" in refused.stderr
    unreachable = roost("cluster", "check", "127.0.0.1:1")
    assert unreachable.returncode == 1 and "cannot connect" in unreachable.stderr


def demo_base_port(count):
    """A base port for `roost cluster demo` with the client ports and their bus ports (+10000) free, below the
    ephemeral range so that the test's other servers do not take them."""
    for _ in range(100):
        base = random.randrange(20000, 22500)
        try:
            for port in [base + i for i in range(count)] + [base + 10000 + i for i in range(count)]:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    pytest.skip("no free port range for the demo")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.time_limit(150)
@pytest.mark.parametrize("count, replicas", [(3, 0), (6, 1)])
def test_roost_cluster_demo_serves_redis_py_and_stops_its_nodes_on_sigterm(tmp_path, count, replicas):
    """Six nodes get one replica each by default (no --replicas given)."""
    base = demo_base_port(count)
    directory = tmp_path / "demo"
    log = open(tmp_path / "demo.out", "w+")
    demo = subprocess.Popen([roost_cli_path(), "cluster", "demo", "--nodes", str(count), "--base-port", str(base),
                             "--dir", str(directory), "--roostd", roostd_path()],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    node_pids = []

    def output():
        return (tmp_path / "demo.out").read_text()

    try:
        assert wait_until(lambda: "Press Ctrl-C" in output() or demo.poll() is not None, 60), output()
        assert demo.poll() is None, output()
        node_pids = [int(p) for p in re.findall(r"Started roostd on port \d+ \(pid (\d+)", output())]
        assert len(node_pids) == count and all(pid_alive(p) for p in node_pids), output()
        assert f"redis-cli -c -p {base}" in output()
        primaries = count // (replicas + 1)
        assert f"({primaries} primaries, {count - primaries} replicas)" in output(), output()
        for replica in range(primaries, count):
            assert redis_cli(base + replica, "role").stdout.split()[0] == "slave"
        assert "[OK] All 16384 slots covered." in output()
        assert sorted(p.name for p in directory.glob("nodes-*.conf")) == \
            [f"nodes-{base + i}.conf" for i in range(count)]

        set_and_get([base], 200)
        check = roost("cluster", "check", f"127.0.0.1:{base + 1}")
        assert check.returncode == 0, check.stdout

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0, output()
        assert wait_until(lambda: not any(pid_alive(p) for p in node_pids), 10), output()
        assert f"Stopped {count} nodes." in output()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        for pid in node_pids:  # only if the demo failed to stop them
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


@pytest.mark.time_limit(150)
def test_six_nodes_created_by_redis_cli_check_ok_and_redis_py_sets_and_gets_2000_keys(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(6)]
    create = subprocess.run(["redis-cli", "--cluster", "create", *addresses(nodes), "--cluster-yes"],
                            capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    assert wait_until(lambda: all(redis_cli(n.port, "cluster", "info").stdout.startswith("cluster_state:ok")
                                  for n in nodes), 30)
    assert wait_until(lambda: check_ok(nodes[0].port)[0], 20), check_ok(nodes[0].port)[1]
    ok, output = check_ok(nodes[5].port)
    assert ok, output
    check = roost("cluster", "check", f"127.0.0.1:{nodes[3].port}")
    assert check.returncode == 0, check.stdout

    set_and_get([n.port for n in nodes], 2000)
    counts = [int(redis_cli(n.port, "dbsize").stdout) for n in nodes]
    assert sum(counts) == 2000 and all(c > 200 for c in counts), counts
    info = roost("cluster", "info", f"127.0.0.1:{nodes[0].port}")
    assert info.returncode == 0 and "[OK] 2000 keys in 6 primaries." in info.stdout, info.stdout


def node_table(port, host="127.0.0.1"):
    """CLUSTER NODES of one node as {id: (port, role, primary id or None)}."""
    table = {}
    for line in redis_cli(port, "cluster", "nodes", host=host).stdout.strip().splitlines():
        fields = line.split()
        flags = set(fields[2].split(","))
        table[fields[0]] = (int(fields[1].split("@")[0].rsplit(":", 1)[1]),
                            "master" if "master" in flags else "slave" if "slave" in flags else "?",
                            None if fields[3] == "-" else fields[3])
    return table


def planned_roles(stdout):
    """The plan `roost cluster create` printed: ({primary port: id}, {replica port: primary id})."""
    primaries = {int(m[2]): m[1] for m in re.finditer(r"^M: ([0-9a-f]{40}) [\d.]+:(\d+)$", stdout, re.M)}
    replicas = {int(m[2]): m[3]
                for m in re.finditer(r"^S: ([0-9a-f]{40}) [\d.]+:(\d+)\n   replicates ([0-9a-f]{40})$", stdout, re.M)}
    return primaries, replicas


def role(port, host="127.0.0.1"):
    return redis_cli(port, "role", host=host).stdout.split()


@pytest.mark.time_limit(150)
def test_roost_cluster_create_with_replicas_roles_agree_and_failover_swaps_them(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(6)]
    ports = [n.port for n in nodes]
    create = roost("cluster", "create", *addresses(nodes), "--replicas", "1", "--yes")
    assert create.returncode == 0, create.stdout + create.stderr
    assert "[OK] All 3 replicas are linked to their primaries." in create.stdout, create.stdout
    assert "[OK] All 16384 slots covered." in create.stdout, create.stdout
    primaries, replicas = planned_roles(create.stdout.split(">>> Assigning")[0])
    # One host: the first three nodes are the primaries, the fourth replicates the first, and so on.
    assert list(primaries) == ports[:3] and list(replicas) == ports[3:], create.stdout
    for index in range(3):
        assert replicas[ports[3 + index]] == primaries[ports[index]]
    assert "[WARNING] Some replicas are in the same host as their primary" in create.stdout

    id_of = {**primaries, **{p: redis_cli(p, "cluster", "myid").stdout.strip() for p in replicas}}
    for port in ports:  # every node agrees about the roles
        table = node_table(port)
        assert len(table) == 6
        for primary_port in primaries:
            assert table[id_of[primary_port]][1:] == ("master", None), (port, table)
        for replica_port, primary_id in replicas.items():
            assert table[id_of[replica_port]][1:] == ("slave", primary_id), (port, table)
    for replica_port, primary_id in replicas.items():
        primary_port = next(p for p, i in primaries.items() if i == primary_id)
        assert role(replica_port)[:3] == ["slave", "127.0.0.1", str(primary_port)]
        assert "master_link_status:up" in redis_cli(replica_port, "info", "replication").stdout
        assert role(primary_port)[0] == "master"
        shown = redis_cli(primary_port, "cluster", "replicas", primary_id).stdout
        assert id_of[replica_port] in shown

    check = roost("cluster", "check", f"127.0.0.1:{ports[4]}")
    assert check.returncode == 0, check.stdout
    assert check.stdout.count("   1 additional replica(s)") == 3, check.stdout
    assert check.stdout.count("   replicates ") == 3 and check.stdout.count("\nS: ") == 3, check.stdout
    set_and_get(ports, 300)
    info = roost("cluster", "info", f"127.0.0.1:{ports[5]}")
    assert info.returncode == 0 and "[OK] 300 keys in 3 primaries." in info.stdout, info.stdout
    assert info.stdout.count(" | 1 replicas.") == 3, info.stdout
    # the replicas hold their primaries' keys
    for replica_port, primary_id in replicas.items():
        primary_port = next(p for p, i in primaries.items() if i == primary_id)
        assert wait_until(lambda: redis_cli(replica_port, "dbsize").stdout == redis_cli(primary_port, "dbsize").stdout,
                          10)

    # roost cluster failover: the first replica takes over its primary's slots (coordinated), then another with
    # --takeover.
    replica, old_primary = ports[3], ports[0]
    failover = roost("cluster", "failover", f"127.0.0.1:{replica}", "--timeout", "30")
    assert failover.returncode == 0, failover.stdout + failover.stderr
    assert f"[OK] 127.0.0.1:{replica} is now a primary serving slots 0-5460" in failover.stdout, failover.stdout
    assert role(replica)[0] == "master"
    assert wait_until(lambda: role(old_primary)[:3] == ["slave", "127.0.0.1", str(replica)], 20), role(old_primary)
    assert wait_until(lambda: roost("cluster", "check", f"127.0.0.1:{ports[1]}").returncode == 0, 20)
    assert node_table(ports[2])[id_of[old_primary]][1:] == ("slave", id_of[replica])

    takeover = roost("cluster", "failover", f"127.0.0.1:{ports[4]}", "--takeover")
    assert takeover.returncode == 0, takeover.stdout + takeover.stderr
    assert role(ports[4])[0] == "master"
    assert wait_until(lambda: role(ports[1])[0] == "slave", 20), role(ports[1])
    assert wait_until(lambda: check_ok(ports[2])[0], 20), check_ok(ports[2])[1]
    set_and_get(ports, 300)

    refused = roost("cluster", "failover", f"127.0.0.1:{replica}")
    assert refused.returncode == 1 and "is a primary, not a replica" in refused.stderr, refused.stderr


def loopback_alias_works():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


@pytest.mark.time_limit(150)
@pytest.mark.skipif(not loopback_alias_works(), reason="cannot bind 127.0.0.2")
def test_roost_cluster_create_puts_each_replica_on_another_host_than_its_primary(start_roost, tmp_path):
    """Two "hosts", 127.0.0.1 and 127.0.0.2, three nodes each, given host by host: the primaries are taken one
    host at a time and every replica lands on the other host."""
    nodes = [start_node(start_roost, tmp_path / f"nodes-a{i}.conf") for i in range(3)]
    for i in range(3):
        handle = start_roost("--cluster-enabled", "yes", "--cluster-config-file", str(tmp_path / f"nodes-b{i}.conf"),
                             "--cluster-node-timeout", "2000", "--cluster-port", str(free_bus_port()),
                             "--loglevel", "notice", name=f"cluster-b{i}", bind="127.0.0.2", connect_host="127.0.0.2")
        nodes.append(handle)
    hosts = [n.host for n in nodes]
    endpoints = [f"{h}:{n.port}" for h, n in zip(hosts, nodes)]
    create = roost("cluster", "create", *endpoints, "--replicas", "1", "--yes")
    assert create.returncode == 0, create.stdout + create.stderr
    assert "[WARNING] Some replicas are in the same host" not in create.stdout, create.stdout
    host_of = {n.port: h for h, n in zip(hosts, nodes)}
    table = node_table(nodes[0].port, host=hosts[0])
    port_of = {node_id: entry[0] for node_id, entry in table.items()}
    masters = [i for i, e in table.items() if e[1] == "master"]
    slaves = [(i, e[2]) for i, e in table.items() if e[1] == "slave"]
    assert len(masters) == 3 and len(slaves) == 3, table
    assert {host_of[port_of[i]] for i in masters} == {"127.0.0.1", "127.0.0.2"}
    for replica_id, primary_id in slaves:
        assert host_of[port_of[replica_id]] != host_of[port_of[primary_id]], table
    for handle in nodes:
        replication = redis_cli(handle.port, "info", "replication", host=handle.host).stdout
        assert "role:master" in replication or "master_link_status:up" in replication, replication
    check = roost("cluster", "check", endpoints[4])
    assert check.returncode == 0, check.stdout


def free_bus_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.2", 0))
        return s.getsockname()[1]

