extension Keyspace {
    /// Calls `body` with the changes recorded since the last call (while ``recordsChanges`` is set), in the order
    /// they happened, as RESP commands (``ChangeLog``), then forgets them; returns nil without calling it when
    /// there are none.
    ///
    /// Each record is a key's whole state right after the change, not the operation that made it: `SET key value`
    /// (with `PXAT ms` for a key with a time to live), `DEL key` when the key went away (deleted, expired or
    /// evicted), `FLUSHALL`. States are idempotent, which is what lets a replication primary stream a snapshot
    /// taken while writes continue: a replica that applies the snapshot and then every record made after it began
    /// ends equal to the primary, whatever the snapshot saw of a key that changed meanwhile.
    public mutating func takeChanges<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard !changeLog.isEmpty else { return nil }
        defer { changeLog.removeAll(keepingCapacity: changeLog.count <= 1 << 20) }
        return changeLog.withUnsafeBytes(body)
    }

    /// Whether ``takeChanges(_:)`` has anything to give.
    public var hasChanges: Bool { !changeLog.isEmpty }

    /// Calls `body` with the value and absolute expiry (``Entry/noExpiry`` for none) of `key` when it is live at
    /// `now`; returns nil without calling it when the key is absent or expired. Neither touches the key nor counts
    /// statistics, and reclaims nothing.
    public func currentState<Result>(
        of key: UnsafeRawBufferPointer, now: Int64, _ body: (UnsafeRawBufferPointer, Int64) -> Result
    ) -> Result? {
        guard let (index, _) = find(key, hash: Keyspace.hash(key)) else { return nil }
        let record = record(index)
        if record.isExpired(at: now) || record.isAggregate { return nil }
        return body(record.value, record.expireAt)
    }
}

/// The RESP records of a keyspace's change log (see ``Keyspace/takeChanges(_:)``): arrays of bulk strings, written
/// straight from the stored bytes.
public enum ChangeLog {
    /// `SET key value`, or `SET key value PXAT expireAt` when `expireAt` is not ``Entry/noExpiry``; for an item
    /// with memcached metadata, Roost's internal `ITEMSET key value flags expireAt [STALE] [PLACEHOLDER]` (expireAt
    /// 0 for none; the options carry the item's lease marks, see ``ItemLease``), which only a replication link may
    /// send, so the client flags and the marks survive a failover.
    public static func appendSet(
        _ log: inout [UInt8], key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64,
        metadata: ItemMetadata? = nil
    ) {
        if let metadata {
            appendHeader(&log, count: 5 + (metadata.isStale ? 1 : 0) + (metadata.isPlaceholder ? 1 : 0))
            appendBulk(&log, "ITEMSET")
            appendBulk(&log, key)
            appendBulk(&log, value)
            appendBulk(&log, String(metadata.clientFlags))
            appendBulk(&log, String(expireAt == Entry.noExpiry ? 0 : expireAt))
            if metadata.isStale { appendBulk(&log, "STALE") }
            if metadata.isPlaceholder { appendBulk(&log, "PLACEHOLDER") }
            return
        }
        let expires = expireAt != Entry.noExpiry
        appendHeader(&log, count: expires ? 5 : 3)
        appendBulk(&log, "SET")
        appendBulk(&log, key)
        appendBulk(&log, value)
        if expires {
            appendBulk(&log, "PXAT")
            appendBulk(&log, String(expireAt))
        }
    }

    /// `DEL key`.
    public static func appendDelete(_ log: inout [UInt8], key: UnsafeRawBufferPointer) {
        appendHeader(&log, count: 2)
        appendBulk(&log, "DEL")
        appendBulk(&log, key)
    }

    /// `FLUSHALL`.
    public static func appendFlush(_ log: inout [UInt8]) {
        appendHeader(&log, count: 1)
        appendBulk(&log, "FLUSHALL")
    }

    static func appendHeader(_ log: inout [UInt8], count: Int) {
        log.append(UInt8(ascii: "*"))
        log.append(contentsOf: String(count).utf8)
        log.append(contentsOf: [13, 10])
    }

    static func appendBulk(_ log: inout [UInt8], _ bytes: UnsafeRawBufferPointer) {
        log.append(UInt8(ascii: "$"))
        log.append(contentsOf: String(bytes.count).utf8)
        log.append(contentsOf: [13, 10])
        log.append(contentsOf: bytes)
        log.append(contentsOf: [13, 10])
    }

    static func appendBulk(_ log: inout [UInt8], _ text: String) {
        var text = text
        text.withUTF8 { appendBulk(&log, UnsafeRawBufferPointer($0)) }
    }
}
