/// The keyspace's slots: one 16-byte record per key, in one malloc block, addressed by a stable `Int32` index.
///
/// A slot holds the pointer to the key's ``EntryRecord``, 32 bits of the key's hash and the index of the next slot
/// in its bucket chain (or in the free list). An index stays valid while its key lives, so per-key metadata kept
/// elsewhere (an eviction policy's) can be an array indexed by slot. Only compaction moves slots, and it reports
/// each move.
///
/// ```
/// Slot (16 bytes): record pointer 8 (nil = free) · hash 4 (low 32 bits; its top bits are the bucket) · next 4
/// ```
///
/// ## Incremental compaction
/// When most slots are free the keyspace compacts the arena in bounded steps (``compact(slotVisits:moves:_:)``), so
/// that no single call walks the whole block. ``beginCompaction(target:)`` drops the free list (a free slot is one
/// whose record is nil) and then:
/// 1. *listing*: a cursor walks `0..<target` and lists the free slots it passes;
/// 2. *vacating*: live slots are taken from the top (`highWater - 1`) down to `target` and moved into listed holes,
///    free ones are skipped; `highWater` comes down as the top does, and a large block is shrunk as it goes.
///
/// Meanwhile the arena stays usable: ``take()`` pops a listed hole or appends at `highWater`, and ``release(_:)``
/// lists a slot only where no cursor will pass it again (below the listing cursor, or below `target` while
/// vacating); others stay free and unlisted until the walk reaches them. If the listed holes run out while vacating
/// (the keyspace grew meanwhile), the arena lists what is left above `target` instead and settles there.
struct SlotArena: ~Copyable {
    struct Slot {
        /// The entry's block; nil while the slot is free.
        var record: UnsafeMutableRawPointer?
        /// The low 32 bits of the key's hash: the bucket (its top bits) and a cheap filter on lookups.
        var hash: UInt32
        /// The next slot in the bucket chain or the free list, or ``SlotArena/none``.
        var next: Int32
    }

    /// Where a compaction is.
    enum Compaction: Equatable {
        /// No compaction: every free slot below `highWater` is on the free list.
        case idle
        /// Listing the free slots in `cursor..<min(target, highWater)`; those below `cursor` are listed.
        case listing(cursor: Int, target: Int)
        /// Moving live slots from `highWater - 1` down to `target`; the free list holds only slots below `target`.
        case vacating(target: Int)
    }

    /// What one compaction step did.
    struct StepResult {
        /// Bytes of the block given back.
        var freedBytes = 0
        /// Whether the compaction ended with this step.
        var finished = false
    }

    static let none: Int32 = -1
    /// The arena never shrinks below this many slots (1 KiB), so that a keyspace going between empty and a few keys
    /// does not allocate and free the block each time.
    static let minimumCapacity = 64
    /// Blocks at least this large are shrunk in place with `realloc` (glibc trims an mmapped block with `mremap` and
    /// splits a heap block, copying nothing); smaller ones are copied into a fresh, exactly sized block.
    static let shrinkInPlaceBytes = 1 << 20

