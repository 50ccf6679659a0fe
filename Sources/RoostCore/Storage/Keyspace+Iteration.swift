extension Keyspace {
    /// One step of a `SCAN`: visits buckets from `cursor` until at least `count` keys were collected (or ten times
    /// that many buckets were visited), calling `visit` with each key and entry (expired keys included: callers
    /// filter). Returns the next cursor; 0 means the scan is complete.
    public func scan(cursor: UInt64, count: Int, _ visit: ([UInt8], Entry) -> Void) -> UInt64 {
        scanStep(cursor: cursor, count: count) { record in visit(Array(record.key), record.entry) }
    }

    /// One step of a scan, like ``scan(cursor:count:_:)``, that hands out each string entry's bytes in place with its
    /// expiry and memcached metadata (nil for none), without copying. Aggregates are skipped (a replication snapshot
    /// uses ``appendStates(cursor:count:now:to:)``, which carries every type).
    public func scanRecords(
        cursor: UInt64, count: Int,
        _ visit: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, ItemMetadata?) ->
            Void
    ) -> UInt64 {
        scanStep(cursor: cursor, count: count) { record in
            if !record.isAggregate { visit(record.key, record.value, record.expireAt, record.itemMetadata) }
        }
    }

    /// The walk both scans share: bucket positions in hash order from `cursor`.
    func scanStep(cursor: UInt64, count: Int, _ visit: (EntryRecord) -> Void) -> UInt64 {
        var cursor = cursor
        let layout = buckets.layout
        var collected = 0
        var budget = max(count, 1) * 10
        repeat {
            // One cursor position: a bucket, or during a resize a bucket of the smaller array and its expansions in
            // the larger (see BucketTable).
            let step = layout.step(cursor) { head in
                var index = head.pointee
                while index != SlotArena.none {
                    visit(record(index))
                    collected += 1
                    index = slots[index].next
                }
            }
            cursor = step.next
            budget -= step.visited
        } while cursor != 0 && collected < count && budget > 0
        return cursor
    }

    /// Calls `visit` with every live key (expired keys are skipped, not reclaimed).
    public func forEach(now: Int64, _ visit: ([UInt8], Entry) -> Void) {
        for index in 0..<Int32(slots.highWater) where slots[index].record != nil {
            let record = record(index)
            if !record.isExpired(at: now) { visit(Array(record.key), record.entry) }
        }
    }

    /// A uniformly chosen bucket's key, expiring dead keys met on the way; nil when empty.
    public mutating func randomKey(now: Int64, using generator: inout some RandomNumberGenerator) -> [UInt8]? {
        // Expired keys are reclaimed as they are met, so this terminates: each failed draw either finds an empty
        // bucket (bounded retries, then a linear fallback) or removes a key.
        var attempts = 0
        while count > 0 {
            attempts += 1
            // During a resize both arrays are sampled (drained buckets of the old one are empty, so they are skipped).
            let positions = buckets.positionCount
            let head: UnsafeMutablePointer<Int32>
            if attempts > 100 {
                guard
                    let first = (0..<positions).first(where: {
                        buckets.head(atPosition: $0).pointee != SlotArena.none
                    })
                else {
                    return nil
                }
                head = buckets.head(atPosition: first)
            } else {
                head = buckets.head(atPosition: Int.random(in: 0..<positions, using: &generator))
            }
            var length = 0
            var index = head.pointee
            while index != SlotArena.none {
                length += 1
                index = slots[index].next
            }
            guard length > 0 else { continue }
            var pick = head.pointee
            for _ in 0..<Int.random(in: 0..<length, using: &generator) { pick = slots[pick].next }
            let record = record(pick)
            if record.isExpired(at: now) {
                // A replica keeps expired keys until its primary deletes them: give up after a bounded search.
                if retainsExpired {
                    if attempts > 200 { return nil }
                    continue
                }
                _ = liveSlot(record.key, hash: slots[pick].hash, now: now)
                continue
            }
            return Array(record.key)
        }
        return nil
    }
}

extension Keyspace {
    /// Convenience for keys held as arrays (tests, embedded use).
    public mutating func read(_ key: [UInt8], now: Int64) -> Entry? {
        key.withUnsafeBytes { read($0, now: now) }
    }

    /// Convenience for keys held as arrays (tests, embedded use).
    public mutating func peek(_ key: [UInt8], now: Int64) -> Entry? {
        key.withUnsafeBytes { peek($0, now: now) }
    }

    /// Convenience for keys held as arrays (tests, embedded use).
    public mutating func set(_ key: [UInt8], _ entry: Entry, now: Int64) {
        key.withUnsafeBytes { set($0, entry, now: now) }
    }

    /// Convenience for keys held as arrays (tests, embedded use).
    @discardableResult
    public mutating func remove(_ key: [UInt8], now: Int64) -> Bool {
        key.withUnsafeBytes { remove($0, now: now) }
    }

    /// Convenience for keys held as arrays (tests, embedded use).
    public mutating func update<Result>(
        _ key: [UInt8],
        now: Int64,
        _ body: (inout Entry?) -> Result
    ) -> Result {
        key.withUnsafeBytes { update($0, now: now, body) }
    }
}
