/// The keyspace's buckets: chain heads (slot indices) in a power-of-two array, resized incrementally as Redis's
/// `dict` is (`_dictRehashStep`), and scanned in hash order.
///
/// ## Hash order
/// A table of 2^k buckets puts a key in the bucket given by the *top* k bits of its 32-bit hash (`hash >> shift`),
/// so bucket order is hash order whatever the size: doubling splits bucket b into the adjacent 2b and 2b + 1, halving
/// merges them back. A cursor is therefore a position in the 32-bit hash space, and "every key whose hash is below
/// the cursor has been visited" stays true across resizes; a pass is a sequential walk of the array (Redis gets the
/// same guarantee by indexing with the low bits and reversing the cursor's bits, which visits buckets in a
/// cache-hostile stride order).
///
/// ## Incremental rehashing
/// A resize does not rebuild the table in one go. It allocates the new array (the *target*) and moves the chains of
/// the old one (the *primary*) over a bucket at a time, in ``rehash(bucketVisits:moves:slots:)`` steps that the
/// keyspace runs from writes and from the active expiry cycle. Buckets of the primary below ``rehashIndex`` have been
/// drained, so a key lives in exactly one place, chosen by its hash alone:
///
/// ```
/// bucket = hash >> primary.shift
/// bucket < rehashIndex ?  target[hash >> target.shift]  :  primary[bucket]
/// ```
///
/// Outside a resize ``rehashIndex`` is 0, so the common path costs one comparison. Inserts follow the same rule, so
/// a resize always finishes after one walk over the primary, whatever happens meanwhile.
///
/// ## Scanning
/// ``Layout/step(_:_:)`` visits the bucket of the cursor's position and returns the position where the next bucket
/// starts; during a resize it visits the smaller table's bucket and the run of the larger table's buckets that cover
/// the same hash range. Every key is in one of those places, so a scan returns each key present for its whole
/// duration at least once, whatever resizes start or finish between calls (a shrink may make it return some twice).
struct BucketTable: ~Copyable {
    /// One array of chain heads. Copyable and unowned: ``BucketTable`` allocates and frees it.
    struct Heads {
        let base: UnsafeMutablePointer<Int32>
        let count: Int
        /// 32 − log2(count): a hash's bucket is `hash >> shift`.
        let shift: UInt32

        @inline(__always) func bucket(for hash: UInt32) -> Int { Int(hash >> shift) }

        @inline(__always) subscript(bucket: Int) -> Int32 {
            get { base[bucket] }
            nonmutating set { base[bucket] = newValue }
        }

        static func allocate(count: Int) -> Heads {
            precondition(
                count > 1 && count & (count - 1) == 0 && count <= 1 << 31, "bucket count must be a power of two")
            let base = SystemAllocator.allocate(count * MemoryLayout<Int32>.stride)
                .bindMemory(to: Int32.self, capacity: count)
            base.initialize(repeating: SlotArena.none, count: count)
            return Heads(base: base, count: count, shift: UInt32(32 - count.trailingZeroBitCount))
        }

        func free() { SystemAllocator.free(UnsafeMutableRawPointer(base)) }

        /// The bytes the process holds for the array.
        var footprint: Int {
            SystemAllocator.footprint(UnsafeMutableRawPointer(base), requested: count * MemoryLayout<Int32>.stride)
        }
    }

    /// Where every chain starts, as of now: a copy that stays valid until the next resize step.
    struct Layout {
        let primary: Heads
        /// The table being moved to, during a resize.
        let target: Heads?
        let rehashIndex: Int

        /// The head of the chain that holds (or would hold) a key with this hash.
        @inline(__always) func head(for hash: UInt32) -> UnsafeMutablePointer<Int32> {
            let bucket = primary.bucket(for: hash)
            if bucket < rehashIndex {
                let target = target.unsafelyUnwrapped
                return target.base + target.bucket(for: hash)
            }
            return primary.base + bucket
        }

