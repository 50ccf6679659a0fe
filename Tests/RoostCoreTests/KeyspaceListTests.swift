import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private struct NotAList: Error {}

extension Keyspace {
    /// Appends `count` elements to the list at `key` (test helper).
    fileprivate mutating func fillList(_ key: String, elements count: Int, elementBytes: Int = 50, now: Int64) {
        bytes(key).withUnsafeBytes { key in
            try? withList(key, now: now, wrongType: NotAList()) { list throws(NotAList) in
                if list == nil { list = ListValue() }
                for _ in 0..<count { list!.append(Array(repeating: UInt8(ascii: "x"), count: elementBytes)) }
            }
        }
    }
}

/// Lists in the keyspace: every way of removing the key returns the accounting to its baseline, every eviction policy
/// sees a list's real size, strings and lists refuse each other, and changes reach the change log as `LISTSTATE`.
@Suite struct KeyspaceListTests {
    @Test func memoryReturnsToBaselineAfterEveryKindOfRemoval() {
        var keyspace = Keyspace()
        keyspace.set(bytes("anchor"), Entry(value: .string(bytes("v"))), now: 0)
        let baseline = (keyspace.recordBytes, keyspace.payloadBytes)
        // DEL
        keyspace.fillList("l", elements: 2_000, now: 0)
        #expect(keyspace.recordBytes > baseline.0 + 2_000 * 50)
        #expect(keyspace.payloadBytes == baseline.1 + 1 + 2_000 * 50)
        keyspace.remove(bytes("l"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // grows and shrinks in place, then every element popped
        keyspace.fillList("l", elements: 500, now: 0)
        bytes("l").withUnsafeBytes { key in
            try? keyspace.withList(key, now: 0, wrongType: NotAList()) { list throws(NotAList) in
                while list!.popFirst() != nil {}
            }
        }
        #expect(keyspace.count == 1)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // overwritten by a string, then deleted
        keyspace.fillList("l", elements: 100, now: 0)
        keyspace.set(bytes("l"), Entry(value: .string(bytes("s"))), now: 0)
        keyspace.remove(bytes("l"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // key expiry (lazy)
        keyspace.fillList("l", elements: 100, now: 0)
        _ = keyspace.update(bytes("l"), now: 0) { entry in entry!.expireAt = 10 }
        let expired = keyspace.read(bytes("l"), now: 20)
        #expect(expired == nil)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // FLUSHALL-like removal of everything
        keyspace.fillList("l", elements: 100, now: 0)
        keyspace.remove(bytes("anchor"), now: 0)
        keyspace.remove(bytes("l"), now: 0)
        #expect(keyspace.recordBytes == 0 && keyspace.payloadBytes == 0)
    }

    @Test(arguments: [
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
        "volatile-ttl", "allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu",
    ])
    func evictionCountsAListByItsSize(policy: String) throws {
        var keyspace = Keyspace()
        let kind = try #require(EvictionState.Kind(rawValue: policy))
        keyspace.configureEviction(kind, maxMemory: 0, now: 0)
        let empty = keyspace.estimatedMemory
        keyspace.fillList("big", elements: 5_000, elementBytes: 100, now: 0)
        _ = keyspace.update(bytes("big"), now: 0) { entry in entry!.expireAt = 1_000_000 }
        let withList = keyspace.estimatedMemory
        #expect(withList - empty > 5_000 * 100)
        keyspace.configureEviction(kind, maxMemory: empty + (withList - empty) / 2, now: 0)
        let withinLimit = keyspace.enforceMemoryLimit(now: 0)
        #expect(withinLimit)
        #expect(keyspace.count == 0)
        #expect(keyspace.statistics.evictedKeys == 1)
        #expect(keyspace.recordBytes == 0 && keyspace.payloadBytes == 0)
    }

    @Test func stringsHashesAndListsRefuseEachOther() {
        var keyspace = Keyspace()
        keyspace.fillList("l", elements: 1, now: 0)
        let lookup = bytes("l").withUnsafeBytes { keyspace.lookupString($0, now: 0) { $0.count } }
        guard case .wrongType = lookup else {
            Issue.record("expected wrongType, got \(lookup)")
            return
        }
        let asHash = bytes("l").withUnsafeBytes { key in
            Result { () throws(NotAList) in
                try keyspace.withHash(key, now: 0, wrongType: NotAList()) { hash throws(NotAList) in hash?.count }
            }
        }
        #expect(throws: NotAList.self) { try asHash.get() }
        keyspace.set(bytes("s"), Entry(value: .string(bytes("v"))), now: 0)
        let asList = bytes("s").withUnsafeBytes { key in
            Result { () throws(NotAList) in
                try keyspace.withList(key, now: 0, wrongType: NotAList()) { list throws(NotAList) in list?.count }
            }
        }
        #expect(throws: NotAList.self) { try asList.get() }
        let type = keyspace.peek(bytes("l"), now: 0)?.value.typeName
        #expect(type == "list")
    }

    @Test func changesAreRecordedAsListStates() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        keyspace.fillList("l", elements: 2, elementBytes: 1, now: 0)
        let log = String(decoding: keyspace.changeLog, as: UTF8.self)
        #expect(log.contains("LISTSTATE\r\n$1\r\nl\r\n$1\r\n0\r\n$1\r\nx\r\n$1\r\nx\r\n"), "\(log)")
        // An unchanged list records nothing.
        keyspace.changeLog.removeAll()
        bytes("l").withUnsafeBytes { key in
            _ = try? keyspace.withList(key, now: 0, wrongType: NotAList()) { list throws(NotAList) in list?.count }
        }
        #expect(keyspace.changeLog.isEmpty)
    }
}