    private(set) var base: UnsafeMutablePointer<Slot>?
    /// Slots the block has room for.
    private(set) var capacity = 0
    /// Slots handed out at least once since the last compaction: `0..<highWater` are live or free.
    private(set) var highWater = 0
    private(set) var compaction = Compaction.idle
    private(set) var freeList = SlotArena.none

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
        if case .vacating(let target) = compaction {
            // No listed hole is left to move the top into: settle where the top is, listing the holes above target.
            compaction = .listing(cursor: target, target: Int.max)
        }
        if highWater == capacity { resize(capacity + capacity / 4) }
        precondition(highWater < Int(Int32.max), "keyspace slot arena is full")
        highWater += 1
        return Int32(highWater - 1)
    }

    /// Frees a slot: onto the free list, unless a compaction walk will still reach it.
    mutating func release(_ index: Int32) {
        let listed: Bool
        switch compaction {
        case .idle: listed = true
        case .listing(let cursor, _): listed = Int(index) < cursor
        case .vacating(let target): listed = Int(index) < target
        }
        if listed {
            self[index] = Slot(record: nil, hash: 0, next: freeList)
            freeList = index
        } else {
            self[index] = Slot(record: nil, hash: 0, next: SlotArena.none)
        }
    }

    /// Forgets every slot and shrinks the block to the minimum (the caller has freed the records). Returns the bytes
    /// given back.
    @discardableResult
    mutating func removeAll() -> Int {
        let before = footprint
        highWater = 0
        freeList = SlotArena.none
        compaction = .idle
        if capacity != SlotArena.minimumCapacity { resize(SlotArena.minimumCapacity) }
        return before - footprint
    }

    /// Starts compacting the live slots into `0..<target` (at least the number of live slots).
    mutating func beginCompaction(target: Int) {
        precondition(compaction == .idle, "slot compaction already under way: \(compaction)")
        freeList = SlotArena.none
        compaction = .listing(cursor: 0, target: target)
    }

    /// One bounded compaction step: examines at most `slotVisits` slots and moves at most `moves`, calling
    /// `moved(from, to, base)` after each move (the slot is already at `to`, its chain predecessor still says `from`;
    /// `base` is the block's current address).
    mutating func compact(
        slotVisits: Int,
        moves: Int,
        _ moved: (_ from: Int32, _ to: Int32, _ base: UnsafeMutablePointer<Slot>) -> Void
    ) -> StepResult {
        var visits = slotVisits
        var moves = moves
        var result = StepResult()
        while visits > 0 && moves > 0 {
            switch compaction {
            case .idle:
                return result
            case .listing(var cursor, let target):
                let end = min(target, highWater)
                let stop = min(end, cursor + visits)
                let base = base.unsafelyUnwrapped
                visits -= max(0, stop - cursor)
                while cursor < stop {
                    if base[cursor].record == nil {
                        base[cursor].next = freeList
                        freeList = Int32(cursor)
                    }
                    cursor += 1
                }
                compaction = .listing(cursor: cursor, target: target)
                if cursor >= end {
                    if highWater > target {
                        compaction = .vacating(target: target)
                    } else {
                        compaction = .idle
                        result.freedBytes += shrinkBlock(toFit: highWater)
                        result.finished = true
                        return result
                    }
                }
            case .vacating(let target):
                let base = base.unsafelyUnwrapped
                while visits > 0 && moves > 0 && highWater > target {
                    let top = highWater - 1
                    if base[top].record != nil {
                        guard freeList != SlotArena.none else {
                            compaction = .listing(cursor: target, target: Int.max)
                            break
                        }
                        let hole = freeList
                        freeList = base[Int(hole)].next
                        base[Int(hole)] = base[top]
                        base[top].record = nil
                        moved(Int32(top), hole, base)
                        moves -= 1
                    }
                    highWater -= 1
                    visits -= 1
                }
                if highWater <= target {
                    compaction = .idle
                    result.freedBytes += shrinkBlock(toFit: highWater)
                    result.finished = true
                    return result
                }
                if case .vacating = compaction,
                    (capacity - highWater) * MemoryLayout<Slot>.stride >= SlotArena.shrinkInPlaceBytes
                {
                    // Give back the vacated tail of a large block a mebibyte at a time (realloc: no copy, and unmapping
                    // 256 pages is quick) rather than all of it at the end.
                    result.freedBytes += shrinkBlock(toFit: highWater)
                    return result
                }
            }
        }
        return result
    }

    /// Shrinks the block to `count` slots (at least the minimum) when it is larger; returns the bytes given back.
    private mutating func shrinkBlock(toFit count: Int) -> Int {
        let wanted = max(SlotArena.minimumCapacity, count)
        guard wanted < capacity else { return 0 }
        let before = footprint
        resize(wanted)
        return before - footprint
    }

    /// Grows with `realloc`. Shrinks a large block with `realloc` too (in place, no copy); a small one into a fresh
    /// block (realloc would keep it where the large one was), copying the `highWater` slots in use.
    private mutating func resize(_ newCapacity: Int) {
        let size = newCapacity * MemoryLayout<Slot>.stride
        let raw: UnsafeMutableRawPointer
        if newCapacity >= capacity || capacity * MemoryLayout<Slot>.stride >= SlotArena.shrinkInPlaceBytes {
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
