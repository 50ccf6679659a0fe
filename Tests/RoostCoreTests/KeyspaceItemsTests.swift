import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// memcached's item metadata stored beside values: flags and CAS round-trip in every block form, a RESP write
/// drops them, CAS values never repeat, and only the value, expiry and lease marks are visible to replication.
@Suite struct KeyspaceItemsTests {
    private func item(_ keyspace: inout Keyspace, _ key: String, now: Int64 = 0)
        -> (value: [UInt8], expireAt: Int64, metadata: ItemMetadata)?
    {
        bytes(key).withUnsafeBytes { key in
            keyspace.withItem(key, now: now, touch: false) { value, expireAt, metadata in
                (Array(value), expireAt, metadata)
            }
        }
    }

    private func store(
        _ keyspace: inout Keyspace, _ key: String, _ value: [UInt8], flags: UInt32, expireAt: Int64 = Entry.noExpiry
    ) -> UInt64 {
        bytes(key).withUnsafeBytes { key in
            value.withUnsafeBytes { value in
                keyspace.storeItem(key, value: value, expireAt: expireAt, clientFlags: flags, now: 0)
            }
        }
    }

    @Test(arguments: [(1, 3), (1, 70_000), (300, 3), (300, 70_000)])
    func flagsAndCASRoundTripInEveryBlockForm(keyLength: Int, valueLength: Int) {
        var keyspace = Keyspace()
        let key = String(repeating: "k", count: keyLength)
        let value = [UInt8](repeating: 7, count: valueLength)
        let first = store(&keyspace, key, value, flags: 0xDEAD_BEEF, expireAt: 1_000)
        let found = item(&keyspace, key)
        #expect(found?.value == value)
        #expect(found?.expireAt == 1_000)
        #expect(found?.metadata == ItemMetadata(clientFlags: 0xDEAD_BEEF, cas: first))
        let second = store(&keyspace, key, [1], flags: 5)
        #expect(second > first)
        #expect(item(&keyspace, key)?.metadata.clientFlags == 5)
        #expect(item(&keyspace, key)?.expireAt == Entry.noExpiry)
        // The plain read path still sees the value.
        #expect(keyspace.read(bytes(key), now: 0)?.value == .string([1]))
        let memory = keyspace.estimatedMemory
        keyspace.remove(bytes(key), now: 0)
        #expect(keyspace.estimatedMemory < memory)
    }

    @Test func aRespWriteDropsTheMetadataAndTheNextReadGetsANewCAS() {
        var keyspace = Keyspace()
        let stored = store(&keyspace, "k", bytes("v"), flags: 42)
        keyspace.set(bytes("k"), Entry(value: .string(bytes("w"))), now: 0)
        let after = item(&keyspace, "k")
        #expect(after?.value == bytes("w"))
        #expect(after?.metadata.clientFlags == 0)
        #expect(after!.metadata.cas > stored)
        // Stable until the value changes.
        #expect(item(&keyspace, "k")?.metadata.cas == after?.metadata.cas)
        // An INCR-style rewrite drops it too.
        bytes("k").withUnsafeBytes { key in
            _ = keyspace.rewriteString(key, now: 0, scratchCapacity: 4) { _, scratch in
                scratch[0] = UInt8(ascii: "1")
                return 1
            }
        }
        #expect(item(&keyspace, "k")!.metadata.cas > after!.metadata.cas)
    }

    @Test func updateItemChangesExpiryAndMarksWithoutTouchingTheValueOrCAS() {
        var keyspace = Keyspace()
        let cas = store(&keyspace, "k", bytes("v"), flags: 1)
        let touched = bytes("k").withUnsafeBytes { key in
            keyspace.updateItem(key, now: 0) { expireAt, metadata in
                expireAt = 5_000
                metadata.isStale = true
            }
        }
        #expect(touched)
        let found = item(&keyspace, "k")
        #expect(found?.value == bytes("v"))
        #expect(found?.expireAt == 5_000)
        #expect(found?.metadata == ItemMetadata(clientFlags: 1, cas: cas, isStale: true))
        _ = bytes("k").withUnsafeBytes { key in
            keyspace.updateItem(key, now: 0) { _, metadata in metadata.winTokenSent = true }
        }
        #expect(item(&keyspace, "k")?.metadata.winTokenSent == true)
        #expect(item(&keyspace, "k", now: 5_000) == nil)  // expired
        let missing = bytes("nope").withUnsafeBytes { key in keyspace.updateItem(key, now: 0) { _, _ in } }
        #expect(!missing)
    }

    @Test func replicationSeesValueExpiryAndLeaseMarksOnly() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        _ = store(&keyspace, "k", bytes("v"), flags: 3)
        // Items travel with their client flags (Roost's internal ITEMSET), so a failover keeps them.
        let stored = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) }
        #expect(stored == "*5\r\n$7\r\nITEMSET\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n3\r\n$1\r\n0\r\n")
        keyspace.set(bytes("r"), Entry(value: .string(bytes("x"))), now: 0)
        _ = keyspace.takeChanges { _ in () }
        _ = item(&keyspace, "r")  // attaches metadata: not a change
        // The win token and the CAS are this node's own: not changes a replica needs.
        _ = bytes("k").withUnsafeBytes { key in
            keyspace.updateItem(key, now: 0) { _, m in
                m.winTokenSent = true
                m.cas += 100
            }
        }
        let quiet = keyspace.hasChanges
        #expect(!quiet)
        // The stale mark is: a promoted replica keeps serving the item as stale.
        _ = bytes("k").withUnsafeBytes { key in keyspace.updateItem(key, now: 0) { _, m in m.isStale = true } }
        let stale = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) }
        #expect(stale == "*6\r\n$7\r\nITEMSET\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n3\r\n$1\r\n0\r\n$5\r\nSTALE\r\n")
        _ = bytes("k").withUnsafeBytes { key in keyspace.updateItem(key, now: 0) { expireAt, _ in expireAt = 9 } }
        let log = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) }
        #expect(log == "*6\r\n$7\r\nITEMSET\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n3\r\n$1\r\n9\r\n$5\r\nSTALE\r\n")
    }
}
