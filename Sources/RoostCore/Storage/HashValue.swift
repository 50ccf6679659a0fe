/// A hash value: fields mapped to values, each field optionally with its own expiry (Redis 7.4's hash field
/// expiration).
///
/// ## Layout
/// ``fields`` is a dense array; each element owns one heap array holding the field's name bytes followed by its value
/// bytes (one allocation per field), the name's length, 32 bits of its seeded SipHash and its expiry.
///
/// Two encodings, named as Redis names them for `OBJECT ENCODING`:
/// - **listpack**: at most ``Limits/maxListpackEntries`` fields and no name or value longer than
///   ``Limits/maxListpackValue`` bytes. No index: a lookup scans the (short) array, a delete keeps the order, so
///   `HGETALL` answers in insertion order, as Redis's listpack does.
/// - **hashtable**: once either threshold is crossed (and, as in Redis, never back). An open-addressing index of
///   `Int32` positions (linear probing, load at most 1/2, backward-shift deletion) finds a field in O(1); a delete
///   moves the last field into the hole.
///
/// `HSCAN` over a hashtable walks positions downwards from the top (see ``scan(cursor:count:)``): a delete only ever
/// moves the last field down, so a field present for the whole scan is never skipped.
///
/// ## Expiry
/// A field with a time to live has ``Field/expireAt`` (Unix milliseconds; ``Entry/noExpiry`` for none).
/// ``earliestExpiry`` is a lower bound on the earliest one, so ``removeExpired(now:)`` costs one comparison until a
/// field is really due, then one pass.
///
/// ## Memory
/// ``footprint`` estimates what the process holds for the value: every heap array counted as glibc sizes it (a 32-byte
/// Swift array header plus its capacity, rounded to 16 bytes with malloc's 8) and the index.
public struct HashValue: Sendable, Hashable {
    /// One field: name, value and expiry.
    public struct Field: Sendable, Equatable {
        /// Name bytes followed by value bytes.
        var storage: [UInt8]
        var nameCount: UInt32
        var hash: UInt32
        /// Absolute expiry in Unix milliseconds, or ``Entry/noExpiry``.
        public internal(set) var expireAt: Int64

        /// The field's name.
        public var name: ArraySlice<UInt8> { storage[..<Int(nameCount)] }
        /// The field's value.
        public var value: ArraySlice<UInt8> { storage[Int(nameCount)...] }
        /// Bytes of name and value.
        public var payloadCount: Int { storage.count }

        init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, hash: UInt32, expireAt: Int64) {
            var storage: [UInt8] = []
            storage.reserveCapacity(name.count + value.count)
            storage.append(contentsOf: name)
            storage.append(contentsOf: value)
            self.storage = storage
            self.nameCount = UInt32(name.count)
            self.hash = hash
            self.expireAt = expireAt
        }

