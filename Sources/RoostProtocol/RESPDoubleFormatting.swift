#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How Redis 7.0 turns a double into reply text.
///
/// Redis 7.0's `addReplyDouble` (ZSCORE, ZINCRBY, ZRANGE … WITHSCORES, and RESP3 doubles) prints with
/// `%.17g`: 17 significant digits with trailing zeros removed, so `1.5` is `1.5` and `3` is `3`, but `0.1` is
/// `0.10000000000000001` and `1e300` is `1.0000000000000001e+300` (confirmed against redis-server 7.0.15).
/// Infinities are `inf` and `-inf`; NaN is written `nan`.
///
/// INCRBYFLOAT and HINCRBYFLOAT do not use this: they compute in `long double` and print with `%.17Lf` and
/// trailing zeros trimmed (`0.1`, `100000000000000000000`), which the command implementation must reproduce.
public enum RESPDoubleFormatting {
    /// The largest number of bytes ``redisString(_:)`` produces (`-1.2345678901234567e-308` is 24).
    @usableFromInline
    static let maximumLength = 32

    /// Formats `value` as Redis 7.0's `addReplyDouble` does (`%.17g`; `inf`, `-inf`, `nan`).
    public static func redisString(_ value: Double) -> String {
        withRedisBytes(value) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the bytes of ``redisString(_:)`` for `value`, without allocating.
    @usableFromInline
    static func withRedisBytes<Result>(_ value: Double, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeTemporaryAllocation(byteCount: maximumLength, alignment: 1) { storage in
            let length = format(value, into: storage)
            return body(UnsafeRawBufferPointer(rebasing: storage[0..<length]))
        }
    }

    /// Writes the text of `value` at the start of `storage` (at least ``maximumLength`` bytes); returns its length.
    static func format(_ value: Double, into storage: UnsafeMutableRawBufferPointer) -> Int {
        if value.isNaN { return copy("nan", into: storage) }
        if value.isInfinite { return copy(value < 0 ? "-inf" : "inf", into: storage) }
        if value == 0 { return copy(value.sign == .minus ? "-0" : "0", into: storage) }
        // Fast path: integers below 2^53 print as plain digits under %.17g.
        if value == value.rounded(.towardZero) && value.magnitude < 9_007_199_254_740_992 {
            return writeDigits(Int64(value), into: storage)
        }
        let length = withVaList([value]) { arguments in
            storage.withMemoryRebound(to: CChar.self) { characters in
                vsnprintf(characters.baseAddress, characters.count, "%.17g", arguments)
            }
        }
        return Int(length)
    }

    private static func copy(_ text: StaticString, into storage: UnsafeMutableRawBufferPointer) -> Int {
        let source = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        storage.copyMemory(from: source)
        return source.count
    }

    private static func writeDigits(_ value: Int64, into storage: UnsafeMutableRawBufferPointer) -> Int {
        RESPDecimalWriting.write(value, into: storage)
    }
}
