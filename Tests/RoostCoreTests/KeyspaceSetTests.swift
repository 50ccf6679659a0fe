import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private struct NotASet: Error {}

extension Keyspace {
    /// Adds `count` members to the set at `key` (test helper); `integers` keeps it an intset while small.
    fileprivate mutating func fillSet(_ key: String, members count: Int, integers: Bool = false, now: Int64) {
        bytes(key).withUnsafeBytes { key in
            try? withSet(key, now: now, wrongType: NotASet()) { set throws(NotASet) in
                if set == nil { set = SetValue() }
                for index in 0..<count { set!.insert(bytes(integers ? "\(index)" : "member-\(index)")) }
            }
        }
    }

    fileprivate mutating func setCount(_ key: String, now: Int64) -> Int? {
        bytes(key).withUnsafeBytes { key in
            try? withSet(key, now: now, wrongType: NotASet()) { set throws(NotASet) in set?.count }
        }
    }
}

/// Sets in the keyspace: the accounting follows a set as it grows, converts and shrinks and returns to its baseline
/// after every way a key goes, eviction sees a set's real size, sets and other types refuse each other, and changes
/// reach the change log as `SETSTATE` whole states.
@Suite struct KeyspaceSetTests {
    @Test func memoryReturnsToBaselineAfterEveryKindOfRemoval() {
        var keyspace = Keyspace()
        keyspace.set(bytes("anchor"), Entry(value: .string(bytes("v"))), now: 0)
        let baseline = (keyspace.recordBytes, keyspace.payloadBytes)
        // DEL, after growing as an intset and converting
        keyspace.fillSet("s", members: 300, integers: true, now: 0)
        let intsetBytes = keyspace.recordBytes
        #expect(keyspace.payloadBytes == baseline.1 + 1 + 300 * 8)
        keyspace.fillSet("s", members: 2_000, now: 0)
        #expect(keyspace.recordBytes > intsetBytes + 2_000 * 8)
        keyspace.remove(bytes("s"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // overwritten by a string, then deleted
        keyspace.fillSet("s", members: 100, now: 0)
        keyspace.set(bytes("s"), Entry(value: .string(bytes("x"))), now: 0)
        keyspace.remove(bytes("s"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // key expiry (lazy)
        keyspace.fillSet("s", members: 100, now: 0)
        _ = keyspace.update(bytes("s"), now: 0) { entry in entry!.expireAt = 10 }
        let expired = keyspace.read(bytes("s"), now: 20)
        #expect(expired == nil)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // key expiry (active)
        keyspace.fillSet("s", members: 100, integers: true, now: 0)
        _ = keyspace.update(bytes("s"), now: 0) { entry in entry!.expireAt = 10 }
        var wrapped = false
        while !wrapped { wrapped = keyspace.expireStep(now: 200, bucketBudget: 64).wrapped }
        #expect(keyspace.count == 1)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // every member removed: the key goes
        keyspace.fillSet("s", members: 10, now: 0)
        bytes("s").withUnsafeBytes { key in
            try? keyspace.withSet(key, now: 0, wrongType: NotASet()) { set throws(NotASet) in
                for index in 0..<10 { set!.remove(bytes("member-\(index)")) }
            }
        }
        #expect(keyspace.count == 1)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // a STORE result over a string, then an empty STORE result
        keyspace.set(bytes("d"), Entry(value: .string(bytes("x"))), now: 0)
        bytes("d").withUnsafeBytes { key in
            keyspace.storeSet(key, SetValue([bytes("a"), bytes("b")]), expireAt: Entry.noExpiry, now: 0)
        }
        let stored = keyspace.peek(bytes("d"), now: 0)?.value.typeName
        #expect(stored == "set")
        bytes("d").withUnsafeBytes { key in keyspace.storeSet(key, SetValue(), expireAt: Entry.noExpiry, now: 0) }
        #expect(keyspace.count == 1)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
    }

    @Test(arguments: [
        "allkeys-lru", "allkeys-lfu", "volatile-ttl", "allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu",
    ])
    func evictionCountsASetByItsSize(policy: String) throws {
        var keyspace = Keyspace()
        let kind = try #require(EvictionState.Kind(rawValue: policy))
        keyspace.configureEviction(kind, maxMemory: 0, now: 0)
        let empty = keyspace.estimatedMemory
        keyspace.fillSet("big", members: 5_000, now: 0)
        _ = keyspace.update(bytes("big"), now: 0) { entry in entry!.expireAt = 1_000_000 }
        let withSet = keyspace.estimatedMemory
        #expect(withSet - empty > 5_000 * 10)
        keyspace.configureEviction(kind, maxMemory: empty + (withSet - empty) / 2, now: 0)
        let withinLimit = keyspace.enforceMemoryLimit(now: 0)
        #expect(withinLimit)
        #expect(keyspace.count == 0)
        #expect(keyspace.recordBytes == 0 && keyspace.payloadBytes == 0)
    }

    @Test func setsAndOtherTypesRefuseEachOther() {
        var keyspace = Keyspace()
        keyspace.fillSet("s", members: 1, now: 0)
        let lookup = bytes("s").withUnsafeBytes { keyspace.lookupString($0, now: 0) { $0.count } }
        guard case .wrongType = lookup else {
            Issue.record("expected wrongType, got \(lookup)")
            return
        }
        let item = bytes("s").withUnsafeBytes { keyspace.withItem($0, now: 0, touch: true) { _, _, _ in 1 } }
        #expect(item == nil)
        let hashCount = bytes("s").withUnsafeBytes { key in
            try? keyspace.withHash(key, now: 0, wrongType: NotASet()) { hash throws(NotASet) in hash?.count }
        }
        #expect(hashCount == nil)
        keyspace.set(bytes("str"), Entry(value: .string(bytes("v"))), now: 0)
        let stringAsSet = keyspace.setCount("str", now: 0)
        #expect(stringAsSet == nil)
        let type = keyspace.peek(bytes("s"), now: 0)?.value.typeName
        #expect(type == "set")
    }

    @Test func changesAreRecordedAsWholeStates() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        keyspace.fillSet("s", members: 2, integers: true, now: 0)
        _ = keyspace.setCount("s", now: 1)  // a read records nothing
        keyspace.remove(bytes("s"), now: 1)
        let log = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(
            log
                == "*5\r\n$8\r\nSETSTATE\r\n$1\r\ns\r\n$1\r\n0\r\n$1\r\n0\r\n$1\r\n1\r\n"
                + "*2\r\n$3\r\nDEL\r\n$1\r\ns\r\n")
        keyspace.fillSet("t", members: 3, now: 0)
        var snapshot: [UInt8] = []
        _ = keyspace.appendStates(cursor: 0, count: 100, now: 0, to: &snapshot)
        #expect(String(decoding: snapshot, as: UTF8.self).hasPrefix("*6\r\n$8\r\nSETSTATE\r\n$1\r\nt\r\n$1\r\n0\r\n"))
    }
}
