/// Decimal digits written straight into a buffer, shared by every writer of numbers (reply headers, integer
/// replies, doubles, counters stored by `INCR`).
public enum RESPDecimalWriting {
    /// Number of decimal digits of `magnitude` (1 for 0).
    @inlinable
    public static func digitCount(_ magnitude: UInt64) -> Int {
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        return digits
    }

    /// Number of bytes `value` takes in decimal, sign included.
    @inlinable
    public static func length(of value: Int64) -> Int {
        (value < 0 ? 1 : 0) + digitCount(value.magnitude)
    }

    /// Writes `value` in decimal at `offset` in `target`, which must have ``length(of:)`` bytes there; returns that
    /// length.
    @inlinable
    @discardableResult
    public static func write(_ value: Int64, into target: UnsafeMutableRawBufferPointer, at offset: Int = 0) -> Int {
        let length = length(of: value)
        if value < 0 { target[offset] = UInt8(ascii: "-") }
        var magnitude = value.magnitude
        var index = offset + length
        repeat {
            index -= 1
            target[index] = UInt8(truncatingIfNeeded: magnitude % 10) &+ UInt8(ascii: "0")
            magnitude /= 10
        } while magnitude != 0
        return length
    }
}
