public import NIOCore

// RESP2 reply writers: the five types both protocol versions share. Each writes straight into the buffer;
// numbers are written digit by digit, without an intermediate String.

extension ByteBuffer {
    /// Writes a simple string reply: `+<bytes>\r\n`. The bytes must not contain CR or LF.
    @inlinable
    @discardableResult
    public mutating func writeRESPSimpleString(_ bytes: ByteBuffer) -> Int {
        self.writeInteger(UInt8(ascii: "+")) + self.writeImmutableBuffer(bytes) + self._writeRESPLineEnd()
    }

    /// Writes a simple string reply: `+<text>\r\n`. The text must not contain CR or LF.
    @inlinable
    @discardableResult
    public mutating func writeRESPSimpleString(_ text: StaticString) -> Int {
        if text.utf8CodeUnitCount == 2 && text.utf8Start[0] == UInt8(ascii: "O")
            && text.utf8Start[1] == UInt8(ascii: "K")
        {
            return self.writeStaticString("+OK\r\n")  // every successful write command's reply, in one write
        }
        return self.writeInteger(UInt8(ascii: "+")) + self.writeStaticString(text) + self._writeRESPLineEnd()
    }

    /// Writes a simple string reply: `+<text>\r\n`. The text must not contain CR or LF.
    @inlinable
    @discardableResult
    public mutating func writeRESPSimpleString(_ text: String) -> Int {
        self.writeInteger(UInt8(ascii: "+")) + self.writeString(text) + self._writeRESPLineEnd()
    }

    /// Writes an error reply: `-<message>\r\n`.
    ///
    /// `message` includes its code, e.g. `ERR syntax error` or `WRONGTYPE Operation against a key holding the
    /// wrong kind of value`. As Redis does, CR and LF at either end are trimmed and those inside are replaced by
    /// spaces, so the reply stays one line. An empty message is written as Redis writes one, `-ERR \r\n`.
    @discardableResult
    public mutating func writeRESPError(_ message: String) -> Int {
        var message = message
        return message.withUTF8 { self._writeRESPError(UnsafeRawBufferPointer($0)) }
    }

    /// Writes an error reply from raw bytes: `-<message>\r\n`, sanitised as ``writeRESPError(_:)-(String)``.
    @discardableResult
    public mutating func writeRESPError(_ message: ByteBuffer) -> Int {
        message.withUnsafeReadableBytes { self._writeRESPError($0) }
    }

    @usableFromInline
    mutating func _writeRESPError(_ message: UnsafeRawBufferPointer) -> Int {
        func isLineBreak(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") }
        var start = 0
        var end = message.count
        while start < end && isLineBreak(message[start]) { start += 1 }
        while end > start && isLineBreak(message[end - 1]) { end -= 1 }
        var written = self.writeInteger(UInt8(ascii: "-"))
        if start == end {
            written += self.writeStaticString("ERR ")
        } else {
            let body = UnsafeRawBufferPointer(rebasing: message[start..<end])
            if body.contains(where: isLineBreak) {
                written += self.writeWithUnsafeMutableBytes(minimumWritableBytes: body.count) { target in
                    for (index, byte) in body.enumerated() {
                        target[index] = isLineBreak(byte) ? UInt8(ascii: " ") : byte
                    }
                    return body.count
                }
            } else {
                written += self.writeBytes(body)
            }
        }
        return written + self._writeRESPLineEnd()
    }

    /// Writes an integer reply: `:<value>\r\n`.
    @inlinable
    @discardableResult
    public mutating func writeRESPInteger(_ value: Int64) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: ":"), value)
    }

    /// Writes an integer reply: `:<value>\r\n`.
    @inlinable
    @discardableResult
    public mutating func writeRESPInteger(_ value: Int) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: ":"), Int64(value))
    }

    /// Writes a bulk string reply: `$<length>\r\n<bytes>\r\n`.
    @inlinable
    @discardableResult
    public mutating func writeRESPBulkString(_ bytes: ByteBuffer) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: "$"), Int64(bytes.readableBytes))
            + self.writeImmutableBuffer(bytes) + self._writeRESPLineEnd()
    }

    /// Writes a bulk string reply: `$<length>\r\n<bytes>\r\n`.
    @inlinable
    @discardableResult
    public mutating func writeRESPBulkString(_ bytes: some Collection<UInt8>) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: "$"), Int64(bytes.count))
            + self.writeBytes(bytes) + self._writeRESPLineEnd()
    }

    /// Writes a bulk string reply: `$<length>\r\n<bytes>\r\n`.
    @inlinable
    @discardableResult
    public mutating func writeRESPBulkString(_ bytes: UnsafeRawBufferPointer) -> Int {
        // One reservation for header, payload and terminator (the GET reply path): a third of the cost of three
        // separate writes for short values.
        let count = bytes.count
        let digits = RESPDecimalWriting.digitCount(UInt64(count))
        let total = 1 + digits + 2 + count + 2
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { target in
            target[0] = UInt8(ascii: "$")
            RESPDecimalWriting.write(Int64(count), into: target, at: 1)
            target[1 + digits] = UInt8(ascii: "\r")
            target[2 + digits] = UInt8(ascii: "\n")
            if count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: target[(3 + digits)...]).copyMemory(from: bytes)
            }
            target[total - 2] = UInt8(ascii: "\r")
            target[total - 1] = UInt8(ascii: "\n")
            return total
        }
    }

    /// Writes a bulk string reply holding the UTF-8 bytes of `text`.
    @inlinable
    @discardableResult
    public mutating func writeRESPBulkString(_ text: String) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: "$"), Int64(text.utf8.count))
            + self.writeString(text) + self._writeRESPLineEnd()
    }

    /// Writes the null reply: `$-1\r\n` (the null bulk string) in RESP2, `_\r\n` in RESP3.
    @inlinable
    @discardableResult
    public mutating func writeRESPNull(_ version: RESPVersion) -> Int {
        switch version {
        case .resp2: self.writeStaticString("$-1\r\n")
        case .resp3: self.writeStaticString("_\r\n")
        }
    }

    /// Writes the null array reply: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
    @inlinable
    @discardableResult
    public mutating func writeRESPNullArray(_ version: RESPVersion) -> Int {
        switch version {
        case .resp2: self.writeStaticString("*-1\r\n")
        case .resp3: self.writeStaticString("_\r\n")
        }
    }

    /// Writes an array header, `*<count>\r\n`; the caller then writes `count` elements.
    @inlinable
    @discardableResult
    public mutating func writeRESPArrayHeader(_ count: Int) -> Int {
        self._writeRESPNumberLine(prefix: UInt8(ascii: "*"), Int64(count))
    }

    /// Writes `\r\n`.
    @inlinable
    mutating func _writeRESPLineEnd() -> Int {
        self.writeInteger(UInt16(0x0D0A))
    }

    /// Writes `<prefix><decimal value>\r\n` in one reservation.
    @inlinable
    mutating func _writeRESPNumberLine(prefix: UInt8, _ value: Int64) -> Int {
        let total = 1 + RESPDecimalWriting.length(of: value) + 2
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { target in
            target[0] = prefix
            RESPDecimalWriting.write(value, into: target, at: 1)
            target[total - 2] = UInt8(ascii: "\r")
            target[total - 1] = UInt8(ascii: "\n")
            return total
        }
    }
}
