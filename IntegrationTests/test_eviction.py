"""maxmemory and every maxmemory-policy, through redis-py (and redis-cli), against a real server process.

Each test starts its own server with a small limit (2 MiB), writes well past it and checks what Redis 7.0
promises: which writes succeed, which keys may go, the exact -OOM text, INFO counters, and run-time CONFIG SET.
Everything except the Roost-only policies (allkeys-s3fifo, allkeys-sieve, allkeys-tinylfu) also passes against
redis-server 7.0.15 (ROOSTD=/usr/bin/redis-server).

Slack on `used_memory <= maxmemory`: both servers evict *before* executing a write, so after it `used_memory` may be
over by what that write added: one entry (~1.1 KiB here) plus, when the insert grows the hash table, the new bucket
array (Roost: 4 bytes per bucket, 16 KiB at 4096 buckets; Redis: 8 bytes per bucket). Redis also counts client query
and output buffers in `used_memory`. 64 KiB (3% of the limit) covers all of that with room to spare, and is still
small next to what an unenforced limit would show (the fills below write 5 MiB or more into 2 MiB).
"""

from __future__ import annotations

import time

import pytest
import redis

from resp import Frame
from servers import redis_cli, target_is_redis

LIMIT = 2 * 1024 * 1024
SLACK = 64 * 1024
VALUE = b"v" * 1000
OOM = "OOM command not allowed when used memory > 'maxmemory'."
OOM_BODY = OOM[len("OOM "):]  # redis-py strips the error code from the message

REDIS_ALLKEYS = ["allkeys-lru", "allkeys-lfu", "allkeys-random"]
ROOST_ALLKEYS = ["allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu"]
VOLATILE = ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]


def _start(start_roost, policy: str, maxmemory: str = "2mb", *extra: str):
    return start_roost("--loglevel", "warning", "--maxmemory", maxmemory, "--maxmemory-policy", policy, *extra)


def _client(server) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=10)


def _fill(r: redis.Redis, keys, ttl=None, batch: int = 50, on_batch=None) -> None:
    """Pipelined SETs (no MULTI) of VALUE to every key; raises on the first error reply."""
    keys = list(keys)
    for start in range(0, len(keys), batch):
        p = r.pipeline(transaction=False)
        for k in keys[start:start + batch]:
            p.set(k, VALUE, ex=ttl)
        assert all(ok is True for ok in p.execute()), "every SET succeeds"
        if on_batch:
            on_batch()


def _used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def _stats(r: redis.Redis) -> dict:
    return r.info("stats")


def _snapshot(r: redis.Redis) -> tuple[int, int, int]:
    """(evicted_keys, DBSIZE, keys with a TTL) as of one moment. Redis runs its eviction before *every* command
    while over the limit (INFO and DBSIZE too; its client buffers count), so read INFO on both sides of DBSIZE
    until no eviction happened in between. Roost evicts only before write commands: the first try agrees."""
    for _ in range(50):
        before = r.info("stats", "keyspace")
        size = r.dbsize()
        after = r.info("stats", "keyspace")
        if before["evicted_keys"] == after["evicted_keys"]:
            volatile = int(after["db0"]["expires"]) if "db0" in after else 0
            return int(after["evicted_keys"]), size, volatile
    raise AssertionError("evicted_keys never stood still around DBSIZE")


def _evicted_and_dbsize(r: redis.Redis) -> tuple[int, int]:
    evicted, size, _ = _snapshot(r)
    return evicted, size


def _exists_count(r: redis.Redis, keys) -> int:
    p = r.pipeline(transaction=False)
    for k in keys:
        p.exists(k)
    return sum(p.execute())


def _volatile_count(r: redis.Redis) -> int:
    db0 = r.info("keyspace").get("db0")
    return int(db0["expires"]) if db0 else 0


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("policy", REDIS_ALLKEYS + [
    pytest.param(p, marks=pytest.mark.roost_only(f"{p} is Roost's policy")) for p in ROOST_ALLKEYS])
