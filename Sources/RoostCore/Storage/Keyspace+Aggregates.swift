extension Keyspace {
    // MARK: Hashes

    /// Gives `body` the hash at `key` to read and change in place (nil when the key is absent or expired): setting
    /// it to a hash creates the key, leaving it empty or nil deletes the key. Throws `wrongType` without calling
    /// `body` when the key holds another type.
    ///
    /// Fields whose time to live has run out are removed first (lazy field expiry). With `countingStatistics` the
    /// lookup counts a keyspace hit or miss, as a read command's does. When the hash changed (``HashValue/changeCount``)
    /// its new size is accounted, the eviction policy is told, and the change is recorded for replication and the
    /// observer; an unchanged hash is only touched. `body` must not keep the value: it is moved back into the
    /// keyspace afterwards.
    public mutating func withHash<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        countingStatistics: Bool = false,
        wrongType: @autoclosure () -> Failure,
        _ body: (inout HashValue?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let keyHash = Keyspace.hash(key)
        guard let index = liveSlot(key, hash: keyHash, now: now, writing: true) else {
            if countingStatistics { statistics.keyspaceMisses += 1 }
            var value: HashValue? = nil
            defer {
                if var created = value, !created.isEmpty {
                    created.limits = hashLimits
                    insertAggregate(key, hash: keyHash, HashBox(created), expireAt: Entry.noExpiry, now: now)
                }
            }
            return try body(&value)
        }
        if countingStatistics { statistics.keyspaceHits += 1 }
        let record = record(index)
        guard record.isAggregate, let box = record.box as? HashBox else { throw wrongType() }
        // Move the value out so that `body` changes the only copy (no copy-on-write).
        var value: HashValue? = box.hash
        box.hash = HashValue()
        let changesBefore = value!.changeCount
        value!.limits = hashLimits
        statistics.expiredFields += value!.removeExpired(now: now)
        if value!.isEmpty { value = nil }  // every field expired: the key is gone (removed below)
        defer {
            box.hash = value ?? HashValue()
            finishAggregateChange(
                at: index, keyHash: keyHash, box, changed: box.hash.changeCount != changesBefore, now: now)
        }
        return try body(&value)
    }

    /// After an in-place change of the aggregate at `index`: removes it when empty, else accounts its new size,
    /// updates the volatile-elements mark and records the change.
    mutating func finishAggregateChange(
        at index: Int32, keyHash: UInt32, _ box: AggregateBox, changed: Bool, now: Int64
    ) {
        let record = record(index)
        if box.isEmpty {
            removeSlot(index, hash: keyHash)
            return
        }
        record.lastAccess = Keyspace.accessClock(now)
        guard changed else {
            eviction.accessed(index)
            return
        }
        let size = box.currentSize
        let footprintChange = size.footprint - box.accountedFootprint
        recordBytes += footprintChange
        payloadBytes += size.payload - box.accountedPayload
        box.accountedFootprint = size.footprint
        box.accountedPayload = size.payload
        let volatileNow = box.hasVolatileElements
        if volatileNow != record.hasVolatileElements {
            record.hasVolatileElements = volatileNow
            volatileAggregateCount += volatileNow ? 1 : -1
        }
        if recordsChanges { ChangeLog.appendState(&changeLog, record: record) }
        observer?.keyspace(changed: record.key, cause: .write)
        if footprintChange != 0 { eviction.resized(index, to: record.footprint) }
        eviction.accessed(index)
    }

    /// Stores a hash given whole under `key` (the replication stream's state record), replacing any value; an empty
    /// hash deletes the key.
    public mutating func storeHash(
        _ key: UnsafeRawBufferPointer, _ value: HashValue, expireAt: Int64, now: Int64
    ) {
        var value = value
        value.limits = hashLimits
        set(key, Entry(value: .hash(value), expireAt: expireAt), now: now)
    }

    // MARK: Records

    /// Inserts an aggregate under an absent `key`.
    mutating func insertAggregate(
        _ key: UnsafeRawBufferPointer, hash: UInt32, _ box: AggregateBox, expireAt: Int64, now: Int64
    ) {
        let size = box.currentSize
        box.accountedFootprint = size.footprint
        box.accountedPayload = size.payload
        let record = EntryRecord.makeAggregate(
            key: key, box: box, expireAt: expireAt, lastAccess: Keyspace.accessClock(now))
        let footprint = record.footprint
        let index = slots.take()
        let head = buckets.head(for: hash)
        slots[index] = SlotArena.Slot(record: record.base, hash: hash, next: head.pointee)
        head.pointee = index
        count += 1
        payloadBytes += key.count + size.payload
        recordBytes += footprint
        if expireAt != Entry.noExpiry { volatileCount += 1 }
        if record.hasVolatileElements { volatileAggregateCount += 1 }
        if recordsChanges { ChangeLog.appendState(&changeLog, record: record) }
        observer?.keyspace(changed: key, cause: .write)
        eviction.inserted(index, hash: UInt64(hash), size: footprint)
        if expireAt != Entry.noExpiry { eviction.expiryChanged(index, at: expireAt) }
        maintainTable(resizeBudgetPerWrite)
    }

    /// Replaces whatever the slot at `index` holds with an aggregate.
    mutating func replaceWithAggregate(at index: Int32, _ box: AggregateBox, expireAt: Int64, now: Int64) {
        let old = record(index)
        let size = box.currentSize
        box.accountedFootprint = size.footprint
        box.accountedPayload = size.payload
        let new = EntryRecord.makeAggregate(
            key: old.key, box: box, expireAt: expireAt, lastAccess: Keyspace.accessClock(now))
        let footprintChange = new.footprint - old.footprint
        payloadBytes += size.payload - old.valuePayloadCount
        volatileCount += (expireAt != Entry.noExpiry ? 1 : 0) - (old.hasExpiry ? 1 : 0)
        volatileAggregateCount += (new.hasVolatileElements ? 1 : 0) - (old.hasVolatileElements ? 1 : 0)
        let hadExpiry = old.hasExpiry
        old.free()
        slots[index].record = new.base
        recordBytes += footprintChange
        if recordsChanges { ChangeLog.appendState(&changeLog, record: new) }
        observer?.keyspace(changed: new.key, cause: .write)
        eviction.resized(index, to: new.footprint)
        if hadExpiry || expireAt != Entry.noExpiry {
            eviction.expiryChanged(index, at: expireAt == Entry.noExpiry ? nil : expireAt)
        }
        eviction.accessed(index)
    }

    /// Changes only the expiry of the aggregate at `index` (`EXPIRE`, `PERSIST` on a hash).
    mutating func replaceAggregateExpiry(at index: Int32, _ expireAt: Int64, now: Int64) {
        let old = record(index)
        let hadExpiry = old.hasExpiry
        let (new, footprintChange) = old.replacingAggregateExpiry(expireAt)
        slots[index].record = new.base
        new.lastAccess = Keyspace.accessClock(now)
        recordBytes += footprintChange
        volatileCount += (expireAt != Entry.noExpiry ? 1 : 0) - (hadExpiry ? 1 : 0)
        if recordsChanges { ChangeLog.appendState(&changeLog, record: new) }
        observer?.keyspace(changed: new.key, cause: .write)
        if footprintChange != 0 { eviction.resized(index, to: new.footprint) }
        if hadExpiry || expireAt != Entry.noExpiry {
            eviction.expiryChanged(index, at: expireAt == Entry.noExpiry ? nil : expireAt)
        }
        eviction.accessed(index)
    }

    // MARK: Replication

    /// Appends, for each live key in one scan step from `cursor` (see ``scan(cursor:count:_:)``), the record that
    /// recreates its whole state (``ChangeLog/appendState(_:record:)``); returns the next cursor and how many keys
    /// were written. What a replication snapshot streams.
    public func appendStates(cursor: UInt64, count: Int, now: Int64, to log: inout [UInt8]) -> (next: UInt64, keys: Int)
    {
        var keys = 0
        let next = scanStep(cursor: cursor, count: count) { record in
            guard !record.isExpired(at: now) else { return }
            keys += 1
            ChangeLog.appendState(&log, record: record)
        }
        return (next, keys)
    }
}

