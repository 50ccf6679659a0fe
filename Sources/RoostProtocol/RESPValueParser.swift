public import NIOCore

/// An incremental parser for RESP2 and RESP3 replies, producing ``RESPValue`` trees.
///
/// Meant for tests and clients, not the server's hot path: an incomplete reply is parsed again from its
/// start when more bytes arrive, except that the parser remembers how many bytes a pending bulk payload
/// needs and does not retry before they are there. Attributes (`|`) are read and dropped. Streamed strings
/// and aggregates (`$?`, `*?`) are not supported.
///
/// The parser is strict where replies come from a trusted encoder: every line must end in CRLF, including
/// the two bytes after a bulk payload.
public struct RESPValueParser: Sendable {
    /// Bounds on what one reply may contain.
    public struct Limits: Sendable, Hashable {
        /// The deepest nesting of aggregates accepted.
        public var maxDepth: Int
        /// The largest bulk string, blob error or verbatim string, in bytes.
        public var maxBulkLength: Int
        /// The most elements (or pairs) one aggregate may announce.
        public var maxAggregateCount: Int
        /// The longest simple line (simple strings, errors, numbers), in bytes.
        public var maxLineLength: Int

        /// Creates limits; the defaults fit any reply Redis 7.0 sends with its default configuration.
        public init(
            maxDepth: Int = 128,
            maxBulkLength: Int = 512 * 1024 * 1024,
            maxAggregateCount: Int = Int(Int32.max),
            maxLineLength: Int = 64 * 1024 * 1024
        ) {
            self.maxDepth = maxDepth
            self.maxBulkLength = maxBulkLength
            self.maxAggregateCount = maxAggregateCount
            self.maxLineLength = maxLineLength
        }
    }

    /// The limits in force.
    public var limits: Limits
    /// Readable bytes needed before another attempt can succeed.
    private var minimumReadableBytes = 0