def test_allkeys_policy_evicts_and_every_write_succeeds(start_roost, policy):
    s = _start(start_roost, policy)
    r = _client(s)
    assert r.config_get("maxmemory") == {"maxmemory": str(LIMIT)}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": policy}
    peak = 0

    def sample():
        nonlocal peak
        peak = max(peak, _used(r))

    written = 5000  # ~5 MiB of values into 2 MiB
    _fill(r, (f"key:{i}" for i in range(written)), on_batch=sample)
    evicted, size = _evicted_and_dbsize(r)
    assert peak <= LIMIT + SLACK, f"used_memory peaked at {peak} (limit {LIMIT})"
    assert _used(r) <= LIMIT + SLACK
    assert 0 < size < written
    assert size > 500, f"only {size} keys of ~1 KiB kept in 2 MiB"
    assert evicted == written - size
    assert int(_stats(r)["expired_keys"]) == 0
    # The survivors are readable and intact; keys written last are there (nothing evicts what was just written).
    assert r.get(f"key:{written - 1}") == VALUE
    assert r.get(f"key:{written - 1}") == VALUE
    assert r.set("after", "x") is True


@pytest.mark.time_limit(30)
def test_noeviction_refuses_writes_with_redis_oom_text_but_serves_reads_and_deletes(start_roost, conn_factory):
    s = _start(start_roost, "noeviction")
    r = _client(s)
    written = 0
    with pytest.raises(redis.exceptions.ResponseError) as refused:
        for i in range(10_000):
            r.set(f"key:{i}", VALUE)
            written += 1
    assert str(refused.value) == OOM_BODY
    assert written > 500, f"refused after only {written} keys"
    assert r.dbsize() == written
    assert int(_stats(r)["evicted_keys"]) == 0

    raw = conn_factory(s)  # the exact bytes on the wire
    assert raw.call("SET", "one", "more") == Frame("-", OOM.encode())
    assert raw.call("INCR", "counter") == Frame("-", OOM.encode())
    assert raw.call("APPEND", "key:0", "x") == Frame("-", OOM.encode())
    # Overwrites are refused too (SET is denyoom whatever it replaces); reads and deletes work.
    assert r.get("key:0") == VALUE
    assert r.exists("key:1", "key:2") == 2
    assert r.dbsize() == written
    # ~300 KiB: Redis counts client buffers in used_memory too, and they grow with INFO replies and new clients
    assert r.delete(*[f"key:{i}" for i in range(300)]) == 300
    assert r.set("one", "more") is True, "deleting made room"
    assert r.incr("counter") == 1
    assert r.dbsize() == written - 300 + 2
    assert _used(r) <= LIMIT + SLACK


