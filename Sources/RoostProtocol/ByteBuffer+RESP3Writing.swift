public import NIOCore

// Writers for the RESP3 types. Each takes the connection's protocol version and falls back to the RESP2
// encoding Redis 7.0 uses for that reply when the connection speaks RESP2.

extension ByteBuffer {
    /// Writes a map header: `%<count>\r\n` in RESP3; in RESP2 an array header of `2 * count` elements.
    /// The caller then writes `count` key/value pairs.
    @inlinable
    @discardableResult
    public mutating func writeRESPMapHeader(_ count: Int, _ version: RESPVersion) -> Int {
        switch version {
        case .resp2: self._writeRESPNumberLine(prefix: UInt8(ascii: "*"), Int64(count) * 2)
        case .resp3: self._writeRESPNumberLine(prefix: UInt8(ascii: "%"), Int64(count))
        }
    }

    /// Writes a set header: `~<count>\r\n` in RESP3; an array header in RESP2.
    @inlinable
    @discardableResult
    public mutating func writeRESPSetHeader(_ count: Int, _ version: RESPVersion) -> Int {
        switch version {
        case .resp2: self._writeRESPNumberLine(prefix: UInt8(ascii: "*"), Int64(count))
        case .resp3: self._writeRESPNumberLine(prefix: UInt8(ascii: "~"), Int64(count))
        }
    }

    /// Writes a push header (out-of-band data such as pub/sub messages and invalidations): `><count>\r\n` in
    /// RESP3; an array header in RESP2.
    @inlinable
    @discardableResult
    public mutating func writeRESPPushHeader(_ count: Int, _ version: RESPVersion) -> Int {
        switch version {
        case .resp2: self._writeRESPNumberLine(prefix: UInt8(ascii: "*"), Int64(count))
        case .resp3: self._writeRESPNumberLine(prefix: UInt8(ascii: ">"), Int64(count))
        }
    }

    /// Writes a double: `,<text>\r\n` in RESP3, a bulk string of the text in RESP2. The text is Redis 7.0's
    /// (see ``RESPDoubleFormatting``): `1.5`, `3`, `0.10000000000000001`, `inf`, `-inf`, `nan`.
    @inlinable
    @discardableResult
    public mutating func writeRESPDouble(_ value: Double, _ version: RESPVersion) -> Int {
        RESPDoubleFormatting.withRedisBytes(value) { text in
            switch version {
            case .resp2:
                self._writeRESPNumberLine(prefix: UInt8(ascii: "$"), Int64(text.count)) + self.writeBytes(text)
                    + self._writeRESPLineEnd()
            case .resp3:
                self.writeInteger(UInt8(ascii: ",")) + self.writeBytes(text) + self._writeRESPLineEnd()
            }
        }
    }

    /// Writes a boolean: `#t\r\n` / `#f\r\n` in RESP3, the integer 1 / 0 in RESP2.
    @inlinable
    @discardableResult
    public mutating func writeRESPBoolean(_ value: Bool, _ version: RESPVersion) -> Int {
        switch (version, value) {
        case (.resp2, true): self.writeStaticString(":1\r\n")
        case (.resp2, false): self.writeStaticString(":0\r\n")
        case (.resp3, true): self.writeStaticString("#t\r\n")
        case (.resp3, false): self.writeStaticString("#f\r\n")
        }
    }

    /// Writes a verbatim string: `=<length>\r\n<format>:<text>\r\n` in RESP3, a bulk string of `text` in RESP2.
    ///
    /// - Parameter format: exactly three ASCII bytes, `txt` or `mkd`.
    @inlinable
    @discardableResult
    public mutating func writeRESPVerbatimString(format: StaticString = "txt", _ text: String, _ version: RESPVersion)
        -> Int
    {
        switch version {
        case .resp2:
            return self.writeRESPBulkString(text)
        case .resp3:
            precondition(format.utf8CodeUnitCount == 3, "a verbatim string format is three bytes")
            return self._writeRESPNumberLine(prefix: UInt8(ascii: "="), Int64(text.utf8.count + 4))
                + self.writeStaticString(format) + self.writeInteger(UInt8(ascii: ":")) + self.writeString(text)
                + self._writeRESPLineEnd()
        }
    }

    /// Writes a big number: `(<digits>\r\n` in RESP3, a bulk string of the digits in RESP2.
    ///
    /// - Parameter digits: an optional `-` followed by decimal digits.
    @inlinable
    @discardableResult
    public mutating func writeRESPBigNumber(_ digits: String, _ version: RESPVersion) -> Int {
        switch version {
        case .resp2:
            return self.writeRESPBulkString(digits)
        case .resp3:
            return self.writeInteger(UInt8(ascii: "(")) + self.writeString(digits) + self._writeRESPLineEnd()
        }
    }
}
