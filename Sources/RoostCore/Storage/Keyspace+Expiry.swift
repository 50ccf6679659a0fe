extension Keyspace {
    /// Number of buckets a full pass of the active expiry cycle visits (for pacing it): the table's, or the larger
    /// array's while a resize is under way.
    public var bucketCount: Int { buckets.passCount }

    /// Examines about `bucketBudget` buckets from where the last call stopped and removes expired keys, then advances
    /// any resize of the table (or starts one) by a bounded amount proportional to the budget.
    ///
    /// Returns how many keys were removed, how many keys were examined, and whether the call ended a pass with
    /// nothing left to do: a pass is complete when the cursor comes back to 0; with no key carrying a time to live
    /// there is no pass, and the call reports `wrapped` only once no resize is under way, so that a caller looping
    /// until a quiet, wrapped call also drives the resize to its end.
    ///
    /// The cursor is a position in hash order, like ``scan(cursor:count:_:)``'s, so a pass walks the bucket array in
    /// order and still examines every key present for its whole duration when the table is resized in the middle of
    /// it.
    public mutating func expireStep(now: Int64, bucketBudget: Int) -> (expired: Int, examined: Int, wrapped: Bool) {
        let budget = ResizeBudget.perExpirySlice(max(bucketBudget, 1))
        guard volatileCount > 0 || volatileAggregateCount > 0 else {
            // Nothing left to expire, so no pass is under way: give back what the last pass freed.
            expireCursor = 0
            massExpiry = false
            let pending = maintainTable(budget)
            return (0, 0, !pending)
        }
        var expired = 0
        var examined = 0
        var visited = 0
        var volatileAggregates: [Int32] = []
        if expireCursor == 0 { expiryPass = (count, 0) }
        let layout = buckets.layout
        repeat {
            let step = layout.step(expireCursor) { head in
                var previous = SlotArena.none
                var index = head.pointee
                while index != SlotArena.none {
                    let next = slots[index].next
                    examined += 1
                    let record = record(index)
                    if record.isExpired(at: now) {
                        unlink(index, previous: previous, head: head, cause: .expired)
                        expired += 1
                    } else {
                        if record.hasVolatileElements { volatileAggregates.append(index) }
                        previous = index
                    }
                    index = next
                }
            }
            expireCursor = step.next
            visited += step.visited
        } while expireCursor != 0 && visited < bucketBudget
        // Aggregates whose elements expire are visited after the walk, which must not see chains change under it;
        // nothing here moves a slot (no table maintenance until the end).
        for index in volatileAggregates {
            let box = record(index).box
            let removed = box.removeExpiredElements(now: now)
            guard removed > 0 else { continue }
            statistics.expiredFields += removed
            if box.isEmpty {
                removeSlot(index, hash: slots[index].hash, cause: .expired, maintaining: false)
            } else {
                finishAggregateChange(at: index, keyHash: slots[index].hash, box, changed: true, now: now)
            }
        }
        statistics.expiredKeys += expired
        expiryPass.expired += expired
        if expireCursor == 0 { massExpiry = expiryPass.expired * 2 >= max(expiryPass.startCount, 1) }
        maintainTable(budget)
        return (expired, examined, expireCursor == 0)
    }
}
