import Testing

@testable import RoostCore

/// A unit-size cache around a policy: slot = object id, hash = object id; evict before insert, as libCacheSim does.
private struct UnitCache<Policy: EvictionPolicy> {
    var policy: Policy
    let capacity: Int
    var cached: Set<Int32> = []
    var evicted: [Int32] = []

    init(_ policy: Policy, capacity: Int) {
        self.policy = policy
        self.capacity = capacity
    }

    /// Returns whether the request hit.
    @discardableResult mutating func request(_ id: Int32) -> Bool {
        if cached.contains(id) {
            policy.accessed(id)
            return true
        }
        while cached.count + 1 > capacity, let victim = policy.victim() {
            cached.remove(victim)
            policy.removed(victim)
            evicted.append(victim)
        }
        policy.inserted(id, hash: UInt64(id) &* 0x9E37_79B9_7F4A_7C15, size: 1)
        cached.insert(id)
        return false
    }
}

private func hash(_ id: Int32) -> UInt64 { UInt64(id) &* 0x9E37_79B9_7F4A_7C15 }

@Suite struct EvictionPaperTests {
    /// SIEVE, worked by hand from the paper's description: the hand starts at the tail, clears visited bits as it
    /// moves toward the head, evicts the first unvisited object and stays where it stopped; survivors keep their place.
    @Test func sieveHandWorkedSequence() {
        var cache = UnitCache(SieveEviction(capacity: 4), capacity: 4)
        // A=1 B=2 C=3 D=4 E=5 F=6 G=7
        for id: Int32 in [1, 2, 3, 4] { cache.request(id) }
        #expect(cache.policy.slotsFromHead == [4, 3, 2, 1])
        #expect(cache.request(1) && cache.request(3))  // A and C visited
        cache.request(5)  // hand: A visited -> cleared, B unvisited -> evict B; hand rests at C
        #expect(cache.evicted == [2])
        #expect(cache.policy.slotsFromHead == [5, 4, 3, 1])
        #expect(!cache.policy.isVisited(1) && cache.policy.isVisited(3))
        cache.request(2)  // hand at C: visited -> cleared; D unvisited -> evict D; hand rests at E
        #expect(cache.evicted == [2, 4])
        #expect(cache.policy.slotsFromHead == [2, 5, 3, 1])
        cache.request(6)  // hand at E: unvisited -> evict; hand rests at B
        #expect(cache.evicted == [2, 4, 5])
        cache.request(1)  // A visited again
        cache.request(7)  // hand at B: unvisited -> evict
        #expect(cache.evicted == [2, 4, 5, 2])
        #expect(cache.policy.slotsFromHead == [7, 6, 3, 1])  // A and C never moved
    }

    /// S3-FIFO, Algorithm 1 by hand with a 20-object cache (small = 2, main = 18, ghost = 18): promotion from S to M
    /// on freq > 1, ghost insertion on eviction from S, a ghost hit going straight to M, and M's 2-bit CLOCK.
    @Test func s3fifoPromotionGhostHitAndMainClock() {
        var cache = UnitCache(S3FIFOEviction(capacity: 20), capacity: 20)
        for id: Int32 in 1...20 { cache.request(id) }
        for _ in 0..<2 { for id: Int32 in 1...18 { cache.request(id) } }
        #expect(cache.policy.frequency(of: 1) == 2)
        cache.request(21)  // EVICTS: 1...18 have freq 2 -> moved to M; 19 has freq 0 -> evicted into G
        #expect(cache.evicted == [19])
        #expect(cache.policy.queue(of: 1) == "main" && cache.policy.queue(of: 18) == "main")
        #expect(cache.policy.frequency(of: 1) == 0)  // a fresh main-queue entry
        #expect(cache.policy.ghostContains(hash(19)))
        cache.request(22)  // S = [21, 20], at its 10% share: 20 (freq 0) is evicted
        #expect(cache.evicted == [19, 20])
        cache.request(1)  // hit in M: freq 1
        cache.request(19)  // S at its share: 21 evicted; 19 is a ghost hit, so it is inserted into M
        #expect(cache.evicted == [19, 20, 21])
        #expect(cache.policy.queue(of: 19) == "main")
        #expect(!cache.policy.ghostContains(hash(19)) && cache.policy.ghostContains(hash(21)))
        cache.request(23)  // S = [22] is under its share: EVICTM. Tail 1 has freq 1 -> reinserted with 0; 2 evicted
        #expect(cache.evicted == [19, 20, 21, 2])
        #expect(cache.policy.queue(of: 1) == "main" && cache.policy.frequency(of: 1) == 0)
    }

    @Test func s3fifoFrequencyIsCappedAtThree() {
        var cache = UnitCache(S3FIFOEviction(capacity: 10), capacity: 10)
        cache.request(1)
        for _ in 0..<10 { cache.request(1) }
        #expect(cache.policy.frequency(of: 1) == 3)
    }

