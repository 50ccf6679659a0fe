"""The `roost` admin CLI (`roost cluster create/check/info/demo`) against real cluster nodes, and a six-node cluster
made by `redis-cli --cluster create`.

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
    replicas = roost("cluster", "create", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "--replicas", "1")
    assert replicas.returncode != 0 and "issue 6" in replicas.stderr, replicas.stderr
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


@pytest.mark.time_limit(120)
def test_roost_cluster_demo_serves_redis_py_and_stops_its_nodes_on_sigterm(tmp_path):
    base = demo_base_port(3)
    directory = tmp_path / "demo"
    log = open(tmp_path / "demo.out", "w+")
    demo = subprocess.Popen([roost_cli_path(), "cluster", "demo", "--nodes", "3", "--base-port", str(base),
                             "--dir", str(directory), "--roostd", roostd_path()],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    node_pids = []

    def output():
        return (tmp_path / "demo.out").read_text()

    try:
        assert wait_until(lambda: "Press Ctrl-C" in output() or demo.poll() is not None, 60), output()
        assert demo.poll() is None, output()
        node_pids = [int(p) for p in re.findall(r"Started roostd on port \d+ \(pid (\d+)", output())]
        assert len(node_pids) == 3 and all(pid_alive(p) for p in node_pids), output()
        assert f"redis-cli -c -p {base}" in output()
        assert "[OK] All 16384 slots covered." in output()
        assert sorted(p.name for p in directory.glob("nodes-*.conf")) == \
            [f"nodes-{base + i}.conf" for i in range(3)]

        set_and_get([base], 200)
        check = roost("cluster", "check", f"127.0.0.1:{base + 1}")
        assert check.returncode == 0, check.stdout

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0, output()
        assert wait_until(lambda: not any(pid_alive(p) for p in node_pids), 10), output()
        assert "Stopped 3 nodes." in output()
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
