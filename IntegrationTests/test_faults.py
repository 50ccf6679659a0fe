"""HA fault scenarios on a 6-node cluster (3 primaries, 3 replicas) of real processes: kill -9, SIGSTOP,
network partitions (network namespaces), restarts, manual failover. Each scenario has a numeric pass criterion
and prints its figures in one parsable line:

    FAULT-RESULT scenario=<name> key=value ...

(also appended to $ROOST_FAULTS_RESULTS when set). The harness is IntegrationTests/faults/ (README.md there).
Validated against Redis 7.0 (ROOSTD=/usr/bin/redis-server); `restart_empty_primary_fast` is a known Redis data
loss and is xfail(strict) on Redis.

Environment: ROOST_FAULTS_NODE_TIMEOUT_MS (default 2000), ROOST_FAULTS_NO_NETNS=1 (partitions via
DEBUG CLUSTER-PARTITION instead; skipped on Redis), ROOST_FAULTS_SYNC_KEYS (data for the full-sync scenario).
"""

from __future__ import annotations

import os
import random
import time

import pytest

from faults import (DirectProbe, FaultCluster, History, RegisterWorkload, SetWorkload, check_counter,
                    check_register, check_set, first_served_after, key_in_slots, max_gap, read_keys, wait_until)
from faults.client import CounterWorkload
from faults.net import netns_unavailable_reason
from servers import roostd_path, target_is_redis

pytestmark = pytest.mark.faults

NODE_TIMEOUT_MS = int(os.environ.get("ROOST_FAULTS_NODE_TIMEOUT_MS", "2000"))
NT = NODE_TIMEOUT_MS / 1000
WAIT_MS = 200  # WAIT 1 <ms> after every acknowledged write
SYNC_KEYS = int(os.environ.get("ROOST_FAULTS_SYNC_KEYS", "200000"))
SYNC_VALUE = 200
# How long after a primary dies its slots may stay unwritable: node-timeout + FAILOVER_SLACK_S. Roost's requirement
# is node-timeout + 1 s. Redis Cluster cannot meet it: after node-timeout the failure reports still have to be
# gossiped to a majority of primaries (FAIL), then the replica waits 500 ms + random(0..500) ms before asking for
# votes (measured: node-timeout + 1.0 to 2.4 s), so the suite is validated on Redis with node-timeout + 3 s.
FAILOVER_SLACK_S = 3.0 if target_is_redis() else 1.0
# How long a primary cut off into the minority may keep accepting writes: node-timeout + MINORITY_SLACK_S. Roost's
# requirement is node-timeout + 0.5 s. Redis marks a peer PFAIL only node-timeout after a PING it sent, and sends the
# next PING up to node-timeout/2 after the last PONG, so its minority primary refuses writes node-timeout + 0 to
# node-timeout/2 (+100 ms cron) after the partition: validated on Redis with node-timeout * 1.5 + 0.5 s.
MINORITY_SLACK_S = NT / 2 + 0.5 if target_is_redis() else 0.5


class DataLost(AssertionError):
    """Acknowledged writes are gone (the failure the xfail on Redis is about)."""


@pytest.fixture
def env(capsys):
    """Makes clusters and workloads; stops every workload thread and kills every node (by PID) and removes
    namespaces at teardown, also when the test failed or hit its time limit."""
    e = Env(capsys)
    yield e
    e.close()


