import Testing

@testable import RoostServer

@Suite("maxmemory and eviction through the dispatcher")
struct MemoryLimitTests {
    @Test func noevictionAnswersOOMToWritesButServesReadsAndDeletes() {
        var redis = Harness {
            $0.maxMemory = 64 << 10
            $0.maxMemoryPolicy = "noeviction"
        }
        var index = 0
        while redis("SET", "key:\(index)", String(repeating: "v", count: 200)) == .ok && index < 10_000 { index += 1 }
        #expect(redis("SET", "one", "more") == .error("OOM command not allowed when used memory > 'maxmemory'."))
        #expect(redis("INCR", "counter") == .error("OOM command not allowed when used memory > 'maxmemory'."))
        #expect(redis("GET", "key:0") == .bulk(String(repeating: "v", count: 200)))
        #expect(redis("DEL", "key:0", "key:1", "key:2") == .integer(3))
        #expect(redis("SET", "one", "more") == .ok, "deleting made room")
        #expect(index > 100)
    }

    @Test(arguments: [
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu",
    ])
    func evictingPoliciesNeverRefuseAndCountEvictions(policy: String) {
        var redis = Harness {
            $0.maxMemory = 64 << 10
            $0.maxMemoryPolicy = policy
        }
        for index in 0..<2_000 {
            #expect(redis("SET", "key:\(index)", String(repeating: "v", count: 200)) == .ok)
        }
        #expect(redis.server.keyspace.withLock { $0.estimatedMemory } <= (64 << 10) + 1024)
        guard case .bulk(let bytes) = redis("INFO", "stats") else { return }
        let stats = String(decoding: bytes, as: UTF8.self)
        guard case .integer(let size) = redis("DBSIZE") else { return }
        #expect(stats.contains("evicted_keys:\(2_000 - size)"))
    }

    @Test func configSetAppliesTheLimitAtOnce() {
        var redis = Harness()
        for index in 0..<1_000 { redis("SET", "key:\(index)", String(repeating: "v", count: 200)) }
        #expect(redis("CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "maxmemory", "32kb") == .ok)
        #expect(redis("SET", "trigger", "x") == .ok)
        guard case .integer(let size) = redis("DBSIZE") else { return }
        #expect(size < 300, "the next write evicted down to the new limit")
        #expect(
            redis("OBJECT", "FREQ", "trigger")
                == .error(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
                        + "switching between policies at runtime LRU and LFU data will take some time to adjust."))
        #expect(redis("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == .ok)
        #expect(redis("OBJECT", "FREQ", "trigger") == .integer(5), "Redis's initial LFU counter")
    }

    @Test func volatilePolicyWithoutTTLKeysRefuses() {
        var redis = Harness {
            $0.maxMemory = 32 << 10
            $0.maxMemoryPolicy = "volatile-lru"
        }
        var refused = false
        for index in 0..<2_000 where !refused {
            refused = redis("SET", "key:\(index)", String(repeating: "v", count: 200)) != .ok
        }
        #expect(refused)
        #expect(
            redis("SET", "k", "v", "EX", "100") == .error("OOM command not allowed when used memory > 'maxmemory'."))
    }
}
