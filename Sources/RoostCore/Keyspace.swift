/// The keyspace: a hash table from binary keys to ``Entry`` values, with lazy and active expiry.
///
/// ## Layout
/// Each key lives in one malloc block, an ``EntryRecord`` (header, expiry if any, key bytes, value bytes), reached
/// from a 16-byte slot in one arena (``SlotArena``: record pointer, 32 bits of hash, chain link). Slots are chained
/// from a power-of-two bucket array (``BucketTable``, 4 bytes per bucket) by the per-process-seeded hash of their key
/// (`Hasher`, SipHash: keys are attacker-chosen, so the hash must resist flooding). With `key:%08d` keys and 32-byte
/// values that is 64 bytes of glibc chunk + 16 of slot + about 4 of bucket per key (see docs/PERFORMANCE.md).
///
/// A key always sits in the bucket given by the top bits of its hash, never displaced, so bucket order is hash order
/// at every table size. That is what makes ``scan(cursor:count:_:)`` able to promise Redis's guarantee: every key
/// present for a whole scan is returned at least once, even while the table grows or shrinks. The cursor is a
/// position in the 32-bit hash space (Redis reverses the bits of a low-bits index for the same effect; walking in
/// hash order keeps the walk sequential, which the active expiry's passes over the table also use).
///
/// ## Resizing without stalls
/// Nothing here walks the whole table in one call. The bucket array grows and shrinks by Redis's incremental rehash
/// (two arrays while a resize is under way, chains moved a bucket at a time; see ``BucketTable``), and a sparse slot
/// arena is compacted in bounded chunks (see ``SlotArena``). Both advance a little after every write and more with
/// each active-expiry slice (``expireStep(now:bucketBudget:)``), which is what the server's cron runs.
///
/// ## Slots
/// A key's slot index is stable while the key lives, so an eviction policy can keep its metadata in arrays indexed
/// by slot. When most slots are free the arena is compacted; the policy is told of every move
/// (``EvictionState/moved(from:to:)``) and, with ``tracksSlotMoves`` set, it is recorded for ``takeSlotMoves()``.
///
/// ## Memory
/// ``estimatedMemory`` counts what the process holds for the data: every block's usable size (`malloc_usable_size`)
/// plus malloc's bookkeeping, the slot arena and the bucket array. After large shrinks the keyspace asks glibc to
/// return free pages to the system (`malloc_trim`).
///
/// ## Time
/// Nothing here reads a clock: every operation that may expire a key takes `now` (Unix milliseconds). The server
/// passes the wall clock; tests pass whatever they like.
///
/// ## Concurrency
/// A noncopyable value that owns raw memory and frees it in `deinit`. The server wraps one instance in a mutex; each
/// command runs as one critical section, which gives every command Redis's atomicity.
///
/// `@unchecked Sendable`: the only non-`Sendable` members are the pointers to blocks this value owns exclusively
/// (it cannot be copied, and no pointer escapes except into the borrowed buffers handed to closures while `self` is
/// accessed), so moving it to another thread moves sole ownership of the memory.
public struct Keyspace: ~Copyable, @unchecked Sendable {
    /// Counters that `INFO stats` reports.
    public struct Statistics: Sendable, Hashable {
        /// Successful key lookups by read commands.
        public var keyspaceHits: Int = 0
        /// Failed key lookups by read commands.
        public var keyspaceMisses: Int = 0
        /// Keys removed because their time to live ran out (lazily or by the active cycle).
        public var expiredKeys: Int = 0
        /// Keys removed to stay under the memory limit.
        public var evictedKeys: Int = 0
        /// Hash fields removed because their own time to live ran out (Redis's `expired_subkeys`).
        public var expiredFields: Int = 0
        /// Creates zeroed counters.
        public init() {}
    }

    /// A live key's slot moved during compaction (see ``takeSlotMoves()``).
    public struct SlotMove: Sendable, Hashable {
        /// The slot index the key had.
        public var from: Int32
        /// The slot index the key has now.
        public var to: Int32
    }

    static let minimumBuckets = 16
    /// Freed bytes after which a shrink also returns free heap pages to the system (shrinks are geometric, so a
    /// keyspace emptied of N keys trims about log2(N) times).
    static let trimThreshold = 1 << 20