class Env:
    def __init__(self, capsys):
        self.capsys = capsys
        self.clusters: list[FaultCluster] = []
        self.stoppables: list = []

    def cluster(self, partitions: bool = False) -> FaultCluster:
        if partitions and target_is_redis() and netns_unavailable_reason():
            pytest.skip(f"partitions need network namespaces with redis-server ({netns_unavailable_reason()}); "
                        "roostd falls back to DEBUG CLUSTER-PARTITION")
        c = FaultCluster(nodes=6, replicas=1, node_timeout_ms=NODE_TIMEOUT_MS, binary=roostd_path())
        self.clusters.append(c)
        c.start()
        if partitions and c.partition_unsupported_reason:
            pytest.skip(c.partition_unsupported_reason)
        return c

    def track(self, thing):
        self.stoppables.append(thing)
        return thing

    def emit(self, scenario: str, **figures) -> str:
        parts = [f"scenario={scenario}"]
        for k, v in figures.items():
            parts.append(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
        line = "FAULT-RESULT " + " ".join(parts)
        with self.capsys.disabled():
            print("\n" + line, flush=True)
        path = os.environ.get("ROOST_FAULTS_RESULTS")
        if path:
            with open(path, "a") as f:
                f.write(line + "\n")
        return line

    def close(self):
        for s in self.stoppables:
            try:
                s.stop()
            except Exception:
                pass
        for c in self.clusters:
            if not c.closed:
                print(c.describe())  # shown with the failure report
            c.close()


def seeds(c: FaultCluster):
    return [(n.host, n.port) for n in c.nodes]


def pair(c: FaultCluster):
    """A primary, its replica and its slots."""
    p = c.primaries()[0]
    r = c.replicas_of(p)[0]
    return p, r, c.slots_of(p)


def others(c: FaultCluster, *exclude):
    return [n for n in c.nodes if n not in exclude]


def final_set(c: FaultCluster, h: History):
    adds = h.of("add")
    values = read_keys(seeds(c), [o.value for o in adds])
    return check_set(adds, {k for k, v in values.items() if v is not None})


def since(t: float) -> float:
    return time.monotonic() - t


# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_kill_primary_under_wait_load(env):
    """kill -9 a primary under WAIT-acknowledged writes to its slots. Criteria: 0 acknowledged writes lost;
    writes to its slots are served again within node-timeout + 1 s (Redis: + 3 s, see FAILOVER_SLACK_S); the
    restarted old primary becomes a replica of the new one (and the cluster converges)."""
    c = env.cluster()
    p, r, slots = pair(c)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=4, slots=slots, wait=(1, WAIT_MS))).start()
    time.sleep(1.5)
    c.kill(p)
    t_fault = time.monotonic()
    promoted = wait_until(lambda: c.is_primary_of_slots(r), 4 * NT + 10)
    promoted_s = since(t_fault)
    resumed = wait_until(lambda: first_served_after(h.of("add"), t_fault), 4 * NT + 10)
    time.sleep(1.0)
    t_restart = time.monotonic()
    c.restart(p)
    rejoined = wait_until(lambda: c.is_replica_of(p, r), 30)
    rejoin_s = since(t_restart)
    time.sleep(0.5)
    wl.stop()
    converge_s = c.wait_healthy(30, check_data=True)
    res = final_set(c, h)
    unavailable = (resumed - t_fault) if resumed else float("inf")
    env.emit("kill_primary", unavailable_s=unavailable, lost=len(res.lost), acked=res.ok, unknown=res.unknown,
             failover_s=promoted_s, rejoin_s=rejoin_s, converge_s=converge_s, limit_s=NT + FAILOVER_SLACK_S)
    assert promoted, "the replica was not promoted"
    assert not res.lost, f"acknowledged writes lost: {res.summary()} e.g. {res.lost[:5]}"
    assert res.valid, res.summary()
    assert unavailable <= NT + FAILOVER_SLACK_S, f"writes to the dead primary's slots resumed after {unavailable:.2f}s"
    assert rejoined, "the restarted old primary did not become a replica of the new primary"