        /// Calls `body` with the name bytes in place.
        @discardableResult public func withName<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
            storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<Int(nameCount)])) }
        }

        /// Calls `body` with the value bytes in place.
        @discardableResult public func withValue<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
            storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(nameCount)...])) }
        }

        func nameEquals(_ other: UnsafeRawBufferPointer, hash: UInt32) -> Bool {
            guard self.hash == hash, Int(nameCount) == other.count else { return false }
            return withName { $0.elementsEqual(other) }
        }

        /// Whether the field is expired at `now`.
        @inlinable public func isExpired(at now: Int64) -> Bool { expireAt != Entry.noExpiry && expireAt <= now }
    }

    /// Redis's `hash-max-listpack-entries` and `hash-max-listpack-value`.
    public struct Limits: Sendable, Hashable {
        /// Fields a listpack-encoded hash may hold.
        public var maxListpackEntries: Int
        /// Bytes a name or value of a listpack-encoded hash may have.
        public var maxListpackValue: Int
        /// Redis 7.0's built-in defaults: 512 fields (its sample `redis.conf` sets 128), 64 bytes.
        public init(maxListpackEntries: Int = 512, maxListpackValue: Int = 64) {
            self.maxListpackEntries = maxListpackEntries
            self.maxListpackValue = maxListpackValue
        }
    }

    /// The fields, in listpack order while ``isHashtable`` is false.
    public private(set) var fields: [Field] = []
    /// Positions in ``fields`` by hash (hashtable encoding only; -1 marks a free slot).
    var index: [Int32] = []
    /// Whether the hash has the hashtable encoding (see the type's notes).
    public private(set) var isHashtable = false
    /// Bytes of names and values.
    public private(set) var payloadCount = 0
    /// Heap bytes of the fields' storage arrays.
    var storageFootprint = 0
    /// Fields that carry a time to live.
    public private(set) var volatileCount = 0
    /// No field expires before this (`Int64.max` when none has a time to live).
    public private(set) var earliestExpiry = Int64.max
    /// Counts every change (for callers that must know whether anything changed).
    public private(set) var changeCount: UInt64 = 0
    /// The encoding thresholds (set by the keyspace from its configuration).
    public var limits = Limits()

    /// An empty hash.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Number of fields (expired fields not yet removed included).
    @inlinable public var count: Int { fields.count }
    /// Whether there is no field.
    @inlinable public var isEmpty: Bool { fields.isEmpty }

    /// The encoding name `OBJECT ENCODING` reports.
    public var encodingName: String { isHashtable ? "hashtable" : "listpack" }

    public static func == (lhs: HashValue, rhs: HashValue) -> Bool { lhs.fields == rhs.fields }

    public func hash(into hasher: inout Hasher) { hasher.combine(fields.count) }

    // MARK: Lookup

    /// The seeded hash of a field name.
    @inline(__always) static func hashName(_ name: UnsafeRawBufferPointer) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(bytes: name)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    /// The position of the field named `name`, or nil.
    public func position(of name: UnsafeRawBufferPointer) -> Int? {
        let hash = HashValue.hashName(name)
        if !isHashtable {
            return fields.firstIndex { $0.nameEquals(name, hash: hash) }
        }
        let mask = index.count - 1
        var slot = Int(hash) & mask
        while true {
            let position = index[slot]
            if position < 0 { return nil }
            if fields[Int(position)].nameEquals(name, hash: hash) { return Int(position) }
            slot = (slot + 1) & mask
        }
    }

    /// The position of the field named by `name`'s bytes (convenience for arrays).
    public func position(of name: [UInt8]) -> Int? { name.withUnsafeBytes { position(of: $0) } }

    // MARK: Changing

    /// Sets the value of the field `name`, creating it if needed. A new field has no expiry; an existing one loses
    /// its expiry unless `keepExpiry` (Redis: `HSET` overwrites the field, `HINCRBY` changes it in place). Returns
    /// whether the field was created.
    @discardableResult
    public mutating func set(
        _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, keepExpiry: Bool = false
    ) -> Bool {
        if !isHashtable && (name.count > limits.maxListpackValue || value.count > limits.maxListpackValue) {
            convertToHashtable()
        }
        changeCount &+= 1
        let hash = HashValue.hashName(name)
        if let position = position(of: name) {
            let old = fields[position]
            let expireAt = keepExpiry ? old.expireAt : Entry.noExpiry
            if !keepExpiry && old.expireAt != Entry.noExpiry { volatileCount -= 1 }
            let field = Field(name: name, value: value, hash: hash, expireAt: expireAt)
            account(removing: old)
            account(adding: field)
            fields[position] = field
            return false
        }
        let field = Field(name: name, value: value, hash: hash, expireAt: Entry.noExpiry)
        account(adding: field)
        fields.append(field)
        if isHashtable {
            insertIntoIndex(fields.count - 1)
        } else if fields.count > limits.maxListpackEntries {
            convertToHashtable()
        }
        return true
    }

    /// Convenience for arrays.
    @discardableResult
    public mutating func set(_ name: [UInt8], _ value: [UInt8], keepExpiry: Bool = false) -> Bool {
        name.withUnsafeBytes { name in value.withUnsafeBytes { set(name, $0, keepExpiry: keepExpiry) } }
    }

    /// Removes the field `name`; returns whether it existed.
    @discardableResult
    public mutating func remove(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let position = position(of: name) else { return false }
        remove(at: position)
        return true
    }

    /// Convenience for arrays.
    @discardableResult
    public mutating func remove(_ name: [UInt8]) -> Bool { name.withUnsafeBytes { remove($0) } }

    /// Removes the field at `position`: in order for a listpack, by moving the last field in for a hashtable.
    public mutating func remove(at position: Int) {
        changeCount &+= 1
        let old = fields[position]
        account(removing: old)
        if old.expireAt != Entry.noExpiry { volatileCount -= 1 }
        guard isHashtable else {
            fields.remove(at: position)
            if fields.isEmpty { releaseStorage() }
            return
        }
        removeFromIndex(position)
        let last = fields.count - 1
        if position != last {
            fields[position] = fields[last]
            repointIndex(from: last, to: position)
        }
        fields.removeLast()
        if fields.isEmpty {
            releaseStorage()
        } else if index.count > 16 && fields.count * 8 < index.count {
            rebuildIndex(capacity: Self.indexCapacity(for: fields.count))
        }
    }

    /// Sets the expiry of the field at `position` (``Entry/noExpiry`` removes it).
    public mutating func setExpiry(at position: Int, _ expireAt: Int64) {
        let old = fields[position].expireAt
        guard old != expireAt else { return }
        changeCount &+= 1
        volatileCount += (expireAt != Entry.noExpiry ? 1 : 0) - (old != Entry.noExpiry ? 1 : 0)
        fields[position].expireAt = expireAt
        if expireAt != Entry.noExpiry && expireAt < earliestExpiry { earliestExpiry = expireAt }
        if volatileCount == 0 { earliestExpiry = .max }
    }

    /// Removes every field expired at `now`; returns how many. One comparison when nothing is due.
    @discardableResult
    public mutating func removeExpired(now: Int64) -> Int {
        guard volatileCount > 0, earliestExpiry <= now else { return 0 }
        var removed = 0
        var position = fields.count - 1
        while position >= 0 {
            if fields[position].isExpired(at: now) {
                remove(at: position)
                removed += 1
            }
            position -= 1
        }
        earliestExpiry = .max
        for field in fields where field.expireAt != Entry.noExpiry {
            earliestExpiry = min(earliestExpiry, field.expireAt)
        }
        return removed
    }

    // MARK: Scanning

    /// One `HSCAN` step from `cursor`: the positions to return and the next cursor (0: done). A listpack is returned
    /// whole in one step (as Redis does); a hashtable is walked downwards from the top, `count` positions a step
    /// (the cursor is the number of positions still to visit, see the type's notes).
    public func scan(cursor: UInt64, count: Int) -> (positions: [Int], next: UInt64) {
        guard isHashtable else { return (Array(fields.indices), 0) }
        let top = cursor == 0 ? fields.count : Int(min(cursor, UInt64(fields.count)))
        let bottom = max(0, top - max(count, 1))
        return (Array((bottom..<top).reversed()), UInt64(bottom))
    }

    // MARK: Memory

    /// Heap bytes of a Swift array holding `bytes` bytes of elements, as glibc sizes its block.
    @inline(__always) static func heapFootprint(elementBytes bytes: Int) -> Int {
        max(32, (32 + bytes + SystemAllocator.blockOverhead + 15) & ~15)
    }

    /// Estimated bytes the process holds for this value (see the type's notes); excludes the box the keyspace keeps
    /// it in.
    public var footprint: Int {
        var total = storageFootprint
        if fields.capacity > 0 {
            total += HashValue.heapFootprint(elementBytes: fields.capacity * MemoryLayout<Field>.stride)
        }
        if index.capacity > 0 { total += HashValue.heapFootprint(elementBytes: index.capacity * 4) }
        return total
    }

    private mutating func account(adding field: Field) {
        payloadCount += field.storage.count
        storageFootprint += HashValue.heapFootprint(elementBytes: field.storage.capacity)
    }

    private mutating func account(removing field: Field) {
        payloadCount -= field.storage.count
        storageFootprint -= HashValue.heapFootprint(elementBytes: field.storage.capacity)
    }

    private mutating func releaseStorage() {
        fields = []
        index = []
        earliestExpiry = .max
    }

    // MARK: Index

    static func indexCapacity(for count: Int) -> Int {
        var capacity = 16
        while capacity < count * 2 { capacity *= 2 }
        return capacity
    }

    mutating func convertToHashtable() {
        guard !isHashtable else { return }
        isHashtable = true
        rebuildIndex(capacity: Self.indexCapacity(for: max(fields.count, limits.maxListpackEntries)))
    }

    private mutating func rebuildIndex(capacity: Int) {
        index = Array(repeating: -1, count: capacity)
        for position in fields.indices { place(position) }
    }

    private mutating func insertIntoIndex(_ position: Int) {
        if fields.count * 2 > index.count {
            rebuildIndex(capacity: index.count * 2)
        } else {
            place(position)
        }
    }

    private mutating func place(_ position: Int) {
        let mask = index.count - 1
        var slot = Int(fields[position].hash) & mask
        while index[slot] >= 0 { slot = (slot + 1) & mask }
        index[slot] = Int32(position)
    }

    private func slot(of position: Int) -> Int {
        let mask = index.count - 1
        var slot = Int(fields[position].hash) & mask
        while Int(index[slot]) != position { slot = (slot + 1) & mask }
        return slot
    }

    private mutating func repointIndex(from old: Int, to new: Int) {
        // fields[new] already holds the moved field, whose hash leads to the slot that still says `old`.
        let mask = index.count - 1
        var slot = Int(fields[new].hash) & mask
        while Int(index[slot]) != old { slot = (slot + 1) & mask }
        index[slot] = Int32(new)
    }

    /// Backward-shift deletion: later members of the probe run move back so no lookup stops early.
    private mutating func removeFromIndex(_ position: Int) {
        let mask = index.count - 1
        var hole = slot(of: position)
        var next = (hole + 1) & mask
        while index[next] >= 0 {
            let home = Int(fields[Int(index[next])].hash) & mask
            // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                index[hole] = index[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        index[hole] = -1
    }
}
