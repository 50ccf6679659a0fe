public import NIOCore

/// A decoded RESP2 or RESP3 reply, as a tree.
///
/// This is the convenient form for tests and for clients that want a whole reply; the server never builds
/// one on its hot path. String payloads stay bytes (`ByteBuffer` slices of the input where possible).
public indirect enum RESPValue: Hashable, Sendable {
    /// `+<text>`.
    case simpleString(ByteBuffer)
    /// `-<code> <message>` or a RESP3 blob error `!<length>`; the bytes include the code (e.g. `ERR …`).
    case error(ByteBuffer)
    /// `:<value>`.
    case integer(Int64)
    /// `$<length>`; `nil` for the RESP2 null bulk string `$-1`.
    case bulkString(ByteBuffer?)
    /// `*<count>`; `nil` for the RESP2 null array `*-1`.
    case array([RESPValue]?)
    /// RESP3 `_`.
    case null
    /// RESP3 `,<value>` (`inf`, `-inf` and `nan` included).
    case double(Double)
    /// RESP3 `#t` / `#f`.
    case boolean(Bool)
    /// RESP3 `%<count>`: key/value pairs in the order received.
    case map([KeyValuePair])
    /// RESP3 `~<count>`, in the order received.
    case set([RESPValue])
    /// RESP3 `><count>`: out-of-band data such as pub/sub messages.
    case push([RESPValue])
    /// RESP3 `=<length>`: `format` is the three-byte type (`txt`, `mkd`), `text` the rest after the colon.
    case verbatimString(format: String, text: ByteBuffer)
    /// RESP3 `(<digits>`.
    case bigNumber(String)

    /// One entry of a ``RESPValue/map(_:)``.
    public struct KeyValuePair: Hashable, Sendable {
        /// The key.
        public var key: RESPValue
        /// The value.
        public var value: RESPValue

        /// Creates a pair.
        public init(key: RESPValue, value: RESPValue) {
            self.key = key
            self.value = value
        }
    }
}

extension ByteBuffer {
    /// Writes `value` in the encoding of `version`. In RESP2, RESP3-only types fall back as Redis's do: null
    /// becomes `$-1`, maps flat arrays, sets and pushes arrays, doubles, verbatim strings and big numbers
    /// bulk strings, booleans integers.
    @discardableResult
    public mutating func writeRESPValue(_ value: RESPValue, _ version: RESPVersion) -> Int {
        switch value {
        case .simpleString(let bytes):
            return self.writeRESPSimpleString(bytes)
        case .error(let bytes):
            return self.writeRESPError(bytes)
        case .integer(let integer):
            return self.writeRESPInteger(integer)
        case .bulkString(let bytes?):
            return self.writeRESPBulkString(bytes)
        case .bulkString(nil):
            return self.writeRESPNull(version)
        case .array(let elements?):
            var written = self.writeRESPArrayHeader(elements.count)
            for element in elements { written += self.writeRESPValue(element, version) }
            return written
        case .array(nil):
            return self.writeRESPNullArray(version)
        case .null:
            return self.writeRESPNull(version)
        case .double(let double):
            return self.writeRESPDouble(double, version)
        case .boolean(let boolean):
            return self.writeRESPBoolean(boolean, version)
        case .map(let pairs):
            var written = self.writeRESPMapHeader(pairs.count, version)
            for pair in pairs {
                written += self.writeRESPValue(pair.key, version) + self.writeRESPValue(pair.value, version)
            }
            return written
        case .set(let elements):
            var written = self.writeRESPSetHeader(elements.count, version)
            for element in elements { written += self.writeRESPValue(element, version) }
            return written
        case .push(let elements):
            var written = self.writeRESPPushHeader(elements.count, version)
            for element in elements { written += self.writeRESPValue(element, version) }
            return written
        case .verbatimString(let format, let text):
            switch version {
            case .resp2:
                return self.writeRESPBulkString(text)
            case .resp3:
                let formatBytes = Array(format.utf8.prefix(3))
                precondition(formatBytes.count == 3, "a verbatim string format is three bytes")
                return self._writeRESPNumberLine(prefix: UInt8(ascii: "="), Int64(text.readableBytes + 4))
                    + self.writeBytes(formatBytes) + self.writeInteger(UInt8(ascii: ":"))
                    + self.writeImmutableBuffer(text) + self._writeRESPLineEnd()
            }
        case .bigNumber(let digits):
            return self.writeRESPBigNumber(digits, version)
        }
    }
}