    var buckets: BucketTable
    var slots: SlotArena
    /// The active expiry's cursor, a position in hash order as ``scan(cursor:count:_:)``'s (0: a pass starts).
    var expireCursor: UInt64 = 0
    /// Keys at the start of the current expiry pass, and keys it has expired so far.
    var expiryPass = (startCount: 0, expired: 0)
    /// Whether the last complete expiry pass removed at least half of the keys: the slot compaction and trimming wait
    /// for a calmer pass (or for no key to carry a TTL), since the table is still emptying.
    var massExpiry = false
    /// Footprint of all entry records (usable size plus malloc bookkeeping).
    var recordBytes = 0
    var freedSinceTrim = 0
    /// A shrink finished since the last trim (see `trimIfWorthIt`).
    var trimDue = false
    var slotMoves: [SlotMove] = []
    /// Resize work done after each write (tests shrink it to hold a resize open across many operations).
    var resizeBudgetPerWrite = ResizeBudget.perWrite

    /// Number of keys stored (including expired keys not yet reclaimed).
    public internal(set) var count = 0
    /// Number of keys that carry a time to live.
    public internal(set) var volatileCount = 0
    /// Number of aggregate keys with elements that carry their own time to live (hash fields), which the active
    /// expiry also visits.
    public internal(set) var volatileAggregateCount = 0
    /// The encoding thresholds new and changed hashes follow (`hash-max-listpack-entries`/`-value`).
    public var hashLimits = HashValue.Limits()
    /// The encoding threshold of sets (`set-max-intset-entries`).
    public var setLimits = SetValue.Limits()
    /// The encoding thresholds of sorted sets (`zset-max-listpack-entries`/`-value`).
    public var sortedSetLimits = SortedSetValue.Limits()
    /// Bytes of keys and values stored (payload only; see ``estimatedMemory``).
    public internal(set) var payloadBytes = 0
    /// Lookup, expiry and eviction counters.
    public var statistics = Statistics()
    /// With this set, the keyspace does not return freed heap pages to the system itself (a walk over malloc's arenas
    /// that can take a hundred milliseconds after millions of frees) but raises ``trimRequested``, so that a caller
    /// holding the keyspace under a lock can do it after releasing the lock (see ``returnFreeMemory()``).
    public var defersTrim = false
    /// Set when freed memory should be returned to the system and ``defersTrim`` is on; cleared by the caller.
    public var trimRequested = false
    /// Whether compaction records slot moves for ``takeSlotMoves()`` (set it when something indexes by slot).
    public var tracksSlotMoves = false
    /// A replica's keyspace: expired keys are hidden from reads but not removed, since the primary decides when a
    /// key goes (its `DEL` arrives in the stream), as Redis's replicas do; writes still replace them.
    public var retainsExpired = false
    /// Whether every change to a key (write, delete, expiry, eviction) is recorded for ``takeChanges(_:)``: a
    /// replication primary turns it on and ships the records to its replicas.
    public var recordsChanges = false
    /// The records since the last ``takeChanges(_:)``, as RESP commands (see ``ChangeLog``).
    var changeLog: [UInt8] = []
    /// Told about every change of a key at the points that feed the change log (see ``KeyspaceObserver``); nil
    /// (one load and branch per change) unless something needs it, such as a client tracking keys.
    public var observer: (any KeyspaceObserver)?
    /// The last CAS value handed out (``nextCAS()``).
    var casCounter: UInt64 = 0
    /// The eviction policy, told about every insert, hit, resize, removal and slot move (see
    /// ``configureEviction(_:maxMemory:sampling:)``).
    public internal(set) var eviction = EvictionState(.noEviction, capacity: Int.max)
    /// The memory limit in bytes of ``estimatedMemory`` (0: none), enforced by ``enforceMemoryLimit(now:)``.
    public internal(set) var maxMemory = 0
    var evictionSampling = SampledEviction.Configuration()

    /// Creates an empty keyspace.
    public init() {
        buckets = BucketTable(count: Keyspace.minimumBuckets)
        slots = SlotArena()
    }

    deinit {
        for index in 0..<slots.highWater {
            if let record = slots[Int32(index)].record { EntryRecord(record).free() }
        }
    }

    /// The bytes this keyspace holds: entry blocks as malloc sized them (plus its bookkeeping), the slot arena, the
    /// bucket array and the eviction policy's metadata.
    public var estimatedMemory: Int {
        recordBytes + slots.footprint + buckets.footprint + eviction.footprint
    }

