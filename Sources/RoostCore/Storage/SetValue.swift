/// A set value: distinct binary-safe members.
///
/// ## Encodings
/// Named as Redis 7.0 names them for `OBJECT ENCODING`:
/// - **intset**: every member is a canonical 64-bit integer (as Redis's `string2ll` accepts it) and there are at
///   most ``Limits/maxIntsetEntries`` of them. Kept as a sorted `[Int64]`: lookups are binary searches and listings
///   come out in ascending numeric order, as Redis's intset does.
/// - **hashtable**: once a non-integer member arrives or the set grows past the limit (and, as in Redis, never
///   back). The members are the names of a ``HashValue`` held in its hashtable encoding (empty values), which gives
///   an O(1) index, O(1) random access by position (for `SPOP`/`SRANDMEMBER`) and ``HashValue``'s scan guarantee.
///   (Redis 7.2 adds a `listpack` encoding for small non-integer sets; Debian's 7.0 reference does not have it.)
///
/// ## Memory
/// ``footprint`` counts the intset array as glibc sizes it, or the hash's own estimate.
public struct SetValue: Sendable, Hashable {
    /// Redis's `set-max-intset-entries`.
    public struct Limits: Sendable, Hashable {
        /// Members an intset-encoded set may hold.
        public var maxIntsetEntries: Int
        /// Redis 7.0's default: 512.
        public init(maxIntsetEntries: Int = 512) { self.maxIntsetEntries = maxIntsetEntries }
    }

    /// The members of an intset, ascending (empty once the set is a hashtable).
    public private(set) var integers: [Int64] = []
    /// The members of a hashtable-encoded set, as field names.
    var table = SetValue.emptyTable()
    /// Whether the set has the intset encoding.
    public private(set) var isIntset = true
    /// Counts every change (for callers that must know whether anything changed).
    public private(set) var changeCount: UInt64 = 0
    /// The encoding threshold (set by the keyspace from its configuration).
    public var limits = Limits()

    /// An empty set.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// A set holding `members` (duplicates collapse).
    public init<S: Sequence>(_ members: S, limits: Limits = Limits()) where S.Element == [UInt8] {
        self.limits = limits
        for member in members { insert(member) }
    }

    private static func emptyTable() -> HashValue {
        var table = HashValue(limits: .init(maxListpackEntries: 0, maxListpackValue: 0))
        table.convertToHashtable()
        return table
    }

    /// Number of members.
    public var count: Int { isIntset ? integers.count : table.count }
    /// Whether there is no member.
    public var isEmpty: Bool { count == 0 }
    /// The encoding name `OBJECT ENCODING` reports.
    public var encodingName: String { isIntset ? "intset" : "hashtable" }

    public static func == (lhs: SetValue, rhs: SetValue) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.isIntset && rhs.isIntset { return lhs.integers == rhs.integers }
        return (0..<lhs.count).allSatisfy { position in lhs.withMember(at: position) { rhs.contains($0) } }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(count) }

    // MARK: Lookup

    /// Whether `member` is in the set.
    public func contains(_ member: UnsafeRawBufferPointer) -> Bool {
        if isIntset {
            guard let value = RedisNumber.parseInteger(member) else { return false }
            return integerPosition(value).found
        }
        return table.position(of: member) != nil
    }

    /// Convenience for arrays.
    public func contains(_ member: [UInt8]) -> Bool { member.withUnsafeBytes { contains($0) } }

    /// Calls `body` with the bytes of the member at `position` (`0..<count`; ascending order for an intset).
    @discardableResult
    public func withMember<Result>(at position: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        if isIntset { return RedisNumber.format(integers[position]).withUnsafeBytes(body) }
        return table.fields[position].withName(body)
    }

    /// The member at `position` as bytes.
    public func member(at position: Int) -> [UInt8] { withMember(at: position) { Array($0) } }

    /// Every member, in the set's order.
    public var members: [[UInt8]] { (0..<count).map { member(at: $0) } }

    private func integerPosition(_ value: Int64) -> (position: Int, found: Bool) {
        var low = 0
        var high = integers.count
        while low < high {
            let middle = (low + high) / 2
            if integers[middle] < value { low = middle + 1 } else { high = middle }
        }
        return (low, low < integers.count && integers[low] == value)
    }

    // MARK: Changing

    /// Adds `member`; returns whether it was new. Converts an intset to a hashtable for a non-integer member or
    /// past the limit.
    @discardableResult
    public mutating func insert(_ member: UnsafeRawBufferPointer) -> Bool {
        if isIntset {
            if let value = RedisNumber.parseInteger(member) {
                let (position, found) = integerPosition(value)
                if found { return false }
                changeCount &+= 1
                integers.insert(value, at: position)
                if integers.count > limits.maxIntsetEntries { convertToHashtable() }
                return true
            }
            convertToHashtable()
        }
        if table.position(of: member) != nil { return false }
        changeCount &+= 1
        table.set(member, UnsafeRawBufferPointer(start: nil, count: 0))
        return true
    }

    /// Convenience for arrays.
    @discardableResult
    public mutating func insert(_ member: [UInt8]) -> Bool { member.withUnsafeBytes { insert($0) } }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if isIntset {
            guard let value = RedisNumber.parseInteger(member) else { return false }
            let (position, found) = integerPosition(value)
            guard found else { return false }
            remove(at: position)
            return true
        }
        guard let position = table.position(of: member) else { return false }
        remove(at: position)
        return true
    }

    /// Convenience for arrays.
    @discardableResult
    public mutating func remove(_ member: [UInt8]) -> Bool { member.withUnsafeBytes { remove($0) } }

    /// Removes the member at `position` (a hashtable moves its last member into the hole).
    public mutating func remove(at position: Int) {
        changeCount &+= 1
        if isIntset {
            integers.remove(at: position)
            if integers.isEmpty { integers = [] }
            return
        }
        table.remove(at: position)
        if table.isEmpty { table = SetValue.emptyTable() }
    }

    /// Converts to the hashtable encoding (once; never back).
    mutating func convertToHashtable() {
        guard isIntset else { return }
        changeCount &+= 1
        isIntset = false
        for value in integers {
            RedisNumber.format(value).withUnsafeBytes { table.set($0, UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
        integers = []
    }

    // MARK: Scanning

    /// One `SSCAN` step from `cursor`: the positions to return and the next cursor (0: done). An intset is returned
    /// whole (as Redis does); a hashtable is walked as ``HashValue/scan(cursor:count:)`` walks it.
    public func scan(cursor: UInt64, count: Int) -> (positions: [Int], next: UInt64) {
        guard !isIntset else { return (Array(integers.indices), 0) }
        return table.scan(cursor: cursor, count: count)
    }

    // MARK: Memory

    /// Bytes of member payload (an intset member counts its 8 bytes, as Redis's intset holds it at most).
    public var payloadCount: Int { isIntset ? integers.count * 8 : table.payloadCount }

    /// Estimated heap bytes held for the members (excludes the box the keyspace keeps the value in).
    public var footprint: Int {
        if isIntset {
            return integers.capacity > 0 ? HashValue.heapFootprint(elementBytes: integers.capacity * 8) : 0
        }
        return table.footprint
    }
}
