/// The keyspace: a hash table from binary keys to ``Entry`` values, with lazy and active expiry.
///
/// ## Layout
/// Entries live in one arena (`slots`) and are chained from a power-of-two bucket array by the high-quality
/// per-process-seeded hash of their key (`Hasher`, SipHash: keys are attacker-chosen, so the hash must resist
/// flooding). A key always sits in bucket `hash & mask`, never displaced, which is what makes ``scan(cursor:count:)``
/// able to promise Redis's guarantee: every key present for a whole scan is returned at least once, even while the
/// table grows or shrinks. The cursor walks buckets in reverse-binary order (the high bits of the index increment
/// first), so a bucket visited in a small table corresponds to all of its images in a larger one.
///
/// ## Time
/// Nothing here reads a clock: every operation that may expire a key takes `now` (Unix milliseconds). The server
/// passes the wall clock; tests pass whatever they like.
///
/// ## Concurrency
/// A plain value type with no locking. The server wraps one instance in a mutex (see `SharedKeyspace`); each
/// command runs as one critical section, which gives every command Redis's atomicity.
public struct Keyspace: Sendable {
    @usableFromInline struct Slot: Sendable {
        @usableFromInline var key: [UInt8]
        @usableFromInline var entry: Entry
        @usableFromInline var hash: UInt64
        @usableFromInline var next: Int32
    }

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
        /// Creates zeroed counters.
        public init() {}
    }

    private static let minimumBuckets = 16
    private static let empty: Int32 = -1

    @usableFromInline var buckets: [Int32]
    @usableFromInline var slots: [Slot]
    private var freeList: Int32 = Keyspace.empty
    private var expireCursor = 0

    /// Number of keys stored (including expired keys not yet reclaimed).
    public private(set) var count = 0
    /// Number of keys that carry a time to live.
    public private(set) var volatileCount = 0
    /// Bytes of keys and values stored (payload only; see ``estimatedMemory``).
    public private(set) var payloadBytes = 0
    /// Lookup, expiry and eviction counters.
    public var statistics = Statistics()

    /// Creates an empty keyspace.
    public init() {
        buckets = Array(repeating: Keyspace.empty, count: Keyspace.minimumBuckets)
        slots = []
    }

    /// An estimate of the bytes this keyspace holds: payload, per-entry overhead and the table itself.
    public var estimatedMemory: Int {
        // Each key and each string value is a separate array allocation: 32 bytes of header plus malloc's
        // rounding and bookkeeping, about 16 more.
        let perEntryAllocations = 2 * 48
        return payloadBytes + count * perEntryAllocations + slots.capacity * MemoryLayout<Slot>.stride
            + buckets.count * MemoryLayout<Int32>.stride
    }

    // MARK: Hashing

    @usableFromInline static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: key)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    @inline(__always) private var mask: UInt64 { UInt64(buckets.count - 1) }

    /// The second-resolution clock kept in ``Entry/lastAccess``.
    @inlinable public static func accessClock(_ now: Int64) -> UInt32 { UInt32(truncatingIfNeeded: now / 1000) }

    // MARK: Finding

    /// The slot index of `key` and its chain predecessor, or nil.
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (index: Int32, previous: Int32)? {
        var previous = Keyspace.empty
        var index = buckets[Int(hash & mask)]
        while index != Keyspace.empty {
            let matches = slots.withUnsafeBufferPointer { slots -> Bool in
                let slot = slots[Int(index)]
                guard slot.hash == hash, slot.key.count == key.count else { return false }
                return slot.key.withUnsafeBytes { stored in
                    key.count == 0 || bytesEqual(stored.baseAddress!, key.baseAddress!, key.count)
                }
            }
            if matches { return (index, previous) }
            previous = index
            index = slots[Int(index)].next
        }
        return nil
    }

    /// The live (not expired) slot of `key`, expiring it first if its time has come.
    private mutating func liveSlot(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> Int32? {
        guard let (index, previous) = find(key, hash: hash) else { return nil }
        if slots[Int(index)].entry.isExpired(at: now) {
            unlink(index, previous: previous, bucket: Int(hash & mask))
            statistics.expiredKeys += 1
            shrinkIfSparse()
            return nil
        }
        return index
    }

    // MARK: Reading

    /// The entry of `key` if it exists and has not expired, touching its access time.
    ///
    /// Counts a keyspace hit or miss, as a read command's lookup does in Redis.
    public mutating func read(_ key: UnsafeRawBufferPointer, now: Int64) -> Entry? {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else {
            statistics.keyspaceMisses += 1
            return nil
        }
        statistics.keyspaceHits += 1
        slots[Int(index)].entry.lastAccess = Keyspace.accessClock(now)
        return slots[Int(index)].entry
    }

    /// The entry of `key` if it exists and has not expired, without touching access time or statistics
    /// (what Redis's `LOOKUP_NOTOUCH` lookups and `OBJECT` do).
    public mutating func peek(_ key: UnsafeRawBufferPointer, now: Int64) -> Entry? {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else { return nil }
        return slots[Int(index)].entry
    }

    /// Whether `key` exists (expiring it if due), touching its access time.
    public mutating func contains(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        guard let index = liveSlot(key, hash: Keyspace.hash(key), now: now) else { return false }
        slots[Int(index)].entry.lastAccess = Keyspace.accessClock(now)
        return true
    }

    // MARK: Writing

    /// Gives `body` the entry of `key` (nil if absent or expired) to read and change in place: setting it to nil
    /// deletes the key, setting an absent key's entry inserts it. The value is moved out of the table while
    /// `body` runs, so appending to a string does not copy it.
    public mutating func update<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        _ body: (inout Entry?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let hash = Keyspace.hash(key)
        if let index = liveSlot(key, hash: hash, now: now) {
            let slot = Int(index)
            var entry: Entry? = slots[slot].entry
            let oldBytes = entry!.value.payloadCount
            let hadExpiry = entry!.hasExpiry
            slots[slot].entry.value = .string([])  // drop the table's reference so `body` owns the value uniquely
            defer {
                if var updated = entry {
                    updated.lastAccess = Keyspace.accessClock(now)
                    payloadBytes += updated.value.payloadCount - oldBytes
                    volatileCount += (updated.hasExpiry ? 1 : 0) - (hadExpiry ? 1 : 0)
                    slots[slot].entry = updated
                } else {
                    // The table's copy of the value is already empty, so `unlink` only subtracts the key's bytes.
                    payloadBytes -= oldBytes
                    removeSlot(index, hash: hash)
                }
            }
            return try body(&entry)
        }
        var entry: Entry? = nil
        defer {
            if let inserted = entry {
                insertNew(Array(key), hash: hash, entry: inserted, now: now)
            }
        }
        return try body(&entry)
    }

    /// Stores `entry` under `key`, replacing any previous value.
    public mutating func set(_ key: UnsafeRawBufferPointer, _ entry: Entry, now: Int64) {
        update(key, now: now) { $0 = entry }
    }

    /// Deletes `key`; returns whether a live key was removed.
    @discardableResult
    public mutating func remove(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        update(key, now: now) { entry in
            defer { entry = nil }
            return entry != nil
        }
    }

    /// Removes every key. Statistics are kept.
    public mutating func removeAll() {
        buckets = Array(repeating: Keyspace.empty, count: Keyspace.minimumBuckets)
        slots = []
        freeList = Keyspace.empty
        count = 0
        volatileCount = 0
        payloadBytes = 0
        expireCursor = 0
    }

    private mutating func insertNew(_ key: [UInt8], hash: UInt64, entry: Entry, now: Int64) {
        var entry = entry
        entry.lastAccess = Keyspace.accessClock(now)
        let bucket = Int(hash & mask)
        let slot = Slot(key: key, entry: entry, hash: hash, next: buckets[bucket])
        let index: Int32
        if freeList != Keyspace.empty {
            index = freeList
            freeList = slots[Int(index)].next
            slots[Int(index)] = slot
        } else {
            index = Int32(slots.count)
            slots.append(slot)
        }
        buckets[bucket] = index
        count += 1
        payloadBytes += key.count + entry.value.payloadCount
        if entry.hasExpiry { volatileCount += 1 }
        if count > buckets.count { resize(buckets.count * 2) }
    }

    /// Removes the slot at `index`, finding its chain predecessor again.
    private mutating func removeSlot(_ index: Int32, hash: UInt64) {
        let bucket = Int(hash & mask)
        var previous = Keyspace.empty
        var cursor = buckets[bucket]
        while cursor != index {
            previous = cursor
            cursor = slots[Int(cursor)].next
        }
        unlink(index, previous: previous, bucket: bucket)
        shrinkIfSparse()
    }

    /// Unlinks a slot from its chain and puts it on the free list, releasing its key and value.
    private mutating func unlink(_ index: Int32, previous: Int32, bucket: Int) {
        let i = Int(index)
        if previous == Keyspace.empty {
            buckets[bucket] = slots[i].next
        } else {
            slots[Int(previous)].next = slots[i].next
        }
        count -= 1
        payloadBytes -= slots[i].key.count + slots[i].entry.value.payloadCount
        if slots[i].entry.hasExpiry { volatileCount -= 1 }
        slots[i].key = []
        slots[i].entry = Entry(value: .string([]))
        slots[i].next = freeList
        freeList = index
    }

    // MARK: Resizing

    private mutating func shrinkIfSparse() {
        guard buckets.count > Keyspace.minimumBuckets, count * 8 < buckets.count else { return }
        var target = buckets.count
        while target > Keyspace.minimumBuckets && count * 2 < target { target /= 2 }
        resize(target)
    }

    /// Rebuilds the bucket array with `bucketCount` buckets and compacts the slot arena when it is mostly free.
    private mutating func resize(_ bucketCount: Int) {
        let compact = slots.count > 64 && count * 4 < slots.count
        var newSlots: [Slot] = []
        if compact { newSlots.reserveCapacity(count * 2) }
        var newBuckets = Array(repeating: Keyspace.empty, count: bucketCount)
        let newMask = UInt64(bucketCount - 1)
        for bucket in buckets.indices {
            var index = buckets[bucket]
            while index != Keyspace.empty {
                let next = slots[Int(index)].next
                let target = Int(slots[Int(index)].hash & newMask)
                if compact {
                    var slot = slots[Int(index)]
                    slot.next = newBuckets[target]
                    newBuckets[target] = Int32(newSlots.count)
                    newSlots.append(slot)
                } else {
                    slots[Int(index)].next = newBuckets[target]
                    newBuckets[target] = index
                }
                index = next
            }
        }
        buckets = newBuckets
        if compact {
            slots = newSlots
            freeList = Keyspace.empty
        }
    }

    // MARK: Iteration

    /// One step of a `SCAN`: visits buckets from `cursor` until at least `count` keys were collected (or ten times
    /// that many buckets were visited), calling `visit` with each key and entry (expired keys included: callers
    /// filter). Returns the next cursor; 0 means the scan is complete.
    public func scan(cursor: UInt64, count: Int, _ visit: ([UInt8], Entry) -> Void) -> UInt64 {
        var cursor = cursor
        let mask = self.mask
        var collected = 0
        var budget = max(count, 1) * 10
        repeat {
            var index = buckets[Int(cursor & mask)]
            while index != Keyspace.empty {
                let slot = slots[Int(index)]
                visit(slot.key, slot.entry)
                collected += 1
                index = slot.next
            }
            // Increment the cursor's reversed bits: the high bits of the bucket index advance first.
            cursor |= ~mask
            cursor = cursor.bitReversed &+ 1
            cursor = cursor.bitReversed
            budget -= 1
        } while cursor != 0 && collected < count && budget > 0
        return cursor
    }

    /// Calls `visit` with every live key (expired keys are skipped, not reclaimed).
    public func forEach(now: Int64, _ visit: ([UInt8], Entry) -> Void) {
        for bucket in buckets {
            var index = bucket
            while index != Keyspace.empty {
                let slot = slots[Int(index)]
                if !slot.entry.isExpired(at: now) { visit(slot.key, slot.entry) }
                index = slot.next
            }
        }
    }

    /// A uniformly chosen bucket's key, expiring dead keys met on the way; nil when empty.
    public mutating func randomKey(now: Int64, using generator: inout some RandomNumberGenerator) -> [UInt8]? {
        // Expired keys are reclaimed as they are met, so this terminates: each failed draw either finds an empty
        // bucket (bounded retries, then a linear fallback) or removes a key.
        var attempts = 0
        while count > 0 {
            attempts += 1
            let bucket: Int
            if attempts > 100 {
                guard let first = buckets.firstIndex(where: { $0 != Keyspace.empty }) else { return nil }
                bucket = first
            } else {
                bucket = Int.random(in: 0..<buckets.count, using: &generator)
            }
            var chain: [Int32] = []
            var index = buckets[bucket]
            while index != Keyspace.empty {
                chain.append(index)
                index = slots[Int(index)].next
            }
            guard let pick = chain.randomElement(using: &generator) else { continue }
            let key = slots[Int(pick)].key
            if slots[Int(pick)].entry.isExpired(at: now) {
                _ = key.withUnsafeBytes { liveSlot($0, hash: slots[Int(pick)].hash, now: now) }
                continue
            }
            return key
        }
        return nil
    }

    // MARK: Active expiry

    /// Number of buckets in the table (for pacing the active expiry cycle).
    public var bucketCount: Int { buckets.count }

    /// Examines up to `bucketBudget` buckets from where the last call stopped and removes expired keys.
    /// Returns how many keys were removed, how many keys were examined, and whether a full pass completed.
    public mutating func expireStep(now: Int64, bucketBudget: Int) -> (expired: Int, examined: Int, wrapped: Bool) {
        guard volatileCount > 0 else { return (0, 0, true) }
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
            var previous = Keyspace.empty
            var index = buckets[bucket]
            while index != Keyspace.empty {
                let next = slots[Int(index)].next
                examined += 1
                if slots[Int(index)].entry.isExpired(at: now) {
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

extension Value {
    /// Bytes of payload this value holds.
    @inlinable public var payloadCount: Int {
        switch self {
        case .string(let bytes): bytes.count
        }
    }
}

extension Keyspace {
    /// Convenience for keys held as arrays (tests, embedded use).
    public mutating func read(_ key: [UInt8], now: Int64) -> Entry? {
        key.withUnsafeBytes { read($0, now: now) }
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
