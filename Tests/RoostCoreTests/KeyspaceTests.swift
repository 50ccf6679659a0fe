import Testing

@testable import RoostCore

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }
private func string(_ text: String, expireAt: Int64 = Entry.noExpiry) -> Entry {
    Entry(value: .string(Array(text.utf8)), expireAt: expireAt)
}

@Suite struct KeyspaceTests {
    @Test func setReadRemove() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("1"), now: 0)
        let found = keyspace.read(key("a"), now: 0)
        #expect(found?.value == .string(Array("1".utf8)))
        #expect(keyspace.count == 1)
        let removed = keyspace.remove(key("a"), now: 0)
        let removedAgain = keyspace.remove(key("a"), now: 0)
        #expect(removed)
        #expect(!removedAgain)
        #expect(keyspace.read(key("a"), now: 0) == nil)
        #expect(keyspace.count == 0)
        #expect(keyspace.payloadBytes == 0)
        #expect(keyspace.statistics.keyspaceHits == 1)
        #expect(keyspace.statistics.keyspaceMisses == 1)
    }

    @Test func emptyKeyIsAKey() {
        var keyspace = Keyspace()
        keyspace.set([], string("empty"), now: 0)
        #expect(keyspace.read([], now: 0) != nil)
        #expect(keyspace.read(key("x"), now: 0) == nil)
    }

    @Test func lazyExpiryAtTheExactMillisecond() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), string("v", expireAt: 1000), now: 0)
        #expect(keyspace.volatileCount == 1)
        #expect(keyspace.read(key("k"), now: 999) != nil)
        #expect(keyspace.read(key("k"), now: 1000) == nil)
        #expect(keyspace.count == 0)
        #expect(keyspace.volatileCount == 0)
        #expect(keyspace.statistics.expiredKeys == 1)
    }

    @Test func updateInPlaceKeepsCountersInStep() {
        var keyspace = Keyspace()
        keyspace.update(key("k"), now: 0) { entry in
            #expect(entry == nil)
            entry = string("abc", expireAt: 50)
        }
        #expect(keyspace.payloadBytes == 4)
        keyspace.update(key("k"), now: 0) { entry in
            entry!.value = .string(Array("abcdef".utf8))
            entry!.expireAt = Entry.noExpiry
        }
        #expect(keyspace.payloadBytes == 7)
        #expect(keyspace.volatileCount == 0)
        keyspace.update(key("k"), now: 0) { $0 = nil }
        #expect(keyspace.payloadBytes == 0)
        #expect(keyspace.count == 0)
    }

    @Test func growsAndShrinksWithoutLosingKeys() {
        var keyspace = Keyspace()
        for index in 0..<10_000 { keyspace.set(key("key:\(index)"), string("\(index)"), now: 0) }
        #expect(keyspace.count == 10_000)
        #expect(keyspace.bucketCount >= 8192)
        for index in 0..<10_000 where index % 100 != 0 { keyspace.remove(key("key:\(index)"), now: 0) }
        #expect(keyspace.count == 100)
        #expect(keyspace.bucketCount <= 512)
        for index in stride(from: 0, to: 10_000, by: 100) {
            #expect(keyspace.read(key("key:\(index)"), now: 0)?.value == .string(Array("\(index)".utf8)))
        }
    }

    /// Redis's SCAN promise: a key present for the whole scan is returned at least once, even when the table
    /// grows and shrinks between calls.
    @Test(arguments: [false, true]) func scanSurvivesResizing(grow: Bool) {
        var keyspace = Keyspace()
        let stable = (0..<500).map { key("stable:\($0)") }
        for name in stable { keyspace.set(name, string("x"), now: 0) }
        if !grow { for index in 0..<20_000 { keyspace.set(key("extra:\(index)"), string("x"), now: 0) } }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var calls = 0
        repeat {
            cursor = keyspace.scan(cursor: cursor, count: 10) { name, _ in seen.insert(name) }
            calls += 1
            if calls == 5 {
                if grow {
                    for index in 0..<20_000 { keyspace.set(key("extra:\(index)"), string("x"), now: 0) }
                } else {
                    for index in 0..<20_000 { keyspace.remove(key("extra:\(index)"), now: 0) }
                }
            }
        } while cursor != 0 && calls < 100_000
        #expect(cursor == 0)
        for name in stable { #expect(seen.contains(name)) }
    }

    @Test func activeExpiryReclaimsEverythingDue() {
        var keyspace = Keyspace()
        for index in 0..<5000 { keyspace.set(key("t:\(index)"), string("v", expireAt: 100), now: 0) }
        for index in 0..<50 { keyspace.set(key("p:\(index)"), string("v"), now: 0) }
        var removed = 0
        var passes = 0
        while true {
            let step = keyspace.expireStep(now: 100, bucketBudget: 256)
            removed += step.expired
            passes += 1
            if step.wrapped || passes > 10_000 { break }
        }
        #expect(removed == 5000)
        #expect(keyspace.count == 50)
        #expect(keyspace.volatileCount == 0)
        #expect(keyspace.statistics.expiredKeys == 5000)
    }

    @Test func randomKeyReturnsOnlyLiveKeys() {
        var keyspace = Keyspace()
        var generator = SystemRandomNumberGenerator()
        #expect(keyspace.randomKey(now: 0, using: &generator) == nil)
        keyspace.set(key("dead"), string("v", expireAt: 10), now: 0)
        keyspace.set(key("live"), string("v"), now: 0)
        for _ in 0..<20 { #expect(keyspace.randomKey(now: 20, using: &generator) == key("live")) }
        keyspace.remove(key("live"), now: 20)
        #expect(keyspace.randomKey(now: 20, using: &generator) == nil)
    }

    /// Random operations against a dictionary model: same contents, and the counters never drift.
    @Test func matchesAReferenceModel() {
        var keyspace = Keyspace()
        var model: [[UInt8]: Entry] = [:]
        var generator = SplitMix64(seed: 42)
        var now: Int64 = 0
        for _ in 0..<20_000 {
            now += Int64.random(in: 0...3, using: &generator)
            let name = key("k\(Int.random(in: 0..<300, using: &generator))")
            switch Int.random(in: 0..<4, using: &generator) {
            case 0:
                let ttl: Int64 = Bool.random(using: &generator) ? now + Int64.random(in: 1...50, using: &generator) : 0
                let entry = string(
                    String(repeating: "x", count: Int.random(in: 0...20, using: &generator)), expireAt: ttl)
                keyspace.set(name, entry, now: now)
                model[name] = entry
            case 1:
                keyspace.remove(name, now: now)
                model[name] = nil
            case 2:
                _ = keyspace.expireStep(now: now, bucketBudget: 8)
            default:
                let expected = model[name].flatMap { $0.isExpired(at: now) ? nil : $0.value }
                #expect(keyspace.read(name, now: now)?.value == expected)
            }
        }
        let live = model.filter { !$0.value.isExpired(at: now) }
        var visited = 0
        keyspace.forEach(now: now) { name, entry in
            visited += 1
            #expect(live[name]?.value == entry.value)
        }
        #expect(visited == live.count)
        var payload = 0
        var volatile = 0
        keyspace.scanAll { name, entry in
            payload += name.count + entry.value.payloadCount
            if entry.hasExpiry { volatile += 1 }
        }
        #expect(payload == keyspace.payloadBytes)
        #expect(volatile == keyspace.volatileCount)
    }
}

/// A small seeded generator so property tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Keyspace {
    /// Every stored entry, expired or not.
    func scanAll(_ visit: ([UInt8], Entry) -> Void) {
        var cursor: UInt64 = 0
        repeat { cursor = scan(cursor: cursor, count: 1000, visit) } while cursor != 0
    }
}