    /// W-TinyLFU with a 100-object cache (window 1, main 99): a one-hit candidate loses to main's victim, a frequent
    /// candidate wins and enters probation, and a probation hit promotes to protected.
    @Test func tinyLFUAdmissionByFrequency() {
        var cache = UnitCache(WTinyLFUEviction(capacity: 100, expectedCount: 100), capacity: 100)
        for id: Int32 in 1...100 { cache.request(id) }
        #expect(cache.policy.segment(of: 100) == "window")
        #expect(cache.policy.segment(of: 1) == "probation")
        for _ in 0..<5 { for id: Int32 in 1...10 { cache.request(id) } }
        #expect(cache.policy.segment(of: 1) == "protected")
        cache.request(101)  // candidate 100 (seen once) vs probation victim 11 (seen once): candidate rejected
        #expect(cache.evicted == [100])
        for _ in 0..<3 { cache.request(101) }  // 101 is now seen 4 times
        cache.request(102)  // candidate 101 beats victim 11: 11 evicted, 101 admitted to probation
        #expect(cache.evicted == [100, 11])
        #expect(cache.policy.segment(of: 101) == "probation")
        #expect(cache.policy.segment(of: 102) == "window")
    }

    /// Redis's sampled LRU: with enough samples the pool finds the least recently used key.
    @Test func sampledLRUEvictsLeastRecentlyUsed() {
        var configuration = SampledEviction.Configuration()
        configuration.samples = 64
        configuration.lruClockResolution = 1
        var policy = SampledEviction(criterion: .lru, scope: .allKeys, capacity: 4, configuration: configuration)
        for id: Int32 in 1...4 {
            policy.advanceClock(to: Int64(id))
            policy.inserted(id, hash: hash(id), size: 1)
        }
        policy.advanceClock(to: 5)
        policy.accessed(1)
        policy.advanceClock(to: 10)
        #expect(policy.idleTime(of: 2) == 8)
        #expect(policy.victim() == 2)
        #expect(policy.victim() == 2)  // stable until removed
        policy.removed(2)
        #expect(policy.victim() == 3)
    }

    /// Redis's LFU: a logarithmic counter starting at 5, incremented on access (always, with lfu-log-factor 0),
    /// decayed by one per lfu-decay-time minutes of idleness.
    @Test func sampledLFUCounterAndDecay() {
        var configuration = SampledEviction.Configuration()
        configuration.samples = 64
        configuration.lfuLogFactor = 0
        var policy = SampledEviction(criterion: .lfu, scope: .allKeys, capacity: 4, configuration: configuration)
        for id: Int32 in 1...4 { policy.inserted(id, hash: hash(id), size: 1) }
        for _ in 0..<3 { policy.accessed(1) }
        #expect(policy.frequency(of: 1) == 8)
        #expect(policy.frequency(of: 2) == 5)
        #expect(policy.victim() != 1)
        policy.advanceClock(to: 3 * 60_000)
        #expect(policy.frequency(of: 1) == 5)
        #expect(policy.frequency(of: 2) == 2)
    }

    @Test func sampledLFULogFactorSlowsGrowth() {
        var policy = SampledEviction(criterion: .lfu, scope: .allKeys, capacity: 1)
        policy.inserted(0, hash: 0, size: 1)
        for _ in 0..<1000 { policy.accessed(0) }
        // With lfu-log-factor 10, Redis's table puts 1000 hits at a counter of about 18.
        #expect((12...24).contains(policy.frequency(of: 0)))
    }

    /// volatile-ttl evicts the sampled key that expires soonest; keys without a TTL are never candidates.
    @Test func volatileTTLAndEmptyVolatileSet() {
        var configuration = SampledEviction.Configuration()
        configuration.samples = 64
        var policy = SampledEviction(criterion: .ttl, scope: .volatile, capacity: 5, configuration: configuration)
        for id: Int32 in 1...5 { policy.inserted(id, hash: hash(id), size: 1) }
        #expect(policy.victim() == nil)
        for (id, expireAt) in [(1, 400), (2, 100), (3, 300), (4, 200)] as [(Int32, Int64)] {
            policy.expiryChanged(id, at: expireAt)
        }
        #expect(policy.victim() == 2)
        policy.removed(2)
        #expect(policy.victim() == 4)
        policy.removed(4)
        policy.expiryChanged(3, at: nil)  // PERSIST
        #expect(policy.victim() == 1)
    }

    @Test(arguments: [SampledEviction.Criterion.lru, .lfu, .random])
    func volatileScopeOnlyPicksKeysWithTTL(criterion: SampledEviction.Criterion) {
        var policy = SampledEviction(criterion: criterion, scope: .volatile, capacity: 10)
        for id: Int32 in 0..<10 { policy.inserted(id, hash: hash(id), size: 1) }
        policy.expiryChanged(7, at: 1000)
        for _ in 0..<20 { #expect(policy.victim() == 7) }
        policy.removed(7)
        #expect(policy.victim() == nil)
    }

    @Test func noEvictionNeverEvicts() {
        var state = EvictionState(.noEviction, capacity: 1)
        state.inserted(0, hash: 0, size: 10)
        #expect(state.victim() == nil)
        #expect(state.count == 1)
    }
}
