import Synchronization
import Testing

@testable import RoostCore

/// A clock the test moves by hand: Unix milliseconds.
private final class ManualClock: Sendable {
    private let milliseconds: Atomic<Int64>

    init(_ start: Int64 = 1_000_000) { milliseconds = Atomic(start) }

    var now: Int64 { milliseconds.load(ordering: .relaxed) }

    func advance(by delta: Int64) { milliseconds.add(delta, ordering: .relaxed) }

    var read: @Sendable () -> Int64 { { self.now } }
}

private func key(_ index: Int) -> [UInt8] { Array("key:\(index)".utf8) }
private let value = [UInt8](repeating: 0x61, count: 100)

@Suite struct RoostCacheTests {
    static let evicting = RoostCache.Policy.allCases.filter { $0 != .noEviction && !$0.isVolatile }

    // MARK: Basics

    @Test func setGetRemove() {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        #expect(cache.get([1, 2, 3]) == nil)
        #expect(cache.set([1, 2, 3], [4, 5]))
        #expect(cache.get([1, 2, 3]) == [4, 5])
        #expect(cache.contains([1, 2, 3]))
        #expect(cache.set([1, 2, 3], [6]))
        #expect(cache.get([1, 2, 3]) == [6])
        #expect(cache.count == 1)
        #expect(cache.remove([1, 2, 3]))
        #expect(!cache.remove([1, 2, 3]))
        #expect(cache.get([1, 2, 3]) == nil)
        #expect(!cache.contains([1, 2, 3]))
        #expect(cache.count == 0)
    }

    @Test func emptyKeysAndValuesAreStored() {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        #expect(cache.set([UInt8](), [UInt8]()))
        #expect(cache.get([UInt8]()) == [])
        #expect(cache.contains([UInt8]()))
    }

    @Test func stringOverloadsUseTheUTF8Bytes() {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        cache.set("greeting", "héllo")
        #expect(cache.getString("greeting") == "héllo")
        #expect(cache.get("greeting") == Array("héllo".utf8))
        #expect(cache.get(Array("greeting".utf8)) == Array("héllo".utf8))
        #expect(cache.getString(Array("greeting".utf8)) == "héllo")
        cache.set("raw", [0xFF, 0x00])
        #expect(cache.get("raw") == [0xFF, 0x00])
        #expect(cache.getString("raw") == "\u{FFFD}\u{0}")
        #expect(cache.contains("raw"))
        #expect(cache.remove("raw"))
        #expect(!cache.contains("raw"))
    }

    @Test func anyByteCollectionIsAKey() {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        cache.set("user:7", "x")
        let bytes = Array("user:7".utf8)
        #expect(cache.get(bytes[...]) == Array("x".utf8))  // ArraySlice
        #expect(cache.get("user:7".utf8) == Array("x".utf8))  // String.UTF8View
        #expect(cache.get(bytes.reversed().reversed()) == Array("x".utf8))  // not contiguous: copied
        #expect(bytes.withUnsafeBytes { cache.get($0) } == Array("x".utf8))  // UnsafeRawBufferPointer
    }

    @Test func withValueReadsInPlace() {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        cache.set("k", [UInt8](repeating: 7, count: 1000))
        #expect(cache.withValue(Array("k".utf8)) { $0.count } == 1000)
        #expect(cache.withValue(Array("absent".utf8)) { $0.count } == nil)
        struct Refused: Error {}
        #expect(throws: Refused.self) { try cache.withValue(Array("k".utf8)) { _ throws(Refused) in throw Refused() } }
        #expect(cache.statistics.hits == 2)
        #expect(cache.statistics.misses == 1)
    }

