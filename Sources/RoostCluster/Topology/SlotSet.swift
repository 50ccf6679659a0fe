/// A set of hash slots: a 16384-bit bitmap (2 KiB), as Redis Cluster's nodes exchange them.
public struct SlotSet: Hashable, Sendable {
    /// The number of 64-bit words in the bitmap.
    public static let wordCount = clusterSlotCount / 64

    /// The bitmap, slot `s` at bit `s % 64` of word `s / 64`.
    public private(set) var words: [UInt64]

    /// The empty set.
    public init() {
        self.words = Array(repeating: 0, count: Self.wordCount)
    }

    /// The slots in the given inclusive ranges (each must lie within `0..<16384`).
    public init(_ ranges: some Sequence<ClosedRange<Int>>) {
        self.init()
        for range in ranges { insert(range) }
    }

    /// A set from exactly ``wordCount`` bitmap words; `nil` for any other count.
    public init?(words: [UInt64]) {
        guard words.count == Self.wordCount else { return nil }
        self.words = words
    }

    /// Every slot.
    public static var all: SlotSet { SlotSet([0...(clusterSlotCount - 1)]) }

    /// Whether `slot` is in the set.
    public func contains(_ slot: Int) -> Bool {
        precondition((0..<clusterSlotCount).contains(slot), "slot \(slot) out of range")
        return words[slot >> 6] & (1 << UInt64(slot & 63)) != 0
    }

    /// Adds `slot`.
    public mutating func insert(_ slot: Int) {
        precondition((0..<clusterSlotCount).contains(slot), "slot \(slot) out of range")
        words[slot >> 6] |= 1 << UInt64(slot & 63)
    }

    /// Adds every slot of `range`.
    public mutating func insert(_ range: ClosedRange<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound < clusterSlotCount, "slots \(range) out of range")
        for slot in range { words[slot >> 6] |= 1 << UInt64(slot & 63) }
    }

    /// Removes `slot`.
    public mutating func remove(_ slot: Int) {
        precondition((0..<clusterSlotCount).contains(slot), "slot \(slot) out of range")
        words[slot >> 6] &= ~(1 << UInt64(slot & 63))
    }

    /// The number of slots in the set.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Whether the set has no slots.
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// The slots in ascending order.
    public var slots: [Int] {
        var result: [Int] = []
        for (index, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                result.append(index << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }

    /// The set as maximal runs of consecutive slots, ascending.
    public var ranges: [ClosedRange<Int>] {
        var result: [ClosedRange<Int>] = []
        var start = -1
        var previous = -2
        for slot in slots {
            if slot != previous + 1 {
                if start >= 0 { result.append(start...previous) }
                start = slot
            }
            previous = slot
        }
        if start >= 0 { result.append(start...previous) }
        return result
    }

    /// The slots in either set.
    public func union(_ other: SlotSet) -> SlotSet {
        var result = self
        for index in words.indices { result.words[index] |= other.words[index] }
        return result
    }

    /// The slots in this set and not in `other`.
    public func subtracting(_ other: SlotSet) -> SlotSet {
        var result = self
        for index in words.indices { result.words[index] &= ~other.words[index] }
        return result
    }
}

extension SlotSet: CustomStringConvertible {
    /// The ranges, as `CLUSTER NODES` lists them (`0-5460 7`).
    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: " ")
    }
}