    /// Returns free heap pages to the system now, or asks the caller to (``defersTrim``).
    mutating func trim() {
        if defersTrim { trimRequested = true } else { SystemAllocator.returnFreeMemory() }
    }

    /// Gives free heap pages back to the system (glibc's `malloc_trim`); safe to call without holding any keyspace.
    public static func returnFreeMemory() { SystemAllocator.returnFreeMemory() }

    /// Tunes the C allocator for a process that holds a large keyspace (a server): see the allocator's notes. Call
    /// once at start-up, before the keyspace fills.
    public static func tuneAllocatorForLargeKeyspaces() { SystemAllocator.tuneForManySmallBlocks() }

    /// The slot moves recorded since the last call (only while ``tracksSlotMoves`` is set), oldest first.
    public mutating func takeSlotMoves() -> [SlotMove] {
        defer { slotMoves = [] }
        return slotMoves
    }

    // MARK: Hashing

    /// The low 32 bits of the key's seeded SipHash: the bucket is given by its top bits (see ``BucketTable``).
    @inline(__always) static func hash(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(bytes: key)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    /// The second-resolution clock kept in ``Entry/lastAccess``.
    @inlinable public static func accessClock(_ now: Int64) -> UInt32 { UInt32(truncatingIfNeeded: now / 1000) }

    @inline(__always) func record(_ index: Int32) -> EntryRecord { EntryRecord(slots[index].record.unsafelyUnwrapped) }

    // MARK: Finding

    /// The slot index of `key` and its chain predecessor, or nil.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt32) -> (index: Int32, previous: Int32)? {
        var previous = SlotArena.none
        var index = buckets.head(for: hash).pointee
        while index != SlotArena.none {
            let slot = slots[index]
            if slot.hash == hash && EntryRecord(slot.record.unsafelyUnwrapped).keyEquals(key) {
                return (index, previous)
            }
            previous = index
            index = slot.next
        }
        return nil
    }

    /// The live (not expired) slot of `key`, expiring it first if its time has come (for a read only unless
    /// ``retainsExpired``; a write always replaces an expired key).
    mutating func liveSlot(_ key: UnsafeRawBufferPointer, hash: UInt32, now: Int64, writing: Bool = false) -> Int32? {
        eviction.advanceClock(to: now)
        guard let (index, previous) = find(key, hash: hash) else { return nil }
        if record(index).isExpired(at: now) {
            if retainsExpired && !writing { return nil }
            unlink(index, previous: previous, head: buckets.head(for: hash), cause: .expired)
            statistics.expiredKeys += 1
            maintainTable(resizeBudgetPerWrite)
            return nil
        }
        return index
    }

    /// The slot index of `key` if it is stored (expired or not), without side effects.
    public func slotIndex(of key: UnsafeRawBufferPointer) -> Int32? {
        find(key, hash: Keyspace.hash(key))?.index
    }

    // MARK: Reading

    /// The entry of `key` if it exists and has not expired, touching its access time.
    ///
    /// Counts a keyspace hit or miss, as a read command's lookup does in Redis. Copies the value: to read a string
    /// without copying use ``withString(_:now:touch:_:)``.
    public mutating func read(_ key: UnsafeRawBufferPointer, now: Int64) -> Entry? {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else {
            statistics.keyspaceMisses += 1
            return nil
        }
        statistics.keyspaceHits += 1
        let record = record(index)
        record.lastAccess = Keyspace.accessClock(now)
        eviction.accessed(index)
        return record.entry
    }

    /// The entry of `key` if it exists and has not expired, without touching access time or statistics
    /// (what Redis's `LOOKUP_NOTOUCH` lookups and `OBJECT` do).
    public mutating func peek(_ key: UnsafeRawBufferPointer, now: Int64) -> Entry? {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else { return nil }
        return record(index).entry
    }

    /// Whether `key` exists (expiring it if due), touching its access time.
    public mutating func contains(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else { return false }
        record(index).lastAccess = Keyspace.accessClock(now)
        eviction.accessed(index)
        return true
    }

