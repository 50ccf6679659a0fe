extension Keyspace {
    /// How much resizing work one call of ``maintainTable(_:)`` may do.
    struct ResizeBudget {
        /// Buckets of the old array whose chains may be moved (an empty bucket costs a 4-byte read).
        var bucketVisits: Int
        /// Slots the arena compaction may examine (16 bytes each, read in order).
        var slotVisits: Int
        /// Keys that may be moved, by the rehash and by the compaction each (a move touches a slot, a chain and, for
        /// the compaction, the eviction policy's node).
        var moves: Int

        /// After each insert, delete or lazy expiry. A growing table moves up to 8 keys per insert, so a resize of N
        /// keys is over within N / 8 inserts, long before the table doubles again; a shrinking one, being sparse,
        /// covers up to 128 buckets per delete. Either is a few hundred nanoseconds.
        static let perWrite = ResizeBudget(bucketVisits: 128, slotVisits: 64, moves: 8)

        /// With an active-expiry slice of `buckets` buckets: enough that a resize of the whole table finishes within
        /// a few dozen slices (the server's cron runs hundreds per second when there is work), small enough that a
        /// slice stays in the tens of microseconds.
        static func perExpirySlice(_ buckets: Int) -> ResizeBudget {
            ResizeBudget(bucketVisits: buckets * 32, slotVisits: buckets * 16, moves: buckets)
        }
    }

    /// Whether a bucket resize or a slot compaction is under way.
    public var isResizing: Bool { buckets.isResizing || slots.compaction != .idle }

    /// Advances the bucket resize and the slot compaction by at most `budget`, starting either when the table is
    /// too full or too sparse, and asks for freed pages to be returned after large shrinks. Returns whether work
    /// remains.
    @discardableResult
    mutating func maintainTable(_ budget: ResizeBudget) -> Bool {
        guard count > 0 else {
            releaseEmptyTable()
            return false
        }
        var shrunk = false
        if !buckets.isResizing, let wanted = wantedBucketCount() { buckets.beginResize(to: wanted) }
        if buckets.isResizing {
            let slotBase = slots.base.unsafelyUnwrapped
            if let freed = buckets.rehash(bucketVisits: budget.bucketVisits, moves: budget.moves, slots: slotBase),
                freed > buckets.footprint
            {
                // A shrink finished: the larger array is gone.
                freedSinceTrim += freed
                shrunk = true
            }
        }
        if slots.compaction == .idle && expireCursor == 0 && !massExpiry && slots.highWater > SlotArena.minimumCapacity
            && count * 4 < slots.highWater
        {
            slots.beginCompaction(target: max(SlotArena.minimumCapacity, count + count / 4))
        }
        if slots.compaction != .idle {
            let step = compactSlots(slotVisits: budget.slotVisits, moves: budget.moves)
            freedSinceTrim += step.freedBytes
            shrunk = shrunk || step.finished
        }
        trimIfWorthIt(shrunk: shrunk)
        return isResizing
    }

    /// The bucket count to resize to, if the load factor left its band: above 1 key per bucket the table doubles;
    /// below 1/8 it shrinks to the smallest power of two of at least twice the keys.
    ///
    /// Shrinks start only between active-expiry passes: in the middle of a mass expiry the keys the cursor has not
    /// reached are dense, and packing them into fewer buckets would make every later slice of the pass heavier. The
    /// slot compaction also waits while passes still remove half of the keys (``massExpiry``): it would move slots
    /// that are about to be freed, and the next compaction would soon be due.
    ///
    private func wantedBucketCount() -> Int? {
        let current = buckets.primary.count
        if count > current {
            var target = current * 2
            while target < count { target *= 2 }
            return target
        }
        guard expireCursor == 0 && current > Keyspace.minimumBuckets && count * 8 < current else { return nil }
        var target = current
        while target > Keyspace.minimumBuckets && count * 2 < target { target /= 2 }
        return target
    }

    /// One compaction step: moves live slots down, relinking each one's chain and telling the eviction policy.
    private mutating func compactSlots(slotVisits: Int, moves: Int) -> SlotArena.StepResult {
        let layout = buckets.layout
        var moved: [SlotMove] = []
        let step = slots.compact(slotVisits: slotVisits, moves: moves) { from, to, slots in
            // The slot is at `to` with its chain link intact; repoint its predecessor (or the bucket) from `from`.
            let head = layout.head(for: slots[Int(to)].hash)
            if head.pointee == from {
                head.pointee = to
            } else {
                var cursor = Int(head.pointee)
                while slots[cursor].next != from { cursor = Int(slots[cursor].next) }
                slots[cursor].next = to
            }
            moved.append(SlotMove(from: from, to: to))
        }
        for move in moved { eviction.moved(from: move.from, to: move.to) }
        if tracksSlotMoves { slotMoves.append(contentsOf: moved) }
        if step.finished { shrinkEviction(toSlots: slots.highWater) }
        return step
    }

    /// Lets the eviction policy drop its metadata past `slotCount`, counting what it gives back towards the next trim.
    private mutating func shrinkEviction(toSlots slotCount: Int) {
        let before = eviction.footprint
        eviction.shrink(toSlots: slotCount)
        freedSinceTrim += max(0, before - eviction.footprint)
    }

    /// With no key left there is nothing to move: both arrays go back to their minimum at once.
    private mutating func releaseEmptyTable() {
        var freed = 0
        if buckets.isResizing || buckets.primary.count != Keyspace.minimumBuckets {
            freed += buckets.reset(count: Keyspace.minimumBuckets)
        }
        if slots.highWater > 0 || slots.capacity != SlotArena.minimumCapacity || slots.compaction != .idle {
            freed += slots.removeAll()
            shrinkEviction(toSlots: 0)
        }
        freedSinceTrim += freed
        trimIfWorthIt(shrunk: freed > 0)
    }

    /// Returns free pages when a shrink finished, or when a good share of the memory was freed since the last trim
    /// (geometric, like the shrinks), but never during a mass expiry: then the freed blocks are scattered between live
    /// ones, and `malloc_trim` spent 30 ms on them (1M keys, a quarter expired); once the expiry is over they have
    /// coalesced and the one trim takes a fifth of that.
    private mutating func trimIfWorthIt(shrunk: Bool) {
        trimDue = trimDue || shrunk
        guard freedSinceTrim >= Keyspace.trimThreshold && expireCursor == 0 && !massExpiry else { return }
        if trimDue || freedSinceTrim >= estimatedMemory {
            trim()
            freedSinceTrim = 0
            trimDue = false
        }
    }
}
