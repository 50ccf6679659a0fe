/// memcached's per-item metadata, stored in the entry beside the value (16 bytes, only for entries written or read
/// through the memcached protocol; see `EntryRecord`).
///
/// A write through the Redis protocol replaces the entry without metadata: its client flags become 0 and the next
/// memcached read gives it a fresh CAS, so a compare-and-swap against the old CAS fails, as it must.
public struct ItemMetadata: Sendable, Hashable {
    /// The 32-bit client flags memcached clients store with a value (serialisation format, compression, …).
    public var clientFlags: UInt32
    /// The compare-and-swap version: unique across the keyspace, new on every change of the value.
    public var cas: UInt64
    /// Marked stale by an invalidation (`md key I`, `ms key I`): served with `X`, and one client gets `W`.
    public var isStale: Bool
    /// A win token (`W`) was handed out for this item, so other clients get `Z`.
    public var winTokenSent: Bool
    /// The empty item a lease read created for a missing key (`mg … N`, `LEASE.GET`), not filled since: it stands
    /// for "no value yet, the lease holder is computing it" (see ``ItemLease``).
    public var isPlaceholder: Bool

    /// Metadata.
    public init(
        clientFlags: UInt32 = 0, cas: UInt64 = 0, isStale: Bool = false, winTokenSent: Bool = false,
        isPlaceholder: Bool = false
    ) {
        self.clientFlags = clientFlags
        self.cas = cas
        self.isStale = isStale
        self.winTokenSent = winTokenSent
        self.isPlaceholder = isPlaceholder
    }

    /// The marks a replica must also have to serve the item the same way (``isStale``, ``isPlaceholder``); the win
    /// token is this node's own and is not replicated.
    var replicatedMarks: (isStale: Bool, isPlaceholder: Bool) { (isStale, isPlaceholder) }
}

extension Keyspace {
    /// Whether `key` holds a live aggregate (a hash, …), which the memcached protocol does not read or replace
    /// except by an unconditional store or a delete.
    public mutating func holdsAggregate(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else { return false }
        return record(index).isAggregate
    }

    /// A fresh CAS value: greater than every one handed out before by this keyspace.
    public mutating func nextCAS() -> UInt64 {
        casCounter &+= 1
        return casCounter
    }

    /// Calls `body` with the value, absolute expiry (``Entry/noExpiry`` for none) and metadata of `key`, and returns
    /// its result; nil when the key is absent or expired. A key that has no metadata yet (written over RESP) is
    /// given flags 0 and a fresh CAS, stored with it, so the CAS stays the same until the value changes. With
    /// `touch` it counts a hit or a miss and tells the eviction policy about the access, as a read command does.
    ///
    /// A key holding an aggregate (a hash, …) is not an item: the memcached protocol sees a miss (see
    /// ``holdsAggregate(_:now:)`` for the writes that must not replace it).
    public mutating func withItem<Result>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        touch: Bool,
        _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ metadata: ItemMetadata) -> Result
    ) -> Result? {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now), !record(index).isAggregate else {
            if touch { statistics.keyspaceMisses += 1 }
            return nil
        }
        var record = record(index)
        if !record.hasItemMetadata {
            // Attaching metadata changes no state a replica, the change log or the observer cares about.
            let cas = nextCAS()
            withoutChangeNotifications { keyspace in
                keyspace.replaceValue(
                    at: index, value: record.value, expireAt: record.expireAt, encoding: record.encoding, now: now,
                    metadata: ItemMetadata(cas: cas))
            }
            record = self.record(index)
        }
        if touch {
            statistics.keyspaceHits += 1
            record.lastAccess = Keyspace.accessClock(now)
            eviction.accessed(index)
        }
        return body(record.value, record.expireAt, record.itemMetadata!)
    }

    /// Stores `value` under `key` with `clientFlags` and an absolute expiry (``Entry/noExpiry`` for none),
    /// replacing any previous item, with a fresh CAS, which it returns.
    @discardableResult
    public mutating func storeItem(
        _ key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        expireAt: Int64,
        clientFlags: UInt32,
        now: Int64,
        isStale: Bool = false,
        winTokenSent: Bool = false,
        isPlaceholder: Bool = false
    ) -> UInt64 {
        let cas = nextCAS()
        let metadata = ItemMetadata(
            clientFlags: clientFlags, cas: cas, isStale: isStale, winTokenSent: winTokenSent,
            isPlaceholder: isPlaceholder)
        let hash = Keyspace.hash(key)
        if let index = liveSlot(key, hash: hash, now: now, writing: true) {
            replaceValue(
                at: index, value: value, expireAt: expireAt, encoding: .automatic, now: now, metadata: metadata)
        } else {
            insertNew(
                key, hash: hash, value: value, expireAt: expireAt, encoding: .automatic, now: now, metadata: metadata)
        }
        return cas
    }

    /// Lets `body` change a live item's expiry and metadata without touching its value (memcached's `touch`, `gat`,
    /// and the stale and win-token marks); returns false when the key is absent or expired. An expiry change and a
    /// change of the replicated marks (stale, placeholder) are recorded for replication like any write; a change of
    /// the CAS, the client flags or the win token alone is not.
    @discardableResult
    public mutating func updateItem(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        _ body: (inout Int64, inout ItemMetadata) -> Void
    ) -> Bool {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now, writing: true),
            !record(index).isAggregate
        else { return false }
        let record = record(index)
        let oldExpiry = record.expireAt
        let oldMetadata = record.itemMetadata ?? ItemMetadata(cas: nextCAS())
        var expireAt = oldExpiry
        var metadata = oldMetadata
        body(&expireAt, &metadata)
        let marksChanged = metadata.replicatedMarks != oldMetadata.replicatedMarks
        if expireAt == oldExpiry && record.hasItemMetadata {
            record.itemMetadata = metadata
            if marksChanged && recordsChanges {
                ChangeLog.appendSet(
                    &changeLog, key: record.key, value: record.value, expireAt: expireAt, metadata: metadata)
            }
            return true
        }
        if expireAt == oldExpiry {
            // The value and expiry are unchanged: nothing for trackers; the lease marks still go to replicas.
            withoutChangeNotifications { keyspace in
                keyspace.replaceValue(
                    at: index, value: record.value, expireAt: expireAt, encoding: record.encoding, now: now,
                    metadata: metadata)
            }
            if marksChanged && recordsChanges {
                let stored = self.record(index)
                ChangeLog.appendSet(
                    &changeLog, key: stored.key, value: stored.value, expireAt: expireAt, metadata: metadata)
            }
        } else {
            replaceValue(
                at: index, value: record.value, expireAt: expireAt, encoding: record.encoding, now: now,
                metadata: metadata)
        }
        return true
    }
}