    /// Creates a parser.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses one reply from `buffer`'s reader index. Returns it and consumes its bytes, or returns `nil` and
    /// consumes nothing when the reply is incomplete.
    ///
    /// - Throws: ``RESPProtocolError`` when the bytes are not valid RESP or exceed ``limits``.
    public mutating func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        guard buffer.readableBytes >= self.minimumReadableBytes else { return nil }
        var reader = buffer
        var needed = 0
        guard let value = try self.parseValue(&reader, depth: 0, needed: &needed) else {
            self.minimumReadableBytes = needed
            return nil
        }
        self.minimumReadableBytes = 0
        buffer.moveReaderIndex(to: reader.readerIndex)
        return value
    }

    private static func error(_ text: String) -> RESPProtocolError {
        RESPProtocolError(message: "Protocol error: \(text)")
    }

    /// Reads one CRLF-terminated line (without the CRLF), or returns nil when it is incomplete.
    private func readLine(_ reader: inout ByteBuffer) throws(RESPProtocolError) -> ByteBuffer? {
        let view = reader.readableBytesView
        let limit = self.limits.maxLineLength
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > limit { throw Self.error("line too long") }
            return nil
        }
        let length = cr - view.startIndex
        guard length <= limit else { throw Self.error("line too long") }
        guard length + 1 < view.count else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw Self.error("expected CRLF") }
        let line = reader.readSlice(length: length)!
        reader.moveReaderIndex(forwardBy: 2)
        return line
    }

    private func parseInteger(_ line: ByteBuffer) throws(RESPProtocolError) -> Int64 {
        guard let text = line.getString(at: line.readerIndex, length: line.readableBytes),
            let value = Int64(text)
        else { throw Self.error("invalid integer") }
        return value
    }

    /// Reads a length-prefixed payload after its `<length>` line; nil when incomplete (setting `needed`).
    private func readPayload(
        _ reader: inout ByteBuffer,
        length: Int64,
        original: Int,
        needed: inout Int
    ) throws(RESPProtocolError) -> ByteBuffer? {
        guard length >= 0, length <= Int64(self.limits.maxBulkLength) else { throw Self.error("invalid bulk length") }
        let length = Int(length)
        guard reader.readableBytes >= length + 2 else {
            needed = reader.readerIndex - original + length + 2
            return nil
        }
        let payload = reader.readSlice(length: length)!
        guard reader.readInteger(as: UInt16.self) == 0x0D0A else { throw Self.error("expected CRLF") }
        return payload
    }

    private func parseValue(_ reader: inout ByteBuffer, depth: Int, needed: inout Int) throws(RESPProtocolError)
        -> RESPValue?
    {
        guard depth <= self.limits.maxDepth else { throw Self.error("nesting too deep") }
        let original = reader.readerIndex
        guard let type = reader.readInteger(as: UInt8.self) else { return nil }
        guard let line = try self.readLine(&reader) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            return .integer(try self.parseInteger(line))
        case UInt8(ascii: "_"):
            guard line.readableBytes == 0 else { throw Self.error("invalid null") }
            return .null
        case UInt8(ascii: "#"):
            switch line.readableBytesView.first {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw Self.error("invalid boolean")
            }
        case UInt8(ascii: ","):
            let text = String(buffer: line)
            switch text {
            case "inf", "+inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan", "-nan": return .double(.nan)
            default:
                guard let double = Double(text) else { throw Self.error("invalid double") }
                return .double(double)
            }
        case UInt8(ascii: "("):
            let text = String(buffer: line)
            let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw Self.error("invalid big number")
            }
            return .bigNumber(text)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try self.parseInteger(line)
            if length == -1 && type == UInt8(ascii: "$") { return .bulkString(nil) }
            guard
                let payload = try self.readPayload(
                    &reader, length: length, original: original, needed: &needed)
            else { return nil }
            if type == UInt8(ascii: "$") { return .bulkString(payload) }
            if type == UInt8(ascii: "!") { return .error(payload) }
            guard payload.readableBytes >= 4,
                payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self)
                    == UInt8(ascii: ":")
            else { throw Self.error("invalid verbatim string") }
            let format = payload.getString(at: payload.readerIndex, length: 3)!
            return .verbatimString(
                format: format,
                text: payload.getSlice(
                    at: payload.readerIndex + 4, length: payload.readableBytes - 4)!)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try self.parseInteger(line)
            if count == -1 && type == UInt8(ascii: "*") { return .array(nil) }
            guard count >= 0, count <= Int64(self.limits.maxAggregateCount) else {
                throw Self.error("invalid aggregate length")
            }
            let isMap = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            let elementCount = isMap ? Int(count) * 2 : Int(count)
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(elementCount, 1024))
            for _ in 0..<elementCount {
                let elementStart = reader.readerIndex
                var innerNeeded = 0
                guard let element = try self.parseValue(&reader, depth: depth + 1, needed: &innerNeeded) else {
                    if innerNeeded > 0 { needed = elementStart - original + innerNeeded }
                    return nil
                }
                elements.append(element)
            }
            switch type {
            case UInt8(ascii: "*"): return .array(elements)
            case UInt8(ascii: "~"): return .set(elements)
            case UInt8(ascii: ">"): return .push(elements)
            case UInt8(ascii: "%"):
                return .map(
                    stride(from: 0, to: elements.count, by: 2).map {
                        RESPValue.KeyValuePair(key: elements[$0], value: elements[$0 + 1])
                    })
            default:
                // An attribute annotates the value that follows; drop it and return that value.
                let valueStart = reader.readerIndex
                var innerNeeded = 0
                guard let value = try self.parseValue(&reader, depth: depth, needed: &innerNeeded) else {
                    if innerNeeded > 0 { needed = valueStart - original + innerNeeded }
                    return nil
                }
                return value
            }
        default:
            throw RESPProtocolError(message: "Protocol error: invalid type byte \(type)")
        }
    }
}
