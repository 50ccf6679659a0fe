"""The Swift client's example program (Examples/roost-client-example, built by `swift build` next to roostd) run
as a user would run it: against a standalone roostd, against a three-node Roost cluster, and in its `stampede`
mode from four processes at once (each key must be computed once per expiry). The binary is
$ROOST_CLIENT_EXAMPLE, else the `roost-client-example` next to $ROOSTD."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from servers import redis_cli, roost_cli_path, roostd_path, target_is_redis
from test_cluster import start_node


def example_path() -> str:
    return os.environ.get("ROOST_CLIENT_EXAMPLE") or os.path.join(os.path.dirname(roostd_path()),
                                                                 "roost-client-example")


pytestmark = [
    pytest.mark.skipif(not os.path.exists(example_path()),
                       reason=f"roost-client-example not built: {example_path()} (set ROOST_CLIENT_EXAMPLE)"),
]


def run_example(*args, timeout=60):
    return subprocess.run([example_path(), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.time_limit(60)
def test_example_against_a_standalone_server(roost):
    result = run_example(f"127.0.0.1:{roost.port}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Codable round trip: ok" in result.stdout
    assert "DEL: 9 keys" in result.stdout
    assert redis_cli(roost.port, "dbsize").stdout.strip() == "0", "the example removes what it wrote"


@pytest.mark.time_limit(90)
@pytest.mark.skipif(target_is_redis(), reason="uses the roost CLI to form the cluster")
def test_example_against_a_cluster(start_roost, tmp_path):
    nodes = [start_node(start_roost, tmp_path / f"nodes-{i}.conf") for i in range(3)]
    create = subprocess.run([roost_cli_path(), "cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--yes"],
                            capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stdout + create.stderr
    result = run_example("--cluster", f"127.0.0.1:{nodes[0].port}")
    assert result.returncode == 0, result.stdout + result.stderr
    # MGET of keys in several slots went through the slot split and merge, in order.
    assert "MGET: [\"value-0\", \"value-1\", \"value-2\", \"value-3\", \"value-4\", \"(nil)\"]" in result.stdout, \
        result.stdout


@pytest.mark.time_limit(90)
@pytest.mark.skipif(target_is_redis(), reason="LEASE.* is Roost's")
def test_stampede_from_four_processes_computes_each_key_once_per_expiry(roost):
    start_at = int(time.time() * 1000) + 2500
    args = ["stampede", "--tasks", "25", "--keys", "4", "--phases", "3", "--phase-ms", "1200", "--ttl-ms", "800",
            "--loader-ms", "100", "--start-at", str(start_at), f"127.0.0.1:{roost.port}"]
    processes = [subprocess.Popen([example_path(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(4)]
    outputs = []
    for p in processes:
        try:
            out, _ = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 0, out
        outputs.append(out)
    for key in range(4):
        loads = redis_cli(roost.port, "get", f"stampede:loads:stampede:{key}").stdout.strip()
        assert loads == "3", f"key {key} computed {loads} times in 3 expiries by 100 tasks in 4 processes: {outputs}"