    /// Calls `body` with the stored bytes of the string at `key`, in place (no copy), and returns its result; nil when
    /// the key is absent or expired, or holds another type (see ``lookupString(_:now:touch:_:)`` to tell those
    /// apart). With `touch` (a read command's lookup) it stamps the access time and counts a keyspace hit or miss;
    /// without, it is a `peek`. The buffer is only valid inside `body`.
    public mutating func withString<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        touch: Bool = true,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        switch try lookupString(key, now: now, touch: touch, body) {
        case .found(let result): result
        case .missing, .wrongType: nil
        }
    }

    /// What ``lookupString(_:now:touch:_:)`` found.
    public enum StringLookup<Result> {
        /// The key is absent or expired.
        case missing
        /// The key holds another type (the caller answers `WRONGTYPE`).
        case wrongType
        /// The key holds a string; `body`'s result.
        case found(Result)
    }

    /// Like ``withString(_:now:touch:_:)``, telling an absent key from one of another type (which counts as a hit,
    /// as Redis's lookup does before its type check). The type check is one bit test on the flags byte.
    public mutating func lookupString<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        touch: Bool = true,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> StringLookup<Result> {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else {
            if touch { statistics.keyspaceMisses += 1 }
            return .missing
        }
        let record = record(index)
        if touch {
            statistics.keyspaceHits += 1
            record.lastAccess = Keyspace.accessClock(now)
            eviction.accessed(index)
        }
        if record.isAggregate { return .wrongType }
        return .found(try body(record.value))
    }

    // MARK: Writing

    /// Gives `body` the entry of `key` (nil if absent or expired) to read and change: setting it to nil deletes the
    /// key, setting an absent key's entry inserts it. `body` gets a copy of the stored value; an unchanged entry is
    /// not rewritten, and a changed one is rewritten in place when it still fits its block.
    public mutating func update<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        _ body: (inout Entry?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let hash = Keyspace.hash(key)
        if let index = liveSlot(key, hash: hash, now: now, writing: true) {
            let original = record(index).entry
            var entry: Entry? = original
            defer { writeBack(index, hash: hash, original: original, updated: entry, now: now) }
            return try body(&entry)
        }
        var entry: Entry? = nil
        defer {
            if let inserted = entry { insert(key, hash: hash, inserted, now: now) }
        }
        return try body(&entry)
    }

    private mutating func writeBack(_ index: Int32, hash: UInt32, original: Entry, updated: Entry?, now: Int64) {
        guard let updated else {
            removeSlot(index, hash: hash)
            return
        }
        if updated.value == original.value && updated.expireAt == original.expireAt
            && updated.stringEncoding == original.stringEncoding
        {
            record(index).lastAccess = Keyspace.accessClock(now)
            eviction.accessed(index)
            return
        }
        switch updated.value {
        case .string(let bytes):
            bytes.withUnsafeBytes { value in
                replaceValue(
                    at: index, value: value, expireAt: updated.expireAt, encoding: updated.stringEncoding, now: now)
            }
        case .hash, .list, .set, .sortedSet:
            if updated.value == original.value && record(index).isAggregate {
                replaceAggregateExpiry(at: index, updated.expireAt, now: now)
            } else if let box = Keyspace.makeBox(updated.value, limits: self) {
                replaceWithAggregate(at: index, box, expireAt: updated.expireAt, now: now)
            } else {
                removeSlot(index, hash: hash)
            }
        }
    }

    /// Inserts `entry` under an absent `key` (an empty aggregate is not stored).
    private mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt32, _ entry: Entry, now: Int64) {
        switch entry.value {
        case .string(let bytes):
            bytes.withUnsafeBytes { value in
                insertNew(
                    key, hash: hash, value: value, expireAt: entry.expireAt, encoding: entry.stringEncoding, now: now)
            }
        case .hash, .list, .set, .sortedSet:
            if let box = Keyspace.makeBox(entry.value, limits: self) {
                insertAggregate(key, hash: hash, box, expireAt: entry.expireAt, now: now)
            }
        }
    }

    /// Stores `entry` under `key`, replacing any previous value (an empty aggregate deletes the key).
    public mutating func set(_ key: UnsafeRawBufferPointer, _ entry: Entry, now: Int64) {
        switch entry.value {
        case .string(let bytes):
            bytes.withUnsafeBytes { value in
                setString(key, value, expireAt: entry.expireAt, encoding: entry.stringEncoding, now: now)
            }
        case .hash, .list, .set, .sortedSet:
            let hash = Keyspace.hash(key)
            let box = Keyspace.makeBox(entry.value, limits: self)
            if let index = liveSlot(key, hash: hash, now: now, writing: true) {
                if let box {
                    replaceWithAggregate(at: index, box, expireAt: entry.expireAt, now: now)
                } else {
                    removeSlot(index, hash: hash)
                }
            } else if let box {
                insertAggregate(key, hash: hash, box, expireAt: entry.expireAt, now: now)
            }
        }
    }

    /// Stores the string `value` under `key`, replacing any previous value, copying the bytes straight from the
    /// caller's buffer into the key's block (no intermediate array).
    public mutating func setString(
        _ key: UnsafeRawBufferPointer,
        _ value: UnsafeRawBufferPointer,
        expireAt: Int64 = Entry.noExpiry,
        encoding: Entry.StringEncoding = .automatic,
        now: Int64
    ) {
        let hash = Keyspace.hash(key)
        if let index = liveSlot(key, hash: hash, now: now, writing: true) {
            replaceValue(at: index, value: value, expireAt: expireAt, encoding: encoding, now: now)
        } else {
            insertNew(key, hash: hash, value: value, expireAt: expireAt, encoding: encoding, now: now)
        }
    }

    /// Rewrites the string at `key` from its current bytes in one lookup and without copying them out (`INCR` and
    /// its family): `body` gets the stored bytes (nil when the key is absent or expired) and a scratch buffer of
    /// `scratchCapacity` bytes, writes the new value into the scratch buffer and returns its length, or nil to leave
    /// the key as it is (the caller keeps its own error). The new value replaces the old one in place when it fits
    /// its block, keeps the key's TTL, and is inserted without one when the key was absent. Returns whether it
    /// wrote. A key of another type is left alone without calling `body`: ``lookupString(_:now:touch:_:)``'s
    /// `.wrongType` is what `wrongType` is set to then.
    @discardableResult
    public mutating func rewriteString(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        scratchCapacity: Int,
        encoding: Entry.StringEncoding = .automatic,
        wrongType: UnsafeMutablePointer<Bool>? = nil,
        _ body: (UnsafeRawBufferPointer?, UnsafeMutableRawBufferPointer) -> Int?
    ) -> Bool {
        let hash = Keyspace.hash(key)
        let index = liveSlot(key, hash: hash, now: now, writing: true)
        if let index, record(index).isAggregate {
            wrongType?.pointee = true
            return false
        }
        return withUnsafeTemporaryAllocation(byteCount: scratchCapacity, alignment: 8) { scratch in
            guard let count = body(index.map { record($0).value }, scratch) else { return false }
            let value = UnsafeRawBufferPointer(rebasing: scratch[0..<count])
            if let index {
                replaceValue(at: index, value: value, expireAt: record(index).expireAt, encoding: encoding, now: now)
            } else {
                insertNew(key, hash: hash, value: value, expireAt: Entry.noExpiry, encoding: encoding, now: now)
            }
            return true
        }
    }

    /// Deletes `key`; returns whether a live key was removed.
    @discardableResult
    public mutating func remove(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        let hash = Keyspace.hash(key)
        guard let index = liveSlot(key, hash: hash, now: now, writing: true) else { return false }
        removeSlot(index, hash: hash)
        return true
    }

    /// Removes every key. Statistics are kept.
    public mutating func removeAll() {
        if recordsChanges {
            changeLog.removeAll(keepingCapacity: true)
            ChangeLog.appendFlush(&changeLog)
        }
        observer?.keyspaceFlushed()
        for index in 0..<slots.highWater {
            if let record = slots[Int32(index)].record { EntryRecord(record).free() }
        }
        let freed = recordBytes + slots.removeAll() + buckets.reset(count: Keyspace.minimumBuckets)
        count = 0
        volatileCount = 0
        volatileAggregateCount = 0
        payloadBytes = 0
        recordBytes = 0
        expireCursor = 0
        eviction = EvictionState(eviction.kind, capacity: eviction.capacity, sampling: evictionSampling)
        if freed >= Keyspace.trimThreshold { trim() }
        freedSinceTrim = 0
        trimDue = false
    }

    mutating func replaceValue(
        at index: Int32,
        value: UnsafeRawBufferPointer,
        expireAt: Int64,
        encoding: Entry.StringEncoding,
        now: Int64,
        metadata: ItemMetadata? = nil
    ) {
        let old = record(index)
        let oldValueCount = old.valuePayloadCount
        let hadExpiry = old.hasExpiry
        if old.hasVolatileElements { volatileAggregateCount -= 1 }
        let (new, footprintChange) = old.replacing(
            value: value, expireAt: expireAt, encoding: encoding, lastAccess: Keyspace.accessClock(now),
            metadata: metadata)
        slots[index].record = new.base
        recordBytes += footprintChange
        payloadBytes += value.count - oldValueCount
        volatileCount += (expireAt != Entry.noExpiry ? 1 : 0) - (hadExpiry ? 1 : 0)
        if recordsChanges {
            ChangeLog.appendSet(&changeLog, key: new.key, value: new.value, expireAt: expireAt, metadata: metadata)
        }
        observer?.keyspace(changed: new.key, cause: .write)
        if footprintChange != 0 { eviction.resized(index, to: new.footprint) }
        if hadExpiry || expireAt != Entry.noExpiry {
            eviction.expiryChanged(index, at: expireAt == Entry.noExpiry ? nil : expireAt)
        }
        eviction.accessed(index)
    }

    mutating func insertNew(
        _ key: UnsafeRawBufferPointer,
        hash: UInt32,
        value: UnsafeRawBufferPointer,
        expireAt: Int64,
        encoding: Entry.StringEncoding,
        now: Int64,
        metadata: ItemMetadata? = nil
    ) {
        if recordsChanges {
            ChangeLog.appendSet(&changeLog, key: key, value: value, expireAt: expireAt, metadata: metadata)
        }
        observer?.keyspace(changed: key, cause: .write)
        let (record, footprint) = EntryRecord.make(
            key: key, value: value, expireAt: expireAt, encoding: encoding, lastAccess: Keyspace.accessClock(now),
            metadata: metadata)
        let index = slots.take()
        let head = buckets.head(for: hash)
        slots[index] = SlotArena.Slot(record: record.base, hash: hash, next: head.pointee)
        head.pointee = index
        count += 1
        payloadBytes += key.count + value.count
        recordBytes += footprint
        if expireAt != Entry.noExpiry { volatileCount += 1 }
        eviction.inserted(index, hash: UInt64(hash), size: footprint)
        if expireAt != Entry.noExpiry { eviction.expiryChanged(index, at: expireAt) }
        maintainTable(resizeBudgetPerWrite)
    }

    /// Removes the slot at `index`, finding its chain predecessor again.
    mutating func removeSlot(_ index: Int32, hash: UInt32, cause: KeyChangeCause = .write, maintaining: Bool = true) {
        let head = buckets.head(for: hash)
        var previous = SlotArena.none
        var cursor = head.pointee
        while cursor != index {
            previous = cursor
            cursor = slots[cursor].next
        }
        unlink(index, previous: previous, head: head, cause: cause)
        if maintaining { maintainTable(resizeBudgetPerWrite) }
    }

    /// Unlinks a slot from the chain starting at `head`, frees its record and frees the slot; `cause` is what the
    /// observer is told.
    mutating func unlink(
        _ index: Int32, previous: Int32, head: UnsafeMutablePointer<Int32>, cause: KeyChangeCause = .write
    ) {
        let next = slots[index].next
        if previous == SlotArena.none {
            head.pointee = next
        } else {
            slots[previous].next = next
        }
        let record = record(index)
        if recordsChanges { ChangeLog.appendDelete(&changeLog, key: record.key) }
        observer?.keyspace(changed: record.key, cause: cause)
        count -= 1
        payloadBytes -= record.keyCount + record.valuePayloadCount
        if record.hasExpiry { volatileCount -= 1 }
        if record.hasVolatileElements { volatileAggregateCount -= 1 }
        let footprint = record.footprint
        recordBytes -= footprint
        freedSinceTrim += footprint
        record.free()
        slots.release(index)
        eviction.removed(index)
    }
}

extension Keyspace.StringLookup: Sendable where Result: Sendable {}

extension Value {
    /// Bytes of payload this value holds.
    @inlinable public var payloadCount: Int {
        switch self {
        case .string(let bytes): bytes.count
        case .hash(let hash): hash.payloadCount
        case .list(let list): list.payloadCount
        case .set(let set): set.payloadCount
        case .sortedSet(let sortedSet): sortedSet.payloadCount
        }
    }
}
