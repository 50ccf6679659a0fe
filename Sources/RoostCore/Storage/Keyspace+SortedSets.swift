extension Keyspace {
    // MARK: Sorted sets

    /// Gives `body` the sorted set at `key` to read and change in place (nil when absent), as
    /// ``withSet(_:now:countingStatistics:wrongType:_:)`` does for sets: creating, deleting when emptied, `wrongType`
    /// for another type, accounting, eviction, replication and the observer.
    public mutating func withSortedSet<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        countingStatistics: Bool = false,
        wrongType: @autoclosure () -> Failure,
        _ body: (inout SortedSetValue?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let keyHash = Keyspace.hash(key)
        guard let index = liveSlot(key, hash: keyHash, now: now, writing: true) else {
            if countingStatistics { statistics.keyspaceMisses += 1 }
            var value: SortedSetValue? = nil
            defer {
                if var created = value, !created.isEmpty {
                    created.limits = sortedSetLimits
                    insertAggregate(key, hash: keyHash, SortedSetBox(created), expireAt: Entry.noExpiry, now: now)
                }
            }
            return try body(&value)
        }
        if countingStatistics { statistics.keyspaceHits += 1 }
        let record = record(index)
        guard record.isAggregate, let box = record.box as? SortedSetBox else { throw wrongType() }
        var value: SortedSetValue? = box.sortedSet
        box.sortedSet = SortedSetValue()
        let changesBefore = value!.changeCount
        value!.limits = sortedSetLimits
        defer {
            box.sortedSet = value ?? SortedSetValue()
            finishAggregateChange(
                at: index, keyHash: keyHash, box, changed: box.sortedSet.changeCount != changesBefore, now: now)
        }
        return try body(&value)
    }

    /// Stores a sorted set given whole under `key` (the replication stream's state record), replacing any value; an
    /// empty one deletes the key.
    public mutating func storeSortedSet(
        _ key: UnsafeRawBufferPointer, _ value: SortedSetValue, expireAt: Int64, now: Int64
    ) {
        set(key, Entry(value: .sortedSet(value), expireAt: expireAt), now: now)
    }
}

extension ChangeLog {
    /// Roost's internal `ZSETSTATE key expireAt member score [member score …]` (expiry absolute Unix milliseconds, 0
    /// for none; scores as exact hexadecimal bit patterns): a sorted set's whole state, which replaces whatever the
    /// key holds. Only a replication link may send it.
    public static func appendSortedSetState(
        _ log: inout [UInt8], key: UnsafeRawBufferPointer, _ sortedSet: SortedSetValue, expireAt: Int64
    ) {
        appendHeader(&log, count: 3 + 2 * sortedSet.count)
        appendBulk(&log, "ZSETSTATE")
        appendBulk(&log, key)
        appendBulk(&log, String(expireAt == Entry.noExpiry ? 0 : expireAt))
        for rank in 0..<sortedSet.count {
            let element = sortedSet.element(at: rank)
            element.member.withUnsafeBytes { appendBulk(&log, $0) }
            appendBulk(&log, String(element.score.bitPattern, radix: 16))
        }
    }
}
