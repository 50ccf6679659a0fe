import Testing

@testable import RoostCore

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }
private func string(_ text: String, expireAt: Int64 = Entry.noExpiry) -> Entry {
    Entry(value: .string(Array(text.utf8)), expireAt: expireAt)
}

/// The change log's records, decoded from RESP (arrays of bulk strings only, as ``ChangeLog`` writes them).
private func records(_ keyspace: inout Keyspace) -> [[String]] {
    guard let bytes = keyspace.takeChanges({ Array($0) }) else { return [] }
    var records: [[String]] = []
    var index = 0
    func number() -> Int {
        var value = 0
        while bytes[index] != 13 {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
        }
        index += 2
        return value
    }
    while index < bytes.count {
        #expect(bytes[index] == UInt8(ascii: "*"))
        index += 1
        var record: [String] = []
        for _ in 0..<number() {
            #expect(bytes[index] == UInt8(ascii: "$"))
            index += 1
            let length = number()
            record.append(String(decoding: bytes[index..<index + length], as: UTF8.self))
            index += length + 2
        }
        records.append(record)
    }
    return records
}

/// The change log a replication primary ships: every way a key can change is recorded as the key's new state, in
/// order; nothing is recorded while off; and a snapshot taken while writes continue, followed by the records made
/// since it began, reproduces the keyspace.
@Suite struct KeyspaceChangesTests {
    @Test func nothingIsRecordedWhileOff() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("1"), now: 0)
        keyspace.remove(key("a"), now: 0)
        let pending = keyspace.hasChanges
        #expect(!pending)
        #expect(records(&keyspace).isEmpty)
    }

    @Test func writesDeletesExpiryAndEvictionAreRecordedAsStates() {
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
        keyspace.update(key("counter"), now: 0) { $0?.expireAt = 500 }
        #expect(
            records(&keyspace) == [
                ["SET", "new", "1"], ["SET", "new", "2"], ["SET", "counter", "7"], ["SET", "counter", "8"],
                ["DEL", "new"], ["SET", "short", "x", "PXAT", "10"], ["SET", "lazy", "y", "PXAT", "10"],
                ["SET", "counter", "8", "PXAT", "500"],
            ])
        let drained = keyspace.hasChanges
        #expect(!drained)

        // Reading an expired key reclaims it (lazily), and the active cycle reclaims the other: both are deletes.
        #expect(keyspace.read(key("lazy"), now: 20) == nil)
        _ = keyspace.expireStep(now: 20, bucketBudget: 1_000)
        #expect(Set(records(&keyspace)) == [["DEL", "lazy"], ["DEL", "short"]])

        // Reading a live key is not a change.
        _ = keyspace.read(key("counter"), now: 20)
        #expect(records(&keyspace).isEmpty)

        // Eviction: every evicted key is deleted in the log.
        keyspace.configureEviction(.allKeysLRU, maxMemory: keyspace.estimatedMemory + 64, now: 20)
        for index in 0..<50 { keyspace.set(key("fill\(index)"), string(String(repeating: "v", count: 40)), now: 20) }
        _ = keyspace.enforceMemoryLimit(now: 20)
        let log = records(&keyspace)
        let deleted = log.filter { $0[0] == "DEL" }.map { key($0[1]) }
        #expect(!deleted.isEmpty)
        #expect(deleted.allSatisfy { keyspace.peek($0, now: 20) == nil })
    }

    @Test func removeAllReplacesEarlierRecordsWithAFlush() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        keyspace.set(key("a"), string("1"), now: 0)
        keyspace.removeAll()
        keyspace.set(key("b"), string("2"), now: 0)
        #expect(records(&keyspace) == [["FLUSHALL"], ["SET", "b", "2"]])
    }

    @Test func binaryKeysAndValuesAreLengthPrefixed() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        let binary: [UInt8] = [0, 13, 10, 255, 42]
        keyspace.set(binary, Entry(value: .string(binary + binary)), now: 0)
        let log = keyspace.takeChanges { Array($0) }
        let expected: [UInt8] =
            Array("*3\r\n$3\r\nSET\r\n$5\r\n".utf8) + binary + Array("\r\n$10\r\n".utf8) + binary
            + binary + Array("\r\n".utf8)
        #expect(log == expected)
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

    /// A snapshot taken while writes continue (a scan interleaved with writes), followed by every record made since
    /// the scan began, equals the final keyspace.
    @Test func fuzzySnapshotPlusRecordsConverges() {
        var generator = SystemRandomNumberGenerator()
        var primary = Keyspace()
        for index in 0..<2_000 { primary.set(key("k\(index)"), string("\(index)"), now: 0) }
        primary.recordsChanges = true
        var replica: [String: String] = [:]
        var cursor: UInt64 = 0
        repeat {
            cursor = primary.scan(cursor: cursor, count: 50) { k, entry in
                if case .string(let bytes) = entry.value {
                    replica[String(decoding: k, as: UTF8.self)] = String(decoding: bytes, as: UTF8.self)
                }
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
        for record in records(&primary) {
            switch record[0] {
            case "SET": replica[record[1]] = record[2]
            case "DEL": replica[record[1]] = nil
            default: replica = [:]
            }
        }
        var expected: [String: String] = [:]
        primary.forEach(now: 0) { k, entry in
            if case .string(let bytes) = entry.value {
                expected[String(decoding: k, as: UTF8.self)] = String(decoding: bytes, as: UTF8.self)
            }
        }
        #expect(replica == expected)
    }

    /// A replica's keyspace hides expired keys from reads but keeps them until its primary's `DEL`; a write
    /// replaces an expired key rather than adding a second one.
    @Test func aReplicaRetainsExpiredKeysUntilDeleted() {
        var keyspace = Keyspace()
        keyspace.retainsExpired = true
        keyspace.set(key("gone"), string("v", expireAt: 10), now: 0)
        keyspace.set(key("kept"), string("w"), now: 0)
        #expect(keyspace.read(key("gone"), now: 20) == nil)
        #expect(keyspace.peek(key("gone"), now: 20) == nil)
        let contained = key("gone").withUnsafeBytes { keyspace.contains($0, now: 20) }
        #expect(!contained)
        var count = keyspace.count
        #expect(count == 2)
        _ = keyspace.expireStep(now: 20, bucketBudget: 1_000)  // the server does not run it on replicas
        keyspace.set(key("gone"), string("again", expireAt: 15), now: 20)
        count = keyspace.count
        #expect(count == 2)
        var generator = SystemRandomNumberGenerator()
        _ = keyspace.randomKey(now: 30, using: &generator)  // terminates although every other key is expired
        #expect(keyspace.remove(key("gone"), now: 30) == false)  // expired: not live, but removed
        count = keyspace.count
        #expect(count == 1)
        keyspace.retainsExpired = false
        keyspace.set(key("short"), string("x", expireAt: 40), now: 30)
        #expect(keyspace.read(key("short"), now: 50) == nil)
        count = keyspace.count
        #expect(count == 1)
    }
}
