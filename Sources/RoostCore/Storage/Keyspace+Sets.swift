extension Keyspace {
    // MARK: Sets

    /// Gives `body` the set at `key` to read and change in place (nil when the key is absent or expired): setting it
    /// to a set creates the key, leaving it empty or nil deletes the key. Throws `wrongType` without calling `body`
    /// when the key holds another type. Accounting, eviction, replication and the observer as
    /// ``withHash(_:now:countingStatistics:wrongType:_:)``.
    public mutating func withSet<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        countingStatistics: Bool = false,
        wrongType: @autoclosure () -> Failure,
        _ body: (inout SetValue?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let keyHash = Keyspace.hash(key)
        guard let index = liveSlot(key, hash: keyHash, now: now, writing: true) else {
            if countingStatistics { statistics.keyspaceMisses += 1 }
            var value: SetValue? = nil
            defer {
                if var created = value, !created.isEmpty {
                    created.limits = setLimits
                    insertAggregate(key, hash: keyHash, SetBox(created), expireAt: Entry.noExpiry, now: now)
                }
            }
            return try body(&value)
        }
        if countingStatistics { statistics.keyspaceHits += 1 }
        let record = record(index)
        guard record.isAggregate, let box = record.box as? SetBox else { throw wrongType() }
        // Move the value out so that `body` changes the only copy (no copy-on-write).
        var value: SetValue? = box.set
        box.set = SetValue()
        let changesBefore = value!.changeCount
        value!.limits = setLimits
        defer {
            box.set = value ?? SetValue()
            finishAggregateChange(
                at: index, keyHash: keyHash, box, changed: box.set.changeCount != changesBefore, now: now)
        }
        return try body(&value)
    }

    /// The set at `key` as a copy-on-write snapshot (nil when absent); throws `wrongType` for another type. Counts a
    /// keyspace hit or miss with `countingStatistics` and touches the key.
    public mutating func readSet<Failure: Error>(
        _ key: UnsafeRawBufferPointer, now: Int64, countingStatistics: Bool = false,
        wrongType: @autoclosure () -> Failure
    ) throws(Failure) -> SetValue? {
        try withSet(key, now: now, countingStatistics: countingStatistics, wrongType: wrongType()) {
            (set: inout SetValue?) throws(Failure) -> SetValue? in set
        }
    }

    /// Stores a set given whole under `key` (a `…STORE` result or the replication stream's state record), replacing
    /// any value of any type; an empty set deletes the key. The encoding follows the content, as Redis's `…STORE`
    /// commands build theirs.
    public mutating func storeSet(_ key: UnsafeRawBufferPointer, _ value: SetValue, expireAt: Int64, now: Int64) {
        var rebuilt = SetValue(limits: setLimits)
        for position in 0..<value.count { value.withMember(at: position) { _ = rebuilt.insert($0) } }
        set(key, Entry(value: .set(rebuilt), expireAt: expireAt), now: now)
    }

    /// The box holding an aggregate `value` with the keyspace's encoding limits, or nil for an empty one (never
    /// stored).
    static func makeBox(_ value: Value, limits keyspace: borrowing Keyspace) -> AggregateBox? {
        switch value {
        case .string: return nil
        case .hash(var hash):
            guard !hash.isEmpty else { return nil }
            hash.limits = keyspace.hashLimits
            return HashBox(hash)
        case .list(let list):
            return list.isEmpty ? nil : ListBox(list)
        case .set(var set):
            guard !set.isEmpty else { return nil }
            set.limits = keyspace.setLimits
            return SetBox(set)
        case .sortedSet(var sortedSet):
            guard !sortedSet.isEmpty else { return nil }
            sortedSet.limits = keyspace.sortedSetLimits
            return SortedSetBox(sortedSet)
        }
    }
}

extension ChangeLog {
    /// Roost's internal `SETSTATE key expireAt member [member …]` (expiry absolute Unix milliseconds, 0 for none): a
    /// set's whole state, which replaces whatever the key holds. Only a replication link may send it.
    public static func appendSetState(
        _ log: inout [UInt8], key: UnsafeRawBufferPointer, _ set: SetValue, expireAt: Int64
    ) {
        appendHeader(&log, count: 3 + set.count)
        appendBulk(&log, "SETSTATE")
        appendBulk(&log, key)
        appendBulk(&log, String(expireAt == Entry.noExpiry ? 0 : expireAt))
        for position in 0..<set.count { set.withMember(at: position) { appendBulk(&log, $0) } }
    }
}
