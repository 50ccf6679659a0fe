#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Number parsing and formatting with Redis's exact rules, so that `INCR`, `INCRBYFLOAT`, `SET … EX` and friends
/// accept and print the same strings Redis does.
public enum RedisNumber {
    /// The longest float string Redis accepts (`MAX_LONG_DOUBLE_CHARS`).
    public static let maximumFloatLength = 5 * 1024

    /// Parses a signed 64-bit integer the way Redis's `string2ll` does: optional `-`, no `+`, no spaces, no
    /// leading zeros (except `0` itself), at most 20 characters, no overflow.
    public static func parseInteger(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let count = bytes.count
        guard count > 0, count <= 20 else { return nil }
        if count == 1 && bytes[0] == UInt8(ascii: "0") { return 0 }
        var index = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            index = 1
            guard count > 1 else { return nil }
        }
        guard bytes[index] >= UInt8(ascii: "1"), bytes[index] <= UInt8(ascii: "9") else { return nil }
        var magnitude: UInt64 = 0
        while index < count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// Parses an integer held in a byte array.
    public static func parseInteger(_ bytes: [UInt8]) -> Int64? {
        bytes.withUnsafeBytes { parseInteger($0) }
    }

    /// Parses a float the way Redis's `string2ld` does (C `strtold`: accepts `inf`, exponents, hex floats and a
    /// leading `+`; rejects leading spaces, trailing bytes, NaN and out-of-range values).
    public static func parseLongDouble(_ bytes: UnsafeRawBufferPointer) -> Float80? {
        let count = bytes.count
        guard count > 0, count < maximumFloatLength else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer -> Float80? in
            for index in 0..<count { buffer[index] = CChar(bitPattern: bytes[index]) }
            buffer[count] = 0
            if isspace(Int32(buffer[0])) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtold(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + count, errno != ERANGE, !value.isNaN else { return nil }
            return value
        }
    }

    /// Parses a double the way Redis's `getDoubleFromObject` does (`strtod` with the same rejections).
    public static func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let count = bytes.count
        guard count > 0, count < maximumFloatLength else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer -> Double? in
            for index in 0..<count { buffer[index] = CChar(bitPattern: bytes[index]) }
            buffer[count] = 0
            if isspace(Int32(buffer[0])) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + count, errno != ERANGE, !value.isNaN else { return nil }
            return value
        }
    }

    /// Parses a score-range bound the way Redis's `zslParseRange` does: plain `strtod` over the whole text (leading
    /// whitespace allowed, the empty string is 0), NaN refused; out-of-range values saturate as `strtod` makes them.
    public static func parseRangeDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let count = bytes.count
        guard count < maximumFloatLength * 4 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer -> Double? in
            for index in 0..<count {
                guard bytes[index] != 0 else { return nil }
                buffer[index] = CChar(bitPattern: bytes[index])
            }
            buffer[count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + count, !value.isNaN else { return nil }
            return value
        }
    }

    /// Formats a score as Redis 7.0's `d2string` stores it in a listpack (what `ZSCAN` of a small sorted set
    /// returns): an integral value within the 64-bit range as an integer (`0` for `-0`); nil for any other value,
    /// which Redis writes with `%.17g`.
    public static func listpackScoreText(_ value: Double) -> [UInt8]? {
        guard value.isFinite, value == value.rounded(.towardZero), value > -9.2233720368547758e18,
            value < 9.2233720368547758e18
        else { return nil }
        return format(Int64(value))
    }

    /// Formats a long double as Redis's `ld2string` in human-friendly mode (used by `INCRBYFLOAT`): fixed
    /// notation with 17 decimals, then trailing zeros and a trailing point removed.
    public static func formatHumanFriendly(_ value: Float80) -> [UInt8] {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        var buffer = [CChar](repeating: 0, count: 5 * 1024 + 64)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            withVaList([value]) { vsnprintf(pointer.baseAddress!, pointer.count, "%.17Lf", $0) }
        }
        guard length > 0 else { return Array("0".utf8) }
        var bytes = buffer[0..<min(Int(length), buffer.count - 1)].map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        }
        if bytes == Array("-0".utf8) { return Array("0".utf8) }
        return bytes
    }

    /// The decimal digits of `value`.
    public static func format(_ value: Int64) -> [UInt8] {
        Array(String(value).utf8)
    }
}
