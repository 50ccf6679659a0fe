extension Keyspace {
    /// Number of buckets in the table (for pacing the active expiry cycle).
    public var bucketCount: Int { buckets.count }

    /// Examines up to `bucketBudget` buckets from where the last call stopped and removes expired keys.
    /// Returns how many keys were removed, how many keys were examined, and whether a full pass completed.
    public mutating func expireStep(now: Int64, bucketBudget: Int) -> (expired: Int, examined: Int, wrapped: Bool) {
        guard volatileCount > 0 else {
            // Nothing left to expire, so no pass is under way: give back what the last pass freed.
            expireCursor = 0
            shrinkIfSparse()
            return (0, 0, true)
        }
        var expired = 0
        var examined = 0
        var wrapped = false
        var visited = 0
        while visited < bucketBudget {
            if expireCursor >= buckets.count {
                expireCursor = 0
                wrapped = true
                break
            }
            let bucket = expireCursor
            var previous = SlotArena.none
            var index = buckets[bucket]
            while index != SlotArena.none {
                let next = slots[index].next
                examined += 1
                if record(index).isExpired(at: now) {
                    unlink(index, previous: previous, bucket: bucket)
                    expired += 1
                } else {
                    previous = index
                }
                index = next
            }
            expireCursor += 1
            visited += 1
        }
        statistics.expiredKeys += expired
        // Shrink only between passes: resizing mid-pass would move keys behind the cursor.
        if wrapped { shrinkIfSparse() }
        return (expired, examined, wrapped)
    }
}
