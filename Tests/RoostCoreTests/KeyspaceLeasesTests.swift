import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// memcached's lease rules (``ItemLease``) and the keyspace's lease read: who wins, what each reader is told, the
/// placeholder a miss creates and how it ends, invalidation.
@Suite struct KeyspaceLeasesTests {
    /// One lease read as `LEASE.GET` makes it: the status, the value and the CAS seen.
    private func read(
        _ keyspace: inout Keyspace, _ key: String, now: Int64, lease: Int64? = 1_000, recacheThreshold: Int64? = nil
    ) -> (status: ItemLease.Status, value: [UInt8], cas: UInt64)? {
        bytes(key).withUnsafeBytes { key in
            keyspace.leaseRead(key, now: now, touch: true, vivifyExpireAt: lease.map { now + $0 }) {
                value, expireAt, metadata, created in
                let due = recacheThreshold.map { ItemLease.isRecacheDue(expireAt: expireAt, threshold: $0) } ?? false
                let won = ItemLease.wins(metadata, created: created, recacheDue: due)
                return ((ItemLease.status(metadata, won: won), Array(value), metadata.cas), expireAt, won)
            }
        }
    }

    private func store(_ keyspace: inout Keyspace, _ key: String, _ value: String, expireAt: Int64 = Entry.noExpiry) {
        bytes(key).withUnsafeBytes { key in
            bytes(value).withUnsafeBytes { value in
                _ = keyspace.storeItem(key, value: value, expireAt: expireAt, clientFlags: 0, now: 0)
            }
        }
    }

    /// Every combination of the marks and the reader's situation, against memcached's rule: the creator wins; else
    /// nobody holding the lease and the item stale or due for recache.
    @Test(arguments: [false, true], [false, true])
    func winRule(stale: Bool, winTokenSent: Bool) {
        for (created, recacheDue) in [(false, false), (false, true), (true, false)] {
            let metadata = ItemMetadata(isStale: stale, winTokenSent: winTokenSent && !created)
            let expected = created || (!winTokenSent && (stale || recacheDue))
            #expect(ItemLease.wins(metadata, created: created, recacheDue: recacheDue) == expected)
        }
    }

    @Test func statusNames() {
        #expect(ItemLease.status(ItemMetadata(isPlaceholder: true), won: true) == .win)
        #expect(ItemLease.status(ItemMetadata(winTokenSent: true, isPlaceholder: true), won: false) == .wait)
        #expect(ItemLease.status(ItemMetadata(isStale: true), won: true) == .staleWin)
        #expect(ItemLease.status(ItemMetadata(isStale: true, winTokenSent: true), won: false) == .stale)
        #expect(ItemLease.status(ItemMetadata(), won: true) == .recacheWin)
        #expect(ItemLease.status(ItemMetadata(), won: false) == .hit)
        #expect(ItemLease.Status.allCases.filter(\.holdsLease) == [.recacheWin, .staleWin, .win])
        #expect(ItemLease.Status.allCases.filter { !$0.hasValue } == [.win, .wait])
        #expect(
            ItemLease.Status.allCases.map(\.rawValue) == ["hit", "recache-win", "stale", "stale-win", "win", "wait"])
        #expect(!ItemLease.isRecacheDue(expireAt: Entry.noExpiry, threshold: .max))
        #expect(ItemLease.isRecacheDue(expireAt: 10, threshold: 11))
        #expect(!ItemLease.isRecacheDue(expireAt: 11, threshold: 11))
    }

    @Test func aMissCreatesOnePlaceholderThatExpiresWithTheLease() throws {
        var keyspace = Keyspace()
        let first = try #require(read(&keyspace, "k", now: 0))
        #expect(first.status == .win && first.value.isEmpty)
        for now in [1, 500, 999] as [Int64] {
            #expect(read(&keyspace, "k", now: now)?.status == .wait)
        }
        // The winner never stored: the placeholder expires with the lease, and the next reader wins a new one.
        let second = try #require(read(&keyspace, "k", now: 1_000))
        #expect(second.status == .win && second.cas > first.cas)
        // Without a lease time a miss is just a miss.
        #expect(read(&keyspace, "other", now: 0, lease: nil) == nil)
        #expect(read(&keyspace, "past", now: 5, lease: -1) == nil)
        #expect(keyspace.count == 1)
    }

    @Test func storingEndsTheLeaseAndInvalidationOpensANewOne() {
        var keyspace = Keyspace()
        _ = read(&keyspace, "k", now: 0)
        store(&keyspace, "k", "v1")
        #expect(read(&keyspace, "k", now: 1)?.status == .hit)
        let cas = read(&keyspace, "k", now: 1)!.cas
        let invalidated = bytes("k").withUnsafeBytes { keyspace.invalidateItem($0, now: 1, expireAt: 10_000) }
        #expect(invalidated == .invalidated)
        let winner = read(&keyspace, "k", now: 2)
        #expect(winner?.status == .staleWin && winner?.value == bytes("v1"))
        #expect(winner!.cas > cas)
        #expect(read(&keyspace, "k", now: 3)?.status == .stale)
        // Invalidating again hands the lease out again.
        _ = bytes("k").withUnsafeBytes { keyspace.invalidateItem($0, now: 4, expireAt: nil) }
        #expect(read(&keyspace, "k", now: 5)?.status == .staleWin)
        store(&keyspace, "k", "v2")
        #expect(read(&keyspace, "k", now: 6)?.status == .hit)
        // Not found, CAS mismatch, and an expiry in the past (removes the item).
        let missing = bytes("nope").withUnsafeBytes { keyspace.invalidateItem($0, now: 6, expireAt: nil) }
        #expect(missing == .notFound)
        let mismatch = bytes("k").withUnsafeBytes {
            keyspace.invalidateItem($0, now: 6, expireAt: nil, compareCAS: 1)
        }
        #expect(mismatch == .casMismatch)
        let removed = bytes("k").withUnsafeBytes { keyspace.invalidateItem($0, now: 6, expireAt: 6) }
        #expect(removed == .invalidated)
        #expect(read(&keyspace, "k", now: 6, lease: nil) == nil)
    }

    @Test func recacheHandsOutOneEarlyLeaseWhileEveryoneGetsTheValue() {
        var keyspace = Keyspace()
        store(&keyspace, "k", "v", expireAt: 10_000)
        #expect(read(&keyspace, "k", now: 0, recacheThreshold: 5_000)?.status == .hit)
        #expect(read(&keyspace, "k", now: 6_000, recacheThreshold: 16_000)?.status == .recacheWin)
        let other = read(&keyspace, "k", now: 6_001, recacheThreshold: 16_001)
        #expect(other?.status == .hit && other?.value == bytes("v"))
    }

    @Test func leaseMarksReplicate() {
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        _ = read(&keyspace, "k", now: 0)
        let log = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) }
        #expect(log == "*6\r\n$7\r\nITEMSET\r\n$1\r\nk\r\n$0\r\n\r\n$1\r\n0\r\n$4\r\n1000\r\n$11\r\nPLACEHOLDER\r\n")
        // Handing out the lease (the win token) is this node's own business.
        _ = read(&keyspace, "k", now: 1)
        let quiet = keyspace.hasChanges
        #expect(!quiet)
    }
}
