import Synchronization
import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private struct NotAHash: Error {}

extension Keyspace {
    /// Sets `count` fields of the hash at `key` (test helper).
    fileprivate mutating func fill(_ key: String, fields count: Int, valueBytes: Int = 50, now: Int64) {
        bytes(key).withUnsafeBytes { key in
            try? withHash(key, now: now, wrongType: NotAHash()) { hash throws(NotAHash) in
                if hash == nil { hash = HashValue() }
                for index in 0..<count {
                    hash!.set(bytes("field-\(index)"), Array(repeating: UInt8(ascii: "x"), count: valueBytes))
                }
            }
        }
    }

    fileprivate mutating func hashCount(_ key: String, now: Int64) -> Int? {
        bytes(key).withUnsafeBytes { key in
            try? withHash(key, now: now, wrongType: NotAHash()) { hash throws(NotAHash) in hash?.count }
        }
    }
}

/// Hashes in the keyspace: the record points at a box that every way of removing the key releases, the accounting
/// follows the hash as it grows and shrinks and returns to its baseline, strings and hashes refuse each other, and
/// changes reach the change log (as whole states) and the observer.
@Suite struct KeyspaceHashTests {
    @Test func memoryReturnsToBaselineAfterEveryKindOfRemoval() {
        var keyspace = Keyspace()
        keyspace.set(bytes("anchor"), Entry(value: .string(bytes("v"))), now: 0)
        let baseline = (keyspace.recordBytes, keyspace.payloadBytes)
        // DEL
        keyspace.fill("h", fields: 2_000, now: 0)
        #expect(keyspace.recordBytes > baseline.0 + 2_000 * 50)
        #expect(
            keyspace.payloadBytes == baseline.1 + 1 + 2_000 * 50
                + (0..<2_000).reduce(0) { $0 + "field-\($1)".utf8.count })
        keyspace.remove(bytes("h"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // overwritten by a string, then deleted
        keyspace.fill("h", fields: 100, now: 0)
        keyspace.set(bytes("h"), Entry(value: .string(bytes("s"))), now: 0)
        keyspace.remove(bytes("h"), now: 0)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // key expiry (lazy)
        keyspace.fill("h", fields: 100, now: 0)
        _ = keyspace.update(bytes("h"), now: 0) { entry in entry!.expireAt = 10 }
        let expired = keyspace.read(bytes("h"), now: 20)
        #expect(expired == nil)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // every field deleted
        keyspace.fill("h", fields: 10, now: 0)
        bytes("h").withUnsafeBytes { key in
            try? keyspace.withHash(key, now: 0, wrongType: NotAHash()) { hash throws(NotAHash) in
                for index in 0..<10 { hash!.remove(bytes("field-\(index)")) }
            }
        }
        #expect(keyspace.count == 1)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
        // the last field expiring, found by the active cycle
        keyspace.fill("h", fields: 3, now: 0)
        bytes("h").withUnsafeBytes { key in
            try? keyspace.withHash(key, now: 0, wrongType: NotAHash()) { hash throws(NotAHash) in
                for position in 0..<3 { hash!.setExpiry(at: position, 100) }
            }
        }
        #expect(keyspace.volatileAggregateCount == 1)
        var wrapped = false
        while !wrapped { wrapped = keyspace.expireStep(now: 200, bucketBudget: 64).wrapped }
        #expect(keyspace.count == 1)
        #expect(keyspace.volatileAggregateCount == 0)
        #expect(keyspace.statistics.expiredFields == 3)
        #expect((keyspace.recordBytes, keyspace.payloadBytes) == baseline)
    }

    @Test(arguments: [
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
        "volatile-ttl", "allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu",
    ])
    func evictionCountsAHashByItsSize(policy: String) throws {
        var keyspace = Keyspace()
        let kind = try #require(EvictionState.Kind(rawValue: policy))
        keyspace.configureEviction(kind, maxMemory: 0, now: 0)
        let empty = keyspace.estimatedMemory
        keyspace.fill("big", fields: 5_000, valueBytes: 100, now: 0)
        _ = keyspace.update(bytes("big"), now: 0) { entry in entry!.expireAt = 1_000_000 }
        let withHash = keyspace.estimatedMemory
        #expect(withHash - empty > 5_000 * 100)
        // A limit below the hash's size alone: the policy must see the hash as big enough to evict.
        keyspace.configureEviction(kind, maxMemory: empty + (withHash - empty) / 2, now: 0)
        let withinLimit = keyspace.enforceMemoryLimit(now: 0)
        #expect(withinLimit)
        #expect(keyspace.count == 0)
        #expect(keyspace.statistics.evictedKeys == 1)
        #expect(keyspace.recordBytes == 0 && keyspace.payloadBytes == 0)
    }

    @Test func stringsAndHashesRefuseEachOther() {
        var keyspace = Keyspace()
        keyspace.fill("h", fields: 1, now: 0)
        let lookup = bytes("h").withUnsafeBytes { keyspace.lookupString($0, now: 0) { $0.count } }
        guard case .wrongType = lookup else {
            Issue.record("expected wrongType, got \(lookup)")
            return
        }
        let string = bytes("h").withUnsafeBytes { keyspace.withString($0, now: 0) { $0.count } }
        #expect(string == nil)
        var wrongType = false
        let wrote = bytes("h").withUnsafeBytes { key in
            keyspace.rewriteString(key, now: 0, scratchCapacity: 8, wrongType: &wrongType) { _, _ in 1 }
        }
        #expect(!wrote && wrongType)
        let item = bytes("h").withUnsafeBytes { keyspace.withItem($0, now: 0, touch: true) { _, _, _ in 1 } }
        #expect(item == nil)
        let touched = bytes("h").withUnsafeBytes { keyspace.updateItem($0, now: 0) { _, _ in } }
        #expect(!touched)
        keyspace.set(bytes("s"), Entry(value: .string(bytes("v"))), now: 0)
        let hashCount = keyspace.hashCount("s", now: 0)
        #expect(hashCount == nil)
        let type = keyspace.peek(bytes("h"), now: 0)?.value.typeName
        #expect(type == "hash")
    }

    @Test func changesAreRecordedAsWholeStatesAndReachTheObserver() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        let observer = CountingObserver()
        keyspace.observer = observer
        keyspace.fill("h", fields: 2, valueBytes: 1, now: 0)
        bytes("h").withUnsafeBytes { key in
            try? keyspace.withHash(key, now: 0, wrongType: NotAHash()) { hash throws(NotAHash) in
                hash!.setExpiry(at: 1, 5_000)
            }
        }
        // A read that changes nothing records nothing.
        _ = keyspace.hashCount("h", now: 1)
        keyspace.remove(bytes("h"), now: 1)
        let log = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(
            log
                == "*9\r\n$9\r\nHASHSTATE\r\n$1\r\nh\r\n$1\r\n0\r\n$7\r\nfield-0\r\n$1\r\nx\r\n$1\r\n0\r\n$7\r\nfield-1\r\n"
                + "$1\r\nx\r\n$1\r\n0\r\n"
                + "*9\r\n$9\r\nHASHSTATE\r\n$1\r\nh\r\n$1\r\n0\r\n$7\r\nfield-0\r\n$1\r\nx\r\n$1\r\n0\r\n$7\r\nfield-1\r\n"
                + "$1\r\nx\r\n$4\r\n5000\r\n"
                + "*2\r\n$3\r\nDEL\r\n$1\r\nh\r\n")
        #expect(observer.count.withLock { $0 } == 3)
        // A lazily expired field is a change too.
        keyspace.fill("h", fields: 1, valueBytes: 1, now: 0)
        bytes("h").withUnsafeBytes { key in
            try? keyspace.withHash(key, now: 0, wrongType: NotAHash()) { hash throws(NotAHash) in
                hash!.setExpiry(at: 0, 10)
            }
        }
        _ = keyspace.takeChanges { _ in () }
        let gone = keyspace.hashCount("h", now: 20)
        #expect(gone == nil)
        let deletion = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) }
        #expect(deletion == "*2\r\n$3\r\nDEL\r\n$1\r\nh\r\n")
    }

    @Test func snapshotStatesRebuildTheHashes() {
        var keyspace = Keyspace()
        keyspace.fill("h", fields: 600, valueBytes: 3, now: 0)
        keyspace.set(bytes("s"), Entry(value: .string(bytes("v")), expireAt: 9_000), now: 0)
        var log: [UInt8] = []
        var cursor: UInt64 = 0
        var keys = 0
        repeat {
            let step = keyspace.appendStates(cursor: cursor, count: 16, now: 0, to: &log)
            cursor = step.next
            keys += step.keys
        } while cursor != 0
        #expect(keys == 2)
        let text = String(decoding: log, as: UTF8.self)
        #expect(text.contains("$9\r\nHASHSTATE\r\n$1\r\nh\r\n"))
        #expect(text.contains("*5\r\n$3\r\nSET\r\n$1\r\ns\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$4\r\n9000\r\n"))
    }

    @Test func removeAllAndDeinitReleaseTheBoxes() {
        weak var box: AggregateBox?
        do {
            var keyspace = Keyspace()
            keyspace.fill("h", fields: 3, now: 0)
            box = keyspace.record(bytes("h").withUnsafeBytes { keyspace.slotIndex(of: $0) }!).box
            #expect(box != nil)
            keyspace.removeAll()
            #expect(box == nil)
            keyspace.fill("h", fields: 3, now: 0)
            box = keyspace.record(bytes("h").withUnsafeBytes { keyspace.slotIndex(of: $0) }!).box
        }
        #expect(box == nil)
    }
}

private final class CountingObserver: KeyspaceObserver {
    let count = Mutex(0)
    func keyspace(changed key: UnsafeRawBufferPointer, cause: KeyChangeCause) { count.withLock { $0 += 1 } }
    func keyspaceFlushed() {}
}