        /// Visits the bucket that holds hash position `cursor` (the low 32 bits count; during a resize, the smaller
        /// table's bucket and the larger table's buckets over the same range) and returns the position where the
        /// next bucket starts (0 when the pass is complete) and how many buckets of the larger table were visited (a
        /// full pass visits each once).
        @inline(__always) func step(
            _ cursor: UInt64,
            _ visit: (UnsafeMutablePointer<Int32>) -> Void
        ) -> (next: UInt64, visited: Int) {
            let position = UInt32(truncatingIfNeeded: cursor)
            guard let target else {
                let bucket = primary.bucket(for: position)
                visit(primary.base + bucket)
                return (Layout.position(after: bucket, shift: primary.shift), 1)
            }
            let (small, large) = primary.count <= target.count ? (primary, target) : (target, primary)
            let bucket = small.bucket(for: position)
            visit(small.base + bucket)
            let ratio = large.count / small.count
            for expansion in bucket * ratio..<(bucket + 1) * ratio { visit(large.base + expansion) }
            return (Layout.position(after: bucket, shift: small.shift), ratio)
        }

        /// The first hash position past `bucket`, or 0 past the last one.
        @inline(__always) static func position(after bucket: Int, shift: UInt32) -> UInt64 {
            let next = UInt64(bucket + 1) << UInt64(shift)
            return next > UInt64(UInt32.max) ? 0 : next
        }
    }

    private(set) var primary: Heads
    private(set) var target: Heads?
    /// Buckets of the primary below this index have been moved to the target (0 outside a resize).
    private(set) var rehashIndex = 0

    init(count: Int) { primary = Heads.allocate(count: count) }

    deinit {
        primary.free()
        target?.free()
    }

    var layout: Layout { Layout(primary: primary, target: target, rehashIndex: rehashIndex) }

    /// The head of the chain that holds (or would hold) a key with this hash (see ``Layout/head(for:)``).
    @inline(__always) func head(for hash: UInt32) -> UnsafeMutablePointer<Int32> {
        let bucket = primary.bucket(for: hash)
        if bucket < rehashIndex {
            let target = target.unsafelyUnwrapped
            return target.base + target.bucket(for: hash)
        }
        return primary.base + bucket
    }

    /// Whether a resize is under way.
    var isResizing: Bool { target != nil }

    /// The size the table has, or is being resized to.
    var settledCount: Int { target?.count ?? primary.count }

    /// Buckets a full scan pass visits: the larger table's during a resize.
    var passCount: Int { max(primary.count, target?.count ?? 0) }

    /// The bytes the process holds for both arrays.
    var footprint: Int { primary.footprint + (target?.footprint ?? 0) }

    /// Every bucket of both arrays, for uniform sampling: `0..<primary.count` then the target's.
    var positionCount: Int { primary.count + (target?.count ?? 0) }

    /// The head of the chain at sampling position `position` (see ``positionCount``).
    func head(atPosition position: Int) -> UnsafeMutablePointer<Int32> {
        position < primary.count ? primary.base + position : target.unsafelyUnwrapped.base + (position - primary.count)
    }

    /// Starts moving every key into a table of `count` buckets. Only one resize runs at a time.
    mutating func beginResize(to count: Int) {
        precondition(target == nil, "a resize to \(settledCount) buckets is already under way")
        target = Heads.allocate(count: count)
        rehashIndex = 0
    }

    /// Moves whole chains from the primary to the target, visiting at most `bucketVisits` buckets and stopping once
    /// `moves` slots were moved (a chain is never split). Returns the bytes freed when this step finished the resize,
    /// nil when it is still under way (or none was).
    mutating func rehash(bucketVisits: Int, moves: Int, slots: UnsafeMutablePointer<SlotArena.Slot>) -> Int? {
        guard let target else { return nil }
        var visits = bucketVisits
        var moves = moves
        let primary = primary
        var bucket = rehashIndex
        while bucket < primary.count && visits > 0 && moves > 0 {
            var index = primary[bucket]
            while index != SlotArena.none {
                let next = slots[Int(index)].next
                let destination = target.bucket(for: slots[Int(index)].hash)
                slots[Int(index)].next = target[destination]
                target[destination] = index
                index = next
                moves -= 1
            }
            primary[bucket] = SlotArena.none
            bucket += 1
            visits -= 1
        }
        rehashIndex = bucket
        guard bucket == primary.count else { return nil }
        let freed = primary.footprint
        primary.free()
        self.primary = target
        self.target = nil
        rehashIndex = 0
        return freed
    }

    /// Drops both arrays for an empty one of `count` buckets (the caller has emptied every chain). Returns the bytes
    /// freed.
    mutating func reset(count: Int) -> Int {
        let freed = footprint
        primary.free()
        target?.free()
        target = nil
        rehashIndex = 0
        primary = Heads.allocate(count: count)
        return freed - primary.footprint
    }
}