@pytest.mark.time_limit(30)
def test_noeviction_through_redis_cli(start_roost):
    s = _start(start_roost, "noeviction")
    r = _client(s)
    with pytest.raises(redis.exceptions.ResponseError):
        for i in range(10_000):
            r.set(f"key:{i}", VALUE)
    out = redis_cli(s.port, "SET", "one", "more")
    assert out.stdout.strip() in (OOM, f"(error) {OOM}"), out
    assert redis_cli(s.port, "GET", "key:0").stdout.strip() == VALUE.decode()
    assert redis_cli(s.port, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru").stdout.strip() == "OK"
    assert redis_cli(s.port, "SET", "one", "more").stdout.strip() == "OK"
    assert redis_cli(s.port, "CONFIG", "GET", "maxmemory-policy").stdout.split() == ["maxmemory-policy",
                                                                                     "allkeys-lru"]
    assert int(redis_cli(s.port, "INFO", "stats").stdout.split("evicted_keys:")[1].split()[0]) >= 1


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("policy", VOLATILE)
def test_volatile_policy_evicts_only_keys_with_a_ttl_then_refuses(start_roost, policy):
    s = _start(start_roost, policy)
    r = _client(s)
    persistent = [f"keep:{i}" for i in range(300)]
    _fill(r, persistent)
    written = 3000
    _fill(r, (f"vol:{i}" for i in range(written)), ttl=3600)  # ~3 MiB more, all with a TTL: every SET succeeds
    evicted, size, volatile = _snapshot(r)
    assert _exists_count(r, persistent) == len(persistent), "a key without a TTL was evicted"
    assert size < len(persistent) + written
    assert evicted == len(persistent) + written - size
    assert volatile == size - len(persistent)
    assert _used(r) <= LIMIT + SLACK

    # Keys without a TTL push out the remaining volatile ones; once none is left, writes get -OOM.
    accepted = 0
    with pytest.raises(redis.exceptions.ResponseError) as refused:
        for i in range(5000):
            r.set(f"more:{i}", VALUE)
            accepted += 1
    assert str(refused.value) == OOM_BODY
    assert _volatile_count(r) == 0, "OOM although keys with a TTL were left to evict"
    assert accepted >= 0.8 * volatile, "the keys without a TTL took the place of the evicted volatile ones"
    assert _exists_count(r, persistent) == len(persistent)
    # While over the limit with nothing evictable, a write is refused even if it would itself carry a TTL.
    with pytest.raises(redis.exceptions.ResponseError) as refused:
        r.set("with-ttl", VALUE, ex=100)
    assert str(refused.value) == OOM_BODY
    assert r.get("keep:0") == VALUE


@pytest.mark.time_limit(30)
def test_volatile_ttl_evicts_the_nearest_expiry_first(start_roost):
    s = _start(start_roost, "volatile-ttl")
    r = _client(s)
    long_lived = [f"long:{i}" for i in range(300)]
    _fill(r, long_lived, ttl=100_000)
    short = [f"short:{i}" for i in range(6000)]  # ~6 MiB: whatever the per-key overhead, most must go
    _fill(r, short, ttl=1000)
    kept_long = _exists_count(r, long_lived)
    kept_short = _exists_count(r, short)
    evicted, size = _evicted_and_dbsize(r)
    assert evicted == len(long_lived) + len(short) - size
    assert evicted > 3000
    # Sampled (5 keys and a pool of 16 in Redis), so not strict: long TTLs must survive far more often.
    assert kept_long >= 0.9 * len(long_lived), f"only {kept_long}/300 long-TTL keys survived"
    assert kept_short / len(short) < 0.5 * kept_long / len(long_lived), (kept_short, kept_long)


@pytest.mark.time_limit(30)
def test_volatile_random_evicts_regardless_of_ttl(start_roost):
    """The control for the test above: the same workload under volatile-random loses most long-TTL keys."""
    s = _start(start_roost, "volatile-random")
    r = _client(s)
    long_lived = [f"long:{i}" for i in range(300)]
    _fill(r, long_lived, ttl=100_000)
    _fill(r, (f"short:{i}" for i in range(6000)), ttl=1000)
    assert _exists_count(r, long_lived) < 0.5 * len(long_lived)


@pytest.mark.time_limit(30)
def test_allkeys_lru_keeps_a_hot_set_that_is_read_continuously(start_roost):
    """The LRU clock ticks once a second (Redis's LRU_CLOCK_RESOLUTION), so the test spans a few seconds: the cold
    keys written first age by a second or more, then the hot set is read every 100 ms while cold keys keep coming
    at a rate that turns the cache over in about 1.5 s (so a cold key ages past the LRU clock's tick before it is
    due), sized from how many keys the limit holds (Redis holds fewer than Roost: its empty used_memory is
    ~0.9 MiB)."""
    s = _start(start_roost, "allkeys-lru")
    r = _client(s)
    _fill(r, (f"cold:a:{i}" for i in range(6000)))
    capacity = r.dbsize()
    per_round = max(20, capacity // 15)
    time.sleep(1.1)
    hot = [f"hot:{i}" for i in range(100)]
    _fill(r, hot)
    cold = []
    deadline = time.monotonic() + 4.0
    round_ = 0
    while time.monotonic() < deadline:
        p = r.pipeline(transaction=False)
        for k in hot:
            p.get(k)
        p.execute()
        batch = [f"cold:b:{round_}:{j}" for j in range(per_round)]
        _fill(r, batch)
        cold += batch
        round_ += 1
        time.sleep(0.1)
    kept_hot = _exists_count(r, hot)
    kept_cold = _exists_count(r, cold)
    assert len(cold) > 2 * capacity
    assert kept_hot >= 90, f"only {kept_hot}/100 hot keys survived"
    assert kept_cold / len(cold) < 0.6, f"{kept_cold}/{len(cold)} cold keys kept"


@pytest.mark.time_limit(30)
def test_config_set_maxmemory_and_policy_take_effect_at_run_time(start_roost):
    s = start_roost("--loglevel", "warning")
    r = _client(s)
    r.config_set("maxmemory", "0")  # no limit whatever the default
    written = 5000
    _fill(r, (f"key:{i}" for i in range(written)))
    assert r.dbsize() == written
    assert _used(r) > 2 * LIMIT

    assert r.config_set("maxmemory-policy", "allkeys-random") is True
    assert r.config_set("maxmemory", "2mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": str(LIMIT)}
    assert int(r.info("memory")["maxmemory"]) == LIMIT
    assert r.info("memory")["maxmemory_policy"] == "allkeys-random"
    assert r.set("trigger", "x") is True
    deadline = time.monotonic() + 5  # Redis may finish a large eviction from its timer (eviction tenacity)
    while _used(r) > LIMIT + SLACK and time.monotonic() < deadline:
        r.set("trigger", "x")
        time.sleep(0.05)
    assert _used(r) <= LIMIT + SLACK
    evicted, size = _evicted_and_dbsize(r)
    assert size < written / 2
    assert evicted == written + 1 - size

    assert r.config_set("maxmemory-policy", "noeviction") is True
    with pytest.raises(redis.exceptions.ResponseError) as refused:
        for i in range(5000):
            r.set(f"new:{i}", VALUE)
    assert str(refused.value) == OOM_BODY
    evicted = int(_stats(r)["evicted_keys"])

    assert r.config_set("maxmemory", "0") is True  # lifting the limit lets writes through again
    _fill(r, (f"new2:{i}" for i in range(500)))
    assert int(_stats(r)["evicted_keys"]) == evicted


@pytest.mark.time_limit(30)
def test_object_freq_under_allkeys_lfu_starts_at_5_and_grows_logarithmically(start_roost):
    s = _start(start_roost, "allkeys-lfu", "100mb")
    r = _client(s)
    r.set("cold", "x")
    r.set("warm", "x")
    r.set("hot", "x")
    assert r.object("freq", "cold") == 5  # LFU_INIT_VAL
    assert r.object("freq", "cold") == 5  # OBJECT FREQ does not count as an access

    def read(key, n):
        p = r.pipeline(transaction=False)
        for _ in range(n):
            p.get(key)
        p.execute()

    read("warm", 100)
    read("hot", 3000)
    cold, warm, hot = (r.object("freq", k) for k in ("cold", "warm", "hot"))
    assert cold == 5
    # lfu-log-factor 10: the counter c increments with probability 1/((c-5)*10+1), so it takes about
    # 5 (c-5)^2 reads to reach c: 100 reads give ~9, 3000 reads ~29 (bounds wide enough for the randomness).
    assert 7 <= warm <= 13, warm
    assert 22 <= hot <= 36, hot
    assert r.object("freq", "missing") is None


@pytest.mark.time_limit(30)
def test_object_freq_needs_an_lfu_policy(start_roost):
    s = _start(start_roost, "allkeys-lru", "100mb")
    r = _client(s)
    r.set("k", "v")
    with pytest.raises(redis.exceptions.ResponseError) as e:
        r.object("freq", "k")
    assert str(e.value).startswith("An LFU maxmemory policy is not selected, access frequency not tracked.")
    assert r.config_set("maxmemory-policy", "volatile-lfu") is True
    assert r.object("freq", "k") >= 0  # Redis reinterprets the LRU stamp (often 0); Roost restarts at 5
    r.set("new", "v")
    assert r.object("freq", "new") == 5
