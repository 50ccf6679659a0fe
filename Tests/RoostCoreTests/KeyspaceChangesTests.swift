import Testing

@testable import RoostCore

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }
private func string(_ text: String, expireAt: Int64 = Entry.noExpiry) -> Entry {
    Entry(value: .string(Array(text.utf8)), expireAt: expireAt)
}

/// The change log a replication primary reads: every way a key can change is recorded, nothing is recorded while
/// off, and replaying the current states of the changed keys onto a copy taken earlier reproduces the keyspace.
@Suite struct KeyspaceChangesTests {
    @Test func nothingIsRecordedWhileOff() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("1"), now: 0)
        keyspace.remove(key("a"), now: 0)
        let pending1 = keyspace.hasChanges
        #expect(!pending1)
        #expect(keyspace.takeChanges().keys.isEmpty)
    }

    @Test func writesDeletesExpiryAndEvictionAreRecorded() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        keyspace.set(key("new"), string("1"), now: 0)
        keyspace.set(key("new"), string("2"), now: 0)
        keyspace.update(key("counter"), now: 0) { $0 = string("7") }
        key("counter").withUnsafeBytes { counter in
            _ = keyspace.rewriteString(counter, now: 0, scratchCapacity: 8) { _, scratch in
                scratch[0] = UInt8(ascii: "8")
                return 1
            }
        }
        keyspace.remove(key("new"), now: 0)
        keyspace.set(key("short"), string("x", expireAt: 10), now: 0)
        keyspace.set(key("lazy"), string("y", expireAt: 10), now: 0)
        var changes = keyspace.takeChanges()
        #expect(!changes.removedAll)
        #expect(changes.keys == ["new", "new", "counter", "counter", "new", "short", "lazy"].map(key))
        let pending2 = keyspace.hasChanges
        #expect(!pending2)

        // Reading an expired key reclaims it (lazily), and the active cycle reclaims the other: both are changes.
        #expect(keyspace.read(key("lazy"), now: 20) == nil)
        _ = keyspace.expireStep(now: 20, bucketBudget: 1_000)
        changes = keyspace.takeChanges()
        #expect(Set(changes.keys) == Set(["lazy", "short"].map(key)))

        // Reading a live key is not a change.
        _ = keyspace.read(key("counter"), now: 20)
        let pending3 = keyspace.hasChanges
        #expect(!pending3)

        // Eviction.
        keyspace.configureEviction(.allKeysLRU, maxMemory: keyspace.estimatedMemory + 64, now: 20)
        for index in 0..<50 { keyspace.set(key("fill\(index)"), string(String(repeating: "v", count: 40)), now: 20) }
        _ = keyspace.enforceMemoryLimit(now: 20)
        changes = keyspace.takeChanges()
        let evicted = changes.keys.filter { keyspace.peek($0, now: 20) == nil }
        #expect(!evicted.isEmpty)
    }

    @Test func removeAllDropsEarlierChangesAndSaysSo() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        keyspace.set(key("a"), string("1"), now: 0)
        keyspace.removeAll()
        keyspace.set(key("b"), string("2"), now: 0)
        let changes = keyspace.takeChanges()
        #expect(changes.removedAll)
        #expect(changes.keys == [key("b")])
    }

    @Test func currentStateReadsWithoutTouching() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("v", expireAt: 100), now: 0)
        keyspace.set(key("b"), string("w"), now: 0)
        let a = key("a").withUnsafeBytes { k in
            keyspace.currentState(of: k, now: 50) { value, expireAt in (Array(value), expireAt) }
        }
        #expect(a?.0 == key("v"))
        #expect(a?.1 == 100)
        let b = key("b").withUnsafeBytes { k in keyspace.currentState(of: k, now: 50) { _, expireAt in expireAt } }
        #expect(b == Entry.noExpiry)
        let expired = key("a").withUnsafeBytes { k in keyspace.currentState(of: k, now: 100) { _, _ in true } }
        #expect(expired == nil)
        let (count, hits) = (keyspace.count, keyspace.statistics.keyspaceHits)
        #expect(count == 2)
        #expect(hits == 0)
    }

    /// A snapshot taken while writes continue (a scan interleaved with writes), followed by the current states of
    /// every key changed since the scan began, equals the final keyspace.
    @Test func fuzzySnapshotPlusChangedStatesConverges() {
        var generator = SystemRandomNumberGenerator()
        var primary = Keyspace()
        for index in 0..<2_000 { primary.set(key("k\(index)"), string("\(index)"), now: 0) }
        primary.recordsChanges = true
        var replica: [[UInt8]: [UInt8]] = [:]
        var cursor: UInt64 = 0
        repeat {
            cursor = primary.scan(cursor: cursor, count: 50) { k, entry in
                if case .string(let bytes) = entry.value { replica[k] = bytes }
            }
            for _ in 0..<40 {
                let target = key("k\(Int.random(in: 0..<3_000, using: &generator))")
                if Bool.random(using: &generator) {
                    primary.set(target, string("w\(Int.random(in: 0..<100, using: &generator))"), now: 0)
                } else {
                    primary.remove(target, now: 0)
                }
            }
        } while cursor != 0
        let changes = primary.takeChanges()
        for changed in changes.keys {
            let state = changed.withUnsafeBytes { k in primary.currentState(of: k, now: 0) { value, _ in Array(value) }
            }
            replica[changed] = state
        }
        var expected: [[UInt8]: [UInt8]] = [:]
        primary.forEach(now: 0) { k, entry in
            if case .string(let bytes) = entry.value { expected[k] = bytes }
        }
        #expect(replica.compactMapValues { $0 } == expected)
    }
}