@pytest.mark.time_limit(120)
def test_partition_primary_into_minority(env):
    """Isolate a primary from every other node (clients still reach both sides). Criteria: it refuses writes
    (-CLUSTERDOWN) within node-timeout + 0.5 s (Redis: see MINORITY_SLACK_S) and keeps refusing; its replica is
    promoted on the majority side; after heal, at most one primary per slot, the old primary is a replica of the
    new one, and every replica has its primary's DBSIZE and keys; 0 WAIT-acknowledged writes lost."""
    c = env.cluster(partitions=True)
    p, r, slots = pair(c)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=3, slots=slots, wait=(1, WAIT_MS))).start()
    probe = env.track(DirectProbe(p.host, p.port, key_in_slots("probe", slots, random.Random()), interval=0.01))
    probe.start()
    time.sleep(1.0)
    c.isolate(p)
    t_fault = time.monotonic()
    refused = wait_until(lambda: probe.first("CLUSTERDOWN", after=t_fault), NT + 5)
    majority = [n for n in c.primaries() if n is not p]
    promoted = wait_until(lambda: c.is_primary_of_slots(r, observers=majority), 4 * NT + 10)
    promoted_s = since(t_fault)
    time.sleep(0.5)
    t_heal = time.monotonic()
    accepted_after_refusal = probe.count("ok", refused, t_heal) if refused else -1
    c.heal()
    probe.stop()
    wl.stop()
    converge_s = c.wait_healthy(30, check_data=True)
    double = c.double_claimed_slots()
    old_is_replica = c.is_replica_of(p, r)
    res = final_set(c, h)
    refuse_s = (refused - t_fault) if refused else float("inf")
    env.emit("partition_primary", refuse_s=refuse_s, accepted_after_refusal=accepted_after_refusal,
             failover_s=promoted_s, converge_s=converge_s, double_primary_slots=double, lost=len(res.lost),
             acked=res.ok, unknown=res.unknown, limit_s=NT + MINORITY_SLACK_S)
    assert refused, f"the isolated primary never answered -CLUSTERDOWN: {probe.summary(t_fault)}"
    assert refuse_s <= NT + MINORITY_SLACK_S, f"the isolated primary accepted writes for {refuse_s:.2f}s"
    assert accepted_after_refusal == 0, probe.summary(refused, t_heal)
    assert promoted, "the majority did not promote the replica"
    assert double == 0 and old_is_replica
    assert res.valid, res.summary()


@pytest.mark.time_limit(90)
def test_pause_primary_shorter_than_node_timeout(env):
    """SIGSTOP a primary for half the node timeout under WAIT-acknowledged writes and increments. Criteria: no
    failover (same primary, same epochs, nobody flagged failing), 0 acknowledged writes or increments lost."""
    c = env.cluster()
    p, r, slots = pair(c)
    epochs = {n.name: n.cmd("CLUSTER", "INFO").split("cluster_current_epoch:")[1].split()[0] for n in c.nodes}
    h = History()
    env.track(SetWorkload(seeds(c), history=h, threads=3, slots=slots, wait=(1, WAIT_MS))).start()
    counter_key = key_in_slots("counter", slots, random.Random())
    env.track(CounterWorkload(seeds(c), history=h, key=counter_key, threads=2, wait=(1, WAIT_MS),
                              process_base=100)).start()
    time.sleep(1.0)
    c.pause(p)
    t_fault = time.monotonic()
    time.sleep(NT / 2)
    c.resume(p)
    t_resume = time.monotonic()
    time.sleep(NT * 1.5)  # a failover would have started by now
    for s in env.stoppables:
        s.stop()
    t_end = time.monotonic()
    no_failover = c.is_primary_of_slots(p, observers=others(c, p)) and c.is_replica_of(r, p)
    epochs_after = {n.name: n.cmd("CLUSTER", "INFO").split("cluster_current_epoch:")[1].split()[0] for n in c.nodes}
    problems = c.health_problems(check_data=True)
    res = final_set(c, h)
    counter = check_counter(h.of("incr"), read_keys(seeds(c), [counter_key])[counter_key])
    gap = max_gap(h.of("add"), t_fault - 0.5, t_end)
    env.emit("pause_short", pause_s=t_resume - t_fault, unavailable_s=gap, failover=int(not no_failover),
             lost=len(res.lost), acked=res.ok, counter=counter.final, counter_lower=counter.lower,
             counter_upper=counter.upper)
    assert no_failover and epochs_after == epochs, (epochs, epochs_after)
    assert not problems, problems
    assert res.valid, res.summary()
    assert counter.valid, counter.summary()


