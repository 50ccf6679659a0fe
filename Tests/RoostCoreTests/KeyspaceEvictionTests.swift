import Testing

@testable import RoostCore

private func key(_ index: Int) -> [UInt8] { Array("key:\(index)".utf8) }
private let value = [UInt8](repeating: 0x61, count: 100)

@Suite struct KeyspaceEvictionTests {
    static let evicting = EvictionState.Kind.allCases.filter { $0 != .noEviction && !$0.isVolatile }

    /// Fills a keyspace past a 256 KiB budget, enforcing the limit after every write as the server does.
    private func fill(_ keyspace: inout Keyspace, count: Int, ttlEvery: Int = 0, now: Int64 = 1_000) {
        for index in 0..<count {
            let expireAt: Int64 = ttlEvery > 0 && index % ttlEvery == 0 ? now + 1_000_000 + Int64(index) : 0
            _ = keyspace.enforceMemoryLimit(now: now)
            key(index).withUnsafeBytes { name in
                value.withUnsafeBytes { keyspace.setString(name, $0, expireAt: expireAt, now: now) }
            }
        }
        _ = keyspace.enforceMemoryLimit(now: now)
    }

    @Test(arguments: evicting)
    func everyPolicyKeepsTheKeyspaceWithinItsBudget(kind: EvictionState.Kind) {
        var keyspace = Keyspace()
        keyspace.configureEviction(kind, maxMemory: 256 << 10, now: 1_000)
        fill(&keyspace, count: 20_000)
        let (memory, stored, evicted, tracked) = (
            keyspace.estimatedMemory, keyspace.count, keyspace.statistics.evictedKeys, keyspace.eviction.count
        )
        #expect(memory <= 256 << 10)
        #expect(stored > 500, "the budget holds well over 500 keys of ~140 bytes")
        #expect(evicted == 20_000 - stored)
        #expect(tracked == stored, "the policy tracks exactly the stored keys")
    }

    @Test func noevictionRefusesInsteadOfEvicting() {
        var keyspace = Keyspace()
        keyspace.configureEviction(.noEviction, maxMemory: 64 << 10, now: 0)
        var refused = false
        for index in 0..<5_000 where !refused {
            refused = !keyspace.enforceMemoryLimit(now: 0)
            if !refused { keyspace.set(key(index), Entry(value: .string(value)), now: 0) }
        }
        #expect(refused)
        #expect(keyspace.statistics.evictedKeys == 0)
        let removed = keyspace.remove(key(0), now: 0)
        #expect(removed)
    }

    @Test(arguments: [EvictionState.Kind.volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL])
    func volatilePoliciesEvictOnlyKeysWithATimeToLive(kind: EvictionState.Kind) {
        var keyspace = Keyspace()
        keyspace.configureEviction(kind, maxMemory: 256 << 10, now: 1_000)
        fill(&keyspace, count: 6_000, ttlEvery: 2)
        // Every evicted key had a TTL: the keys without one are all still there, or the limit could not be met.
        var persistent = 0
        keyspace.forEach(now: 1_000) { _, entry in if !entry.hasExpiry { persistent += 1 } }
        let (volatile, evicted) = (keyspace.volatileCount, keyspace.statistics.evictedKeys)
        #expect(persistent == 3_000 || volatile == 0)
        #expect(evicted > 0)
    }

    @Test func volatileTTLEvictsTheSoonestToExpire() {
        var keyspace = Keyspace()
        var sampling = SampledEviction.Configuration()
        sampling.samples = 64
        keyspace.configureEviction(.volatileTTL, maxMemory: 0, sampling: sampling, now: 0)
        for index in 0..<64 {
            keyspace.set(key(index), Entry(value: .string(value), expireAt: 10_000 + Int64(index)), now: 0)
        }
        keyspace.configureEviction(.volatileTTL, maxMemory: keyspace.estimatedMemory - 1, sampling: sampling, now: 0)
        let within = keyspace.enforceMemoryLimit(now: 0)
        #expect(within)
        let first = keyspace.peek(key(0))
        let last = keyspace.peek(key(63))
        #expect(first == nil, "the key expiring first goes first")
        #expect(last != nil)
    }

    @Test func switchingPoliciesKeepsEveryKey() {
        var keyspace = Keyspace()
        for index in 0..<1_000 { keyspace.set(key(index), Entry(value: .string(value)), now: 0) }
        for kind in EvictionState.Kind.allCases {
            keyspace.configureEviction(kind, maxMemory: 0, now: 0)
            let (stored, tracked) = (keyspace.count, keyspace.eviction.count)
            #expect(stored == 1_000)
            #expect(kind == .noEviction || tracked == 1_000)
        }
    }

    @Test func theLRUPolicyKeepsWhatIsRead() {
        var keyspace = Keyspace()
        var sampling = SampledEviction.Configuration()
        sampling.samples = 10
        keyspace.configureEviction(.allKeysLRU, maxMemory: 512 << 10, sampling: sampling, now: 0)
        var now: Int64 = 0
        for index in 0..<3_000 {
            now += 1_000
            if index % 10 == 0 { for hot in 0..<20 { _ = keyspace.read(key(hot), now: now) } }
            _ = keyspace.enforceMemoryLimit(now: now)
            keyspace.set(key(index), Entry(value: .string(value)), now: now)
        }
        let hotKept = (0..<20).filter { keyspace.peek(key($0)) != nil }.count
        #expect(hotKept >= 18, "recently read keys survive LRU eviction (kept \(hotKept) of 20)")
    }

    @Test func removeAllResetsThePolicy() {
        var keyspace = Keyspace()
        keyspace.configureEviction(.allKeysSieve, maxMemory: 128 << 10, now: 0)
        fill(&keyspace, count: 3_000)
        keyspace.removeAll()
        let emptied = keyspace.eviction.count
        #expect(emptied == 0)
        fill(&keyspace, count: 3_000)
        let (tracked, stored, memory) = (keyspace.eviction.count, keyspace.count, keyspace.estimatedMemory)
        #expect(tracked == stored)
        #expect(memory <= 128 << 10)
    }
}

extension Keyspace {
    fileprivate mutating func peek(_ key: [UInt8]) -> Entry? { key.withUnsafeBytes { peek($0, now: 0) } }
}
