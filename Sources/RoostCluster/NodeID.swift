/// A cluster node's name: 160 random bits, written as 40 lower-case hexadecimal characters.
///
/// Redis Cluster compares node names byte by byte (`memcmp`) to break ties, for example when two primaries claim
/// the same config epoch; the hexadecimal text of a `NodeID` orders exactly as its bits do, so `<` here is that
/// comparison.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number of characters in the textual form.
    public static let textLength = 40
    /// The number of bytes in the binary form (as carried on the bus).
    public static let byteCount = 20

    // The 160 bits, most significant first: high 64, middle 64, low 32.
    @usableFromInline var high: UInt64
    @usableFromInline var middle: UInt64
    @usableFromInline var low: UInt32

    /// A node ID from its three parts, most significant first.
    public init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// Parses 40 hexadecimal characters (either case); `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == Self.textLength else { return nil }
        guard let parsed = utf8.withUnsafeBytes({ Self(hex: $0) }) else { return nil }
        self = parsed
    }

    /// Parses 40 hexadecimal bytes; `nil` if the length is wrong or a byte is not a hexadecimal digit.
    public init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == Self.textLength else { return nil }
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        for (index, byte) in hex.enumerated() {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            switch index {
            case 0..<16: words.0 = words.0 << 4 | UInt64(nibble)
            case 16..<32: words.1 = words.1 << 4 | UInt64(nibble)
            default: words.2 = words.2 << 4 | UInt64(nibble)
            }
        }
        self.init(high: words.0, middle: words.1, low: UInt32(words.2))
    }

    /// The 20 bytes, most significant first.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(Self.byteCount)
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: high >> shift)) }
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: middle >> shift)) }
        for shift in stride(from: 24, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: low >> shift)) }
        return result
    }

    /// The 40 lower-case hexadecimal characters, as `CLUSTER NODES` and `nodes.conf` show them.
    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(Self.textLength)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Byte-wise order of the names, as Redis's `memcmp` of two node names.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
    }

    /// A fresh random node ID from `generator`.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: generator.next(), middle: generator.next(), low: UInt32(truncatingIfNeeded: generator.next()))
    }

    /// A fresh node ID from the system's random generator.
    public static func random() -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }
}