extension ChangeLog {
    /// The record that recreates `record`'s whole state: ``appendSet(_:key:value:expireAt:metadata:)`` for a string,
    /// ``appendHash(_:key:_:expireAt:)`` for a hash.
    static func appendState(_ log: inout [UInt8], record: EntryRecord) {
        guard record.isAggregate else {
            appendSet(
                &log, key: record.key, value: record.value, expireAt: record.expireAt, metadata: record.itemMetadata)
            return
        }
        if let box = record.box as? HashBox {
            appendHash(&log, key: record.key, box.hash, expireAt: record.expireAt)
        } else if let box = record.box as? ListBox {
            appendList(&log, key: record.key, box.list, expireAt: record.expireAt)
        } else if let box = record.box as? SetBox {
            appendSetState(&log, key: record.key, box.set, expireAt: record.expireAt)
        } else if let box = record.box as? SortedSetBox {
            appendSortedSetState(&log, key: record.key, box.sortedSet, expireAt: record.expireAt)
        }
    }

    /// Roost's internal `HASHSTATE key expireAt field value fieldExpireAt [field value fieldExpireAt …]` (expiries
    /// absolute Unix milliseconds, 0 for none): a hash's whole state, which replaces whatever the key holds. Only a
    /// replication link may send it.
    public static func appendHash(_ log: inout [UInt8], key: UnsafeRawBufferPointer, _ hash: HashValue, expireAt: Int64)
    {
        appendHeader(&log, count: 3 + 3 * hash.count)
        appendBulk(&log, "HASHSTATE")
        appendBulk(&log, key)
        appendBulk(&log, String(expireAt == Entry.noExpiry ? 0 : expireAt))
        for field in hash.fields {
            field.withName { appendBulk(&log, $0) }
            field.withValue { appendBulk(&log, $0) }
            appendBulk(&log, String(field.expireAt == Entry.noExpiry ? 0 : field.expireAt))
        }
    }
}
