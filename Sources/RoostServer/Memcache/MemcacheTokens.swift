import NIOCore

/// Numbers in memcached command lines, read as memcached's `safe_strtoul`/`safe_strtol`/`safe_strtoull` read them:
/// decimal digits with an optional sign, ended by the token's end or a white-space character (anything after that
/// is ignored, as `strtoul` leaves it); out-of-range values and negative unsigned values are refused.
enum MemcacheNumber {
    static func parseUnsigned(_ bytes: UnsafeRawBufferPointer, max: UInt64) -> UInt64? {
        var index = 0
        if index < bytes.count && bytes[index] == UInt8(ascii: "+") { index += 1 }
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
            index += 1
        }
        guard index > start, index == bytes.count || isSpace(bytes[index]), value <= max else { return nil }
        return value
    }

    /// A stored value read by `incr`/`decr`: like ``parseUnsigned(_:max:)`` after leading white space, which
    /// memcached's `strtoull` skips (a value ` 12` increments to 13).
    static func parseStoredUnsigned(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var start = 0
        while start < bytes.count && isSpace(bytes[start]) { start += 1 }
        return parseUnsigned(UnsafeRawBufferPointer(rebasing: bytes[start...]), max: .max)
    }

    static func parseInt32(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        guard let first = bytes.first else { return nil }
        let negative = first == UInt8(ascii: "-")
        let digits = negative ? UnsafeRawBufferPointer(rebasing: bytes[1...]) : bytes
        guard digits.first != UInt8(ascii: "+"), digits.first != UInt8(ascii: "-"),
            let magnitude = parseUnsigned(digits, max: negative ? 1 << 31 : UInt64(Int32.max))
        else { return nil }
        return Int32(truncatingIfNeeded: negative ? -Int64(magnitude) : Int64(magnitude))
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// Writes `value` in decimal.
    static func write(_ value: UInt64, into buffer: inout ByteBuffer) {
        if value < 10 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var index = 20
            while remaining > 0 {
                index -= 1
                digits[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(digits)[index..<20]))
        }
    }

    /// Writes `value` in decimal with its sign.
    static func write(_ value: Int64, into buffer: inout ByteBuffer) {
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        write(value.magnitude, into: &buffer)
    }
}

/// Base64 as memcached's meta commands use it for binary keys (`b`): the standard alphabet with padding.
enum MemcacheBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// The decoded bytes, or nil for anything but well-formed padded base64 of at least one byte.
    static func decode(_ encoded: UnsafeRawBufferPointer) -> ByteBuffer? {
        guard !encoded.isEmpty, encoded.count % 4 == 0 else { return nil }
        var padding = 0
        if encoded[encoded.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if encoded[encoded.count - 2] == UInt8(ascii: "=") { padding += 1 }
        let length = encoded.count / 4 * 3 - padding
        guard length > 0 else { return nil }
        var decoded = ByteBuffer()
        decoded.reserveCapacity(length)
        var group = 0
        while group < encoded.count {
            var bits: UInt32 = 0
            for offset in 0..<4 {
                let byte = encoded[group + offset]
                let isPadding = byte == UInt8(ascii: "=") && group + 4 == encoded.count && offset >= 4 - padding
                let value = isPadding ? 0 : values[Int(byte)]
                guard value != 0xFF else { return nil }
                bits = bits << 6 | UInt32(value)
            }
            decoded.writeInteger(UInt8(truncatingIfNeeded: bits >> 16))
            decoded.writeInteger(UInt8(truncatingIfNeeded: bits >> 8))
            decoded.writeInteger(UInt8(truncatingIfNeeded: bits))
            group += 4
        }
        decoded.moveWriterIndex(to: decoded.writerIndex - padding)
        return decoded
    }

    /// Appends the base64 encoding of `bytes` (with padding).
    static func encode(_ bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let bits = b0 << 16 | b1 << 8 | b2
            buffer.writeInteger(alphabet[Int(bits >> 18 & 63)])
            buffer.writeInteger(alphabet[Int(bits >> 12 & 63)])
            buffer.writeInteger(remaining > 1 ? alphabet[Int(bits >> 6 & 63)] : UInt8(ascii: "="))
            buffer.writeInteger(remaining > 2 ? alphabet[Int(bits & 63)] : UInt8(ascii: "="))
            index += 3
        }
    }
}
