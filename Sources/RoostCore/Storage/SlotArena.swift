/// The keyspace's slots: one 16-byte record per key, in one malloc block, addressed by a stable `Int32` index.
///
/// A slot holds the pointer to the key's ``EntryRecord``, 32 bits of the key's hash and the index of the next slot
/// in its bucket chain (or in the free list). An index stays valid while its key lives, so per-key metadata kept
/// elsewhere (an eviction policy's) can be an array indexed by slot. Only ``compact(_:)`` moves slots, and it
/// reports each move.
///
/// ```
/// Slot (16 bytes): record pointer 8 (nil = free) · hash 4 (low 32 bits: the bucket is hash & mask) · next 4
/// ```
struct SlotArena: ~Copyable {
    struct Slot {
        /// The entry's block; nil while the slot is free.
        var record: UnsafeMutableRawPointer?
        /// The low 32 bits of the key's hash: the bucket (tables stay below 2^31 slots) and a cheap filter on lookups.
        var hash: UInt32
        /// The next slot in the bucket chain or the free list, or ``SlotArena/none``.
        var next: Int32
    }

    static let none: Int32 = -1
    /// The arena never shrinks below this many slots (1 KiB), so that a keyspace going between empty and a few keys
    /// does not allocate and free the block each time.
    static let minimumCapacity = 64

    private(set) var base: UnsafeMutablePointer<Slot>?
    /// Slots the block has room for.
    private(set) var capacity = 0
    /// Slots handed out at least once since the last compaction: `0..<highWater` are live or on the free list.
    private(set) var highWater = 0
    private var freeList = SlotArena.none

    init() { resize(SlotArena.minimumCapacity) }

    deinit { SystemAllocator.free(base) }

    /// The bytes the process holds for the block.
    var footprint: Int {
        guard let base else { return 0 }
        return SystemAllocator.footprint(base, requested: capacity * MemoryLayout<Slot>.stride)
    }

    @inline(__always) subscript(index: Int32) -> Slot {
        get { base.unsafelyUnwrapped[Int(index)] }
        nonmutating set { base.unsafelyUnwrapped[Int(index)] = newValue }
    }

    /// A free slot's index, growing the block by a quarter when full (glibc moves large blocks with `mremap`, so
    /// growing copies nothing, and untouched capacity is never resident).
    mutating func take() -> Int32 {
        if freeList != SlotArena.none {
            let index = freeList
            freeList = self[index].next
            return index
        }
        if highWater == capacity { resize(capacity + capacity / 4) }
        precondition(highWater < Int(Int32.max), "keyspace slot arena is full")
        highWater += 1
        return Int32(highWater - 1)
    }

    /// Returns a slot to the free list.
    mutating func release(_ index: Int32) {
        self[index] = Slot(record: nil, hash: 0, next: freeList)
        freeList = index
    }

    /// Forgets every slot and shrinks the block to the minimum (the caller has freed the records).
    mutating func removeAll() {
        highWater = 0
        freeList = SlotArena.none
        resize(SlotArena.minimumCapacity)
    }

    /// Moves the live slots into `0..<liveCount` (filling holes from the top down), calling `moved(from, to)` for
    /// each move before the next one so that the caller can relink chains; then frees the unused tail of the block.
    mutating func compact(liveCount: Int, _ moved: (_ from: Int32, _ to: Int32) -> Void) {
        let base = base.unsafelyUnwrapped
        var hole = 0
        var top = highWater - 1
        while true {
            while hole < liveCount && base[hole].record != nil { hole += 1 }
            while top >= liveCount && base[top].record == nil { top -= 1 }
            guard hole < liveCount && top >= liveCount else { break }
            base[hole] = base[top]
            base[top].record = nil
            moved(Int32(top), Int32(hole))
        }
        highWater = liveCount
        freeList = SlotArena.none
        resize(max(SlotArena.minimumCapacity, liveCount + liveCount / 4))
    }

    /// Grows with `realloc`; shrinks into a fresh block (realloc would keep a large block's mapping, rounded to
    /// pages, and a small block inside the large one's old place), copying the `highWater` slots in use.
    private mutating func resize(_ newCapacity: Int) {
        let size = newCapacity * MemoryLayout<Slot>.stride
        let raw: UnsafeMutableRawPointer
        if newCapacity >= capacity {
            raw = SystemAllocator.reallocate(UnsafeMutableRawPointer(base), size)
        } else {
            raw = SystemAllocator.allocate(size)
            raw.copyMemory(
                from: UnsafeRawPointer(base.unsafelyUnwrapped), byteCount: highWater * MemoryLayout<Slot>.stride)
            SystemAllocator.free(base)
        }
        base = raw.bindMemory(to: Slot.self, capacity: newCapacity)
        capacity = newCapacity
    }
}

/// The keyspace's buckets: a power-of-two array of chain heads (slot indices), in one malloc block.
struct BucketArray: ~Copyable {
    let base: UnsafeMutablePointer<Int32>
    let count: Int

    init(count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "bucket count must be a power of two")
        self.count = count
        base = SystemAllocator.allocate(count * MemoryLayout<Int32>.stride).bindMemory(to: Int32.self, capacity: count)
        base.initialize(repeating: SlotArena.none, count: count)
    }

    deinit { SystemAllocator.free(base) }

    @inline(__always) var mask: UInt32 { UInt32(truncatingIfNeeded: count - 1) }

    @inline(__always) subscript(bucket: Int) -> Int32 {
        get { base[bucket] }
        nonmutating set { base[bucket] = newValue }
    }

    /// The bytes the process holds for the block.
    var footprint: Int { SystemAllocator.footprint(UnsafeMutableRawPointer(base), requested: count * 4) }
}