    @Test func removeAllEmptiesButKeepsStatistics() {
        let cache = RoostCache(maximumBytes: 8 << 20, clock: ManualClock().read)
        let empty = cache.memoryUsage
        for index in 0..<10_000 { cache.set(key(index), value) }
        _ = cache.get(key(1))
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.memoryUsage == empty)
        #expect(cache.get(key(1)) == nil)
        #expect(cache.statistics == RoostCache.Statistics(hits: 1, misses: 1))
        cache.resetStatistics()
        #expect(cache.statistics == RoostCache.Statistics())
        #expect(cache.statistics.hitRatio == nil)
    }

    // MARK: Expiry

    @Test func expiresAtTheExactMillisecond() {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 1 << 20, clock: clock.read)
        cache.set("k", "v", ttl: .milliseconds(30))
        clock.advance(by: 29)
        #expect(cache.getString("k") == "v")
        clock.advance(by: 1)
        #expect(cache.getString("k") == nil)
        #expect(cache.count == 0, "the lookup reclaimed it")
        #expect(cache.statistics == RoostCache.Statistics(hits: 1, misses: 1, expired: 1))
    }

    @Test func subMillisecondTimesToLiveRoundUp() {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 1 << 20, clock: clock.read)
        cache.set("k", "v", ttl: .microseconds(1_500))
        clock.advance(by: 1)
        #expect(cache.contains("k"))
        clock.advance(by: 1)
        #expect(!cache.contains("k"))
    }

    @Test(arguments: [Duration.zero, .milliseconds(-5)])
    func nonPositiveTimeToLiveStoresNothing(ttl: Duration) {
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        cache.set("k", "old")
        #expect(!cache.set("k", "new", ttl: ttl))
        #expect(!cache.contains("k"))
    }

    @Test func overwritingReplacesTheTimeToLive() {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 1 << 20, clock: clock.read)
        cache.set("forever", "v", ttl: .seconds(1))
        cache.set("forever", "v")
        cache.set("shorter", "v", ttl: .seconds(60))
        cache.set("shorter", "v", ttl: .seconds(1))
        clock.advance(by: 1_000)
        #expect(cache.contains("forever"))
        #expect(!cache.contains("shorter"))
    }

    @Test func hugeTimesToLiveDoNotOverflow() {
        #expect(RoostCache.expiry(now: 1_000, adding: .seconds(Int64.max)) == Int64.max)
        #expect(RoostCache.expiry(now: Int64.max - 1, adding: .milliseconds(5)) == Int64.max)
        #expect(RoostCache.expiry(now: -5, adding: .milliseconds(5)) == 1, "never the no-expiry sentinel")
        let cache = RoostCache(maximumBytes: 1 << 20, clock: ManualClock().read)
        cache.set("k", "v", ttl: .seconds(Int64.max))
        #expect(cache.contains("k"))
    }

    @Test func purgeExpiredReclaimsUntouchedEntries() {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 16 << 20, clock: clock.read)
        for index in 0..<5_000 { cache.set(key(index), value, ttl: .seconds(1)) }
        for index in 5_000..<5_100 { cache.set(key(index), value) }
        #expect(cache.purgeExpired() == 0)
        let full = cache.memoryUsage
        clock.advance(by: 1_000)
        #expect(cache.count == 5_100, "nothing is reclaimed without a call")
        #expect(cache.purgeExpired() == 5_000)
        #expect(cache.count == 100)
        #expect(cache.statistics.expired == 5_000)
        #expect(cache.memoryUsage < full / 4, "the memory of the purged entries is given back")
    }

    @Test func purgeExpiredWithABudgetWorksInSlices() {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 16 << 20, clock: clock.read)
        for index in 0..<4_000 { cache.set(key(index), value, ttl: .milliseconds(10)) }
        clock.advance(by: 10)
        var calls = 0
        var removed = 0
        while cache.count > 0 && calls < 1_000 {
            let slice = cache.purgeExpired(budget: 64)
            #expect(slice <= 64 * 8, "a slice examines a bounded number of buckets")
            removed += slice
            calls += 1
        }
        #expect(removed == 4_000)
        #expect(calls > 1)
    }

    // MARK: Budget and eviction

    @Test(arguments: evicting)
    func memoryStaysWithinTheBudgetAfterEverySet(policy: RoostCache.Policy) {
        let clock = ManualClock()
        let budget = 256 << 10
        let cache = RoostCache(maximumBytes: budget, policy: policy, clock: clock.read)
        var stored = 0
        for index in 0..<20_000 {
            if cache.set(key(index), value) { stored += 1 }
            let usage = cache.memoryUsage
            #expect(usage <= budget, "\(policy) at set \(index): \(usage) bytes")
            if usage > budget { return }
            if index % 3 == 0 { _ = cache.get(key(index / 2)) }
            clock.advance(by: 1)
        }
        let (count, statistics) = (cache.count, cache.statistics)
        // Entries take ~140 bytes, plus whatever per-entry metadata the policy has; 2 KiB each would be degenerate.
        #expect(count > budget / 2048, "\(policy) keeps \(count) entries")
        #expect(statistics.evicted + statistics.expired == 20_000 - count)
        #expect(statistics.expired == 0)
        #expect(stored >= count)
    }

    @Test(arguments: [RoostCache.Policy.volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL])
    func volatilePoliciesEvictOnlyEntriesWithATimeToLive(policy: RoostCache.Policy) {
        let budget = 256 << 10
        let cache = RoostCache(maximumBytes: budget, policy: policy, clock: ManualClock().read)
        var persistentStored = 0
        for index in 0..<6_000 {
            let stored = cache.set(key(index), value, ttl: index % 2 == 0 ? .seconds(3600) : nil)
            if stored && index % 2 == 1 { persistentStored += 1 }
            #expect(cache.memoryUsage <= budget)
        }
        // Every persistent entry that was stored is still there: only entries with a time to live were evicted.
        let persistent = (0..<6_000).filter { $0 % 2 == 1 && cache.contains(key($0)) }.count
        #expect(persistent == persistentStored)
        #expect(persistent > 0)
        #expect(cache.statistics.evicted > 0)
    }

    @Test func noEvictionRefusesWritesThatDoNotFit() {
        let budget = 64 << 10
        let cache = RoostCache(maximumBytes: budget, policy: .noEviction, clock: ManualClock().read)
        var firstRefused: Int?
        for index in 0..<2_000 where firstRefused == nil {
            if !cache.set(key(index), value) { firstRefused = index }
            #expect(cache.memoryUsage <= budget)
        }
        let refused = try! #require(firstRefused)
        #expect(!cache.contains(key(refused)))
        #expect(cache.count == refused)
        #expect((0..<refused).allSatisfy { cache.contains(key($0)) })
        #expect(cache.statistics.evicted == 0)
        // Freeing room lets writes in again.
        cache.remove(key(0))
        cache.remove(key(1))
        #expect(cache.set(key(refused), value))
    }

    @Test(arguments: evicting)
    func anEntryLargerThanTheBudgetIsRefusedWithoutEvicting(policy: RoostCache.Policy) {
        let cache = RoostCache(maximumBytes: 64 << 10, policy: policy, clock: ManualClock().read)
        for index in 0..<100 { cache.set(key(index), value) }
        cache.set("big", "stale")
        #expect(!cache.set("big", [UInt8](repeating: 1, count: 64 << 10)))
        #expect(!cache.contains("big"), "the stale value is gone too")
        #expect(cache.count == 100)
        #expect(cache.statistics.evicted == 0)
    }

    @Test func statisticsCountHitsMissesAndEvictions() {
        let cache = RoostCache(maximumBytes: 128 << 10, policy: .s3fifo, clock: ManualClock().read)
        for index in 0..<5_000 { cache.set(key(index), value) }
        var hits = 0
        for index in 0..<5_000 where cache.get(key(index)) != nil { hits += 1 }
        let statistics = cache.statistics
        #expect(statistics.hits == hits)
        #expect(statistics.misses == 5_000 - hits)
        #expect(statistics.evicted == 5_000 - cache.count)
        #expect(statistics.hitRatio == Double(hits) / 5_000)
    }

    @Test func getOrInsertLoadsOnceAndCaches() throws {
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: 1 << 20, clock: clock.read)
        var loads = 0
        let first = cache.getOrInsert("k", ttl: .seconds(1)) {
            loads += 1
            return [1, 2, 3]
        }
        let second = cache.getOrInsert("k", ttl: .seconds(1)) {
            loads += 1
            return [9]
        }
        #expect(first == [1, 2, 3])
        #expect(second == [1, 2, 3])
        #expect(loads == 1)
        #expect(cache.statistics == RoostCache.Statistics(hits: 1, misses: 1))
        clock.advance(by: 1_000)
        #expect(cache.getOrInsert("k") { [4] } == [4], "an expired entry is loaded again")

        struct LoadFailed: Error {}
        #expect(throws: LoadFailed.self) {
            try cache.getOrInsert("other") { () throws(LoadFailed) -> [UInt8] in throw LoadFailed() }
        }
        #expect(!cache.contains("other"))
    }

    /// The README's example, kept compiling.
    @Test func readmeExample() {
        func render(_ path: String) -> [UInt8] { Array("<html>\(path)</html>".utf8) }

        let cache = RoostCache(maximumBytes: 64 << 20, policy: .s3fifo)
        cache.set("session:42", "alice", ttl: .seconds(30))
        #expect(cache.getString("session:42") == "alice")

        let key: [UInt8] = [0x01, 0x02]
        cache.set(key, [0xCA, 0xFE])
        #expect(cache.get(key) == [0xCA, 0xFE])
        let page = cache.getOrInsert("page:/", ttl: .seconds(60)) { render("/") }
        #expect(page == render("/"))
        #expect(cache.remove(key))
        #expect(cache.count == 2)
        #expect(cache.memoryUsage <= 64 << 20)
        #expect(cache.statistics == RoostCache.Statistics(hits: 2, misses: 1))
        #expect(RoostCache.Policy(name: "allkeys-lru") == .lru)
        #expect(cache.purgeExpired(budget: 1000) == 0)
    }

    @Test func policiesHaveServerAndShortNames() {
        #expect(RoostCache.Policy(name: "allkeys-s3fifo") == .s3fifo)
        #expect(RoostCache.Policy(name: "TinyLFU") == .tinyLFU)
        #expect(RoostCache.Policy(name: "volatile-ttl") == .volatileTTL)
        #expect(RoostCache.Policy(name: "lru") == .lru)
        #expect(RoostCache.Policy(name: "fifo") == nil)
        #expect(RoostCache.Policy.allCases.count == EvictionState.Kind.allCases.count)
        #expect(RoostCache.Policy.sieve.description == "allkeys-sieve")
        #expect(RoostCache(maximumBytes: 1 << 20).policy == .default)
        #expect(RoostCache.Policy.default == .sieve, "docs/EVICTION.md names allkeys-sieve the default")
        for policy in RoostCache.Policy.allCases { #expect(RoostCache.Policy(name: policy.name) == policy) }
    }

    @Test func theWallClockIsUnixMilliseconds() {
        let now = RoostCache.wallClockMilliseconds()
        #expect(now > 1_700_000_000_000)  // after November 2023
        #expect(now < 4_102_444_800_000)  // before 2100
    }

    // MARK: Concurrency

    @Test(arguments: [RoostCache.Policy.sieve, .s3fifo, .tinyLFU, .lru])
    func manyTasksHammeringOneCacheKeepItConsistent(policy: RoostCache.Policy) async {
        let budget = 512 << 10
        let clock = ManualClock()
        let cache = RoostCache(maximumBytes: budget, policy: policy, clock: clock.read)
        let tasks = 8
        let operations = 4_000
        let universe = 8_000
        let gets = await withTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var generator = SplitMix64(seed: UInt64(task))
                    var gets = 0
                    for step in 0..<operations {
                        let index = Int(generator.next() % UInt64(universe))
                        switch generator.next() % 10 {
                        case 0..<5:
                            cache.set(key(index), value, ttl: index % 4 == 0 ? .milliseconds(50) : nil)
                        case 5..<8:
                            gets += 1
                            if let stored = cache.get(key(index)) { #expect(stored == value) }
                        case 8:
                            cache.remove(key(index))
                        default:
                            cache.purgeExpired(budget: 16)
                        }
                        if step % 500 == 0 { clock.advance(by: 10) }
                    }
                    return gets
                }
            }
            return await group.reduce(0, +)
        }
        let statistics = cache.statistics
        #expect(statistics.hits + statistics.misses == gets)
        #expect(cache.memoryUsage <= budget)
        cache.purgeExpired()
        let live = (0..<universe).filter { cache.contains(key($0)) }.count
        #expect(cache.count == live, "count agrees with the entries that answer")
        let empty = RoostCache(maximumBytes: budget, policy: policy, clock: clock.read).memoryUsage
        cache.removeAll()
        #expect(cache.memoryUsage == empty, "accounting returns to the empty baseline")
    }

    @Test func aCacheIsSharedAcrossTasks() async {
        let cache = RoostCache(maximumBytes: 1 << 20)
        let writer = Task.detached { cache.set("shared", "from a detached task") }
        #expect(await writer.value)
        let reader = Task { cache.getString("shared") }
        #expect(await reader.value == "from a detached task")
    }
}
