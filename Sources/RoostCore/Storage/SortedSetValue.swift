/// A sorted set value: distinct members, each with a score, ordered by score then member bytes.
///
/// ## Layout
/// Two structures kept in step:
/// - ``index``: a ``HashValue`` in its hashtable encoding mapping each member to its score (8 bytes, the double's
///   bit pattern): O(1) `ZSCORE`, and ``HashValue``'s position-stable scan for `ZSCAN` over a big set.
/// - ``tree``: a ``RankTree`` (an order-statistics treap) over (score, member): O(log n) insert, remove, rank
///   (`ZRANK`, `ZCOUNT`) and select (`ZRANGE`), where Redis uses a skip list.
///
/// ## Encodings
/// `OBJECT ENCODING` names Redis 7.0's: `listpack` while the set has at most ``Limits/maxListpackEntries`` members
/// and none longer than ``Limits/maxListpackValue`` bytes, `skiplist` once either is crossed (never back). The
/// structures are the same for both; the name decides only what Redis's does visibly (`ZSCAN` returns a listpack
/// whole, in order).
public struct SortedSetValue: Sendable, Hashable {
    /// Redis's `zset-max-listpack-entries` and `zset-max-listpack-value`.
    public struct Limits: Sendable, Hashable {
        /// Members a listpack-encoded sorted set may hold.
        public var maxListpackEntries: Int
        /// Bytes a member of a listpack-encoded sorted set may have.
        public var maxListpackValue: Int
        /// Redis 7.0's defaults: 128 members, 64 bytes.
        public init(maxListpackEntries: Int = 128, maxListpackValue: Int = 64) {
            self.maxListpackEntries = maxListpackEntries
            self.maxListpackValue = maxListpackValue
        }
    }

    var index: HashValue = {
        var index = HashValue(limits: .init(maxListpackEntries: 0, maxListpackValue: 0))
        index.convertToHashtable()
        return index
    }()
    var tree = RankTree()
    /// Heap bytes of the tree's member arrays.
    private var memberFootprint = 0
    /// Whether the set has the listpack encoding (see the type's notes).
    public private(set) var isListpack = true
    /// Counts every change.
    public private(set) var changeCount: UInt64 = 0
    /// The encoding thresholds (set by the keyspace from its configuration).
    public var limits = Limits()

    /// An empty sorted set.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Number of members.
    public var count: Int { index.count }
    /// Whether there is no member.
    public var isEmpty: Bool { index.isEmpty }
    /// The encoding name `OBJECT ENCODING` reports.
    public var encodingName: String { isListpack ? "listpack" : "skiplist" }

    public static func == (lhs: SortedSetValue, rhs: SortedSetValue) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return (0..<lhs.count).allSatisfy { lhs.element(at: $0) == rhs.element(at: $0) }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(count) }

    // MARK: Lookup

    /// The score of `member`, or nil.
    public func score(of member: UnsafeRawBufferPointer) -> Double? {
        guard let position = index.position(of: member) else { return nil }
        return SortedSetValue.score(index.fields[position])
    }

    /// Convenience for arrays.
    public func score(of member: [UInt8]) -> Double? { member.withUnsafeBytes { score(of: $0) } }

    static func score(_ field: HashValue.Field) -> Double {
        field.withValue { Double(bitPattern: $0.loadUnaligned(as: UInt64.self)) }
    }

    /// The 0-based rank of `member` in ascending order, or nil.
    public func rank(of member: [UInt8]) -> Int? {
        guard let score = score(of: member) else { return nil }
        return tree.rank(score: score, member: member)
    }

    /// The element of ascending rank `rank` (`0..<count`).
    public func element(at rank: Int) -> Element {
        let element = tree.element(at: rank)
        return Element(member: element.member, score: element.score)
    }

    /// How many members score below `score` (at most `score` when `inclusive`).
    public func count(scoreBelow score: Double, inclusive: Bool) -> Int {
        tree.count(scoreBelow: score, inclusive: inclusive)
    }

    /// How many members sort before `member` by bytes (at most `member` when `inclusive`); for lexicographic ranges,
    /// which Redis defines when every score is equal.
    public func count(memberBelow member: [UInt8], inclusive: Bool) -> Int {
        tree.count(memberBelow: member, inclusive: inclusive)
    }

    /// A member and its score.
    public struct Element: Sendable, Equatable {
        /// The member's bytes.
        public var member: [UInt8]
        /// Its score (never NaN).
        public var score: Double
    }

    // MARK: Changing

    /// Sets `member`'s score (adding it if absent); returns whether it was added. `score` must not be NaN.
    @discardableResult
    public mutating func set(_ member: [UInt8], score: Double) -> Bool {
        precondition(!score.isNaN, "a sorted set score is never NaN")
        var bits = score.bitPattern
        if let position = index.position(of: member) {
            let old = SortedSetValue.score(index.fields[position])
            guard old != score else { return false }  // Redis compares with ==: -0 and 0 are the same score
            changeCount &+= 1
            let stored = isListpack && score == 0 ? 0.0 : score
            bits = stored.bitPattern
            tree.remove(score: old, member: member)
            tree.insert(score: stored, member: member)
            member.withUnsafeBytes { name in withUnsafeBytes(of: &bits) { _ = index.set(name, $0) } }
            return false
        }
        changeCount &+= 1
        if isListpack && (index.count + 1 > limits.maxListpackEntries || member.count > limits.maxListpackValue) {
            isListpack = false
        }
        // A listpack stores a score as text in which -0 is 0 (Redis's d2string); a skiplist keeps the double.
        let stored = isListpack && score == 0 ? 0.0 : score
        bits = stored.bitPattern
        member.withUnsafeBytes { name in withUnsafeBytes(of: &bits) { _ = index.set(name, $0) } }
        tree.insert(score: stored, member: member)
        memberFootprint += HashValue.heapFootprint(elementBytes: member.count)
        return true
    }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: [UInt8]) -> Bool {
        guard let position = index.position(of: member) else { return false }
        changeCount &+= 1
        let old = SortedSetValue.score(index.fields[position])
        tree.remove(score: old, member: member)
        index.remove(at: position)
        memberFootprint -= HashValue.heapFootprint(elementBytes: member.count)
        if index.isEmpty { index = SortedSetValue().index }
        return true
    }

    // MARK: Scanning

    /// One `ZSCAN` step: a listpack whole, in order, with cursor 0; a skiplist walked as
    /// ``HashValue/scan(cursor:count:)`` walks its index.
    public func scan(cursor: UInt64, count: Int) -> (elements: [Element], next: UInt64) {
        if isListpack { return ((0..<self.count).map { element(at: $0) }, 0) }
        let step = index.scan(cursor: cursor, count: count)
        let elements = step.positions.map { position in
            Element(member: Array(index.fields[position].name), score: SortedSetValue.score(index.fields[position]))
        }
        return (elements, step.next)
    }

    // MARK: Memory

    /// Bytes of members plus 8 per score.
    public var payloadCount: Int { index.payloadCount }

    /// Estimated heap bytes held (excludes the box the keyspace keeps the value in).
    public var footprint: Int { index.footprint + tree.footprint + memberFootprint }
}