@pytest.mark.time_limit(120)
def test_pause_primary_longer_than_node_timeout(env):
    """SIGSTOP a primary until its replica has been promoted, then SIGCONT. Criteria: failover happens; the old
    primary acknowledges no write after it resumes (SET + WAIT 1 never reaches a replica: 0 acked) and redirects
    writes with -MOVED within node-timeout of resuming; it becomes a replica of the new primary; 0 acknowledged
    writes lost."""
    c = env.cluster()
    p, r, slots = pair(c)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=3, slots=slots, wait=(1, WAIT_MS))).start()
    time.sleep(1.0)
    c.pause(p)
    t_fault = time.monotonic()
    promoted = wait_until(lambda: c.is_primary_of_slots(r, observers=[n for n in c.primaries() if n is not r]),
                          4 * NT + 10)
    failover_s = since(t_fault)
    probe = env.track(DirectProbe(p.host, p.port, key_in_slots("probe", slots, random.Random()),
                                  wait=(1, 100), interval=0.005))
    c.resume(p)
    t_resume = time.monotonic()
    probe.start()
    moved = wait_until(lambda: probe.first("MOVED", after=t_resume), NT + 5)
    rejoined = wait_until(lambda: c.is_replica_of(p, r), 30)
    probe.stop()
    wl.stop()
    converge_s = c.wait_healthy(30, check_data=True)
    res = final_set(c, h)
    summary = probe.summary()
    moved_s = (moved - t_resume) if moved else float("inf")
    env.emit("pause_long", failover_s=failover_s, moved_s=moved_s, acked_by_old_primary=summary.get("acked", 0),
             written_unacked_by_old_primary=summary.get("noack", 0), lost=len(res.lost), acked=res.ok,
             converge_s=converge_s)
    assert promoted, "no failover while the primary was paused"
    assert summary.get("acked", 0) == 0, f"the resumed old primary acknowledged writes: {summary}"
    assert moved_s <= NT, f"the resumed old primary redirected only after {moved_s:.2f}s: {summary}"
    assert rejoined, "the old primary did not become a replica of the new one"
    assert res.valid, res.summary()


def fill(node, slots, count: int, value_size: int) -> list[str]:
    """Writes `count` keys in `slots` straight to `node`, pipelined; returns a few of the key names."""
    import redis
    rng = random.Random(7)
    tags = [key_in_slots("t", slots, rng) for _ in range(64)]
    value = "v" * value_size
    client = redis.Redis(host=node.host, port=node.port, socket_timeout=30, protocol=2)
    try:
        batch = 2000
        for start in range(0, count, batch):
            pipe = client.pipeline(transaction=False)
            for i in range(start, min(count, start + batch)):
                pipe.set(f"fill:{{{tags[i % len(tags)]}}}:{i}", value)
            pipe.execute()
    finally:
        client.close()
    return [f"fill:{{{tags[i % len(tags)]}}}:{i}" for i in (0, count // 2, count - 1)]


def sync_state(node) -> str:
    info = node.info("replication", timeout=1.0)
    if info.get("master_sync_in_progress") == "1":
        return "syncing"
    if info.get("master_link_status") == "up":
        return "up"
    return "down"


@pytest.mark.time_limit(180)
def test_kill_replica_during_full_sync(env):
    """Load data, restart a replica empty so that it needs a full sync, kill -9 it in the middle of that sync,
    restart it. Criteria: it completes the sync and has its primary's DBSIZE and keys; the primary served every
    client op meanwhile (0 failed or timed-out ops, no gap over 1 s)."""
    c = env.cluster()
    p, r, slots = pair(c)
    t0 = time.monotonic()
    fill(p, slots, SYNC_KEYS, SYNC_VALUE)
    load_s = since(t0)
    c.wait_healthy(60)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=2, slots=slots, wait=None, pause=0.002)).start()
    time.sleep(0.5)
    t_fault = time.monotonic()
    c.kill(r)
    c.restart(r)
    seen = wait_until(lambda: sync_state(r) == "syncing", 20, interval=0.005)
    killed_in_sync = bool(seen) and sync_state(r) == "syncing"
    c.kill(r)
    t_restart = time.monotonic()
    c.restart(r)
    synced = wait_until(lambda: c.is_replica_of(r, p), 60, interval=0.05)
    sync_s = since(t_restart)
    time.sleep(0.3)
    wl.stop()
    t_end = time.monotonic()
    diffs = wait_until(lambda: not c.data_differences(p, r), 30) and c.data_differences(p, r)
    dbsize = p.cmd("DBSIZE")
    ops = h.of("add")
    bad = [o for o in ops if o.outcome != "ok"]
    gap = max_gap(ops, t_fault, t_end)
    env.emit("kill_replica_full_sync", keys=dbsize, load_s=load_s, killed_in_sync=int(killed_in_sync),
             sync_s=sync_s, failed_ops=len(bad), unavailable_s=gap, ops=len(ops))
    assert killed_in_sync, ("the replica's full sync was over before it could be killed: raise "
                            "ROOST_FAULTS_SYNC_KEYS")
    assert synced, f"the restarted replica did not complete its sync: {r.info('replication')}"
    assert diffs == [], diffs
    assert not bad, f"{len(bad)} client ops failed on the primary, e.g. {bad[:3]}"
    assert gap < 1.0, f"the primary served nothing for {gap:.2f}s"


@pytest.mark.time_limit(120)
@pytest.mark.xfail(target_is_redis(), strict=True, raises=DataLost,
                   reason="Redis Cluster: a primary restarted empty before node-timeout stays primary and its "
                          "replica full-syncs the empty dataset (acknowledged writes wiped)")
def test_restart_empty_primary_fast(env):
    """kill -9 a primary (no persistence) and restart it before node-timeout, empty. Criterion: every
    WAIT-acknowledged key written before is still readable from the cluster once it has settled (the replica's
    copy must not be wiped by syncing from the empty primary)."""
    c = env.cluster()
    p, r, slots = pair(c)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=3, slots=slots, wait=(1, WAIT_MS))).start()
    time.sleep(2.0)
    wl.stop()
    c.kill(p)
    t_fault = time.monotonic()
    c.restart(p)
    restart_s = since(t_fault)
    settle_s = c.wait_healthy(4 * NT + 30)
    res = final_set(c, h)
    env.emit("restart_empty_primary_fast", restart_s=restart_s, settle_s=settle_s, lost=len(res.lost), acked=res.ok,
             primary_now=("old" if c.is_primary_of_slots(p) else "replica"))
    assert restart_s < NT, f"the restart took {restart_s:.2f}s, not before node-timeout"
    if res.lost:
        raise DataLost(f"{len(res.lost)} of {res.ok} acknowledged keys are gone: {res.summary()}")
    assert res.valid, res.summary()


@pytest.mark.time_limit(120)
def test_register_linearizable_fault_free(env):
    """A few keys, several concurrent readers/writers (unique values) for a few seconds on a healthy cluster.
    Criterion: every key's history is linearizable (WGL search), and no op failed."""
    c = env.cluster()
    h = History()
    keys = ["reg:a", "reg:b", "reg:c"]
    env.track(RegisterWorkload(seeds(c), history=h, keys=keys, threads=6, pause=0.001)).start()
    time.sleep(4.0)
    env.stoppables[-1].stop()
    res = check_register(h.ops)
    counts = h.counts()
    env.emit("register_linearizable", ops=len(h), keys=len(keys), failed=counts.get("fail", 0),
             unknown=counts.get("unknown", 0), check_s=res.seconds, linearizable=int(res.valid))
    assert res.valid, res.summary()
    assert counts.get("fail", 0) == 0 and counts.get("unknown", 0) == 0, counts


@pytest.mark.time_limit(90)
def test_manual_failover_under_wait_load(env):
    """CLUSTER FAILOVER (default mode) on a replica under WAIT-acknowledged writes. Criteria: the roles swap
    (replica is primary for the slots everywhere, old primary its replica) within 10 s, 0 acknowledged writes
    lost, and writes to those slots are never unserved for node-timeout or longer."""
    c = env.cluster()
    p, r, slots = pair(c)
    h = History()
    wl = env.track(SetWorkload(seeds(c), history=h, threads=4, slots=slots, wait=(1, WAIT_MS))).start()
    time.sleep(1.0)
    t_fault = time.monotonic()
    assert r.cmd("CLUSTER", "FAILOVER") == "OK"
    swapped = wait_until(lambda: c.is_primary_of_slots(r, observers=others(c, r)) and c.is_replica_of(p, r), 10)
    switch_s = since(t_fault)
    time.sleep(1.0)
    wl.stop()
    t_end = time.monotonic()
    converge_s = c.wait_healthy(30, check_data=True)
    res = final_set(c, h)
    gap = max_gap(h.of("add"), t_fault, t_end)
    env.emit("manual_failover", switch_s=switch_s, unavailable_s=gap, lost=len(res.lost), acked=res.ok,
             unknown=res.unknown, converge_s=converge_s)
    assert swapped, "the roles did not swap"
    assert res.valid, res.summary()
    assert gap < NT, f"writes unserved for {gap:.2f}s"
