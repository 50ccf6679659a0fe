import NIOCore

/// Frames the responses a memcached server sends back, for forwarding: which bytes make up one complete response
/// depends on the request that asked for it, so each read names the ``Expectation``. Pure: it only looks at a
/// buffer, and returns `nil` (consuming nothing) until the whole response has arrived.
enum MemcacheResponseReader {
    /// What a complete response to one request looks like.
    enum Expectation: Sendable, Hashable {
        /// One line: storage, arithmetic, `touch`, `delete` replies and every error.
        case line
        /// `get`/`gets`/`gat`/`gats`: `VALUE <key> <flags> <bytes> [<cas>]` blocks with their data, ended by `END`;
        /// any other line (an error) ends it too.
        case values
        /// A meta reply: one line, plus the data block when it is `VA <len> …`.
        case meta
        /// Meta replies (as ``meta``) up to and including an `MN` line: the forwarder appends `mn` to a request
        /// whose replies may be suppressed (`q`, `noreply`), so their end is known. The `MN` line is included.
        case untilNoop
    }

    /// Reads one complete response to a request expecting `expectation`, or returns `nil` and leaves the buffer
    /// alone when it has not all arrived yet.
    static func read(_ buffer: inout ByteBuffer, expecting expectation: Expectation) -> ByteBuffer? {
        let start = buffer.readerIndex
        guard let end = responseEnd(buffer, from: start, expecting: expectation) else { return nil }
        return buffer.readSlice(length: end - start)
    }

    /// The index just after the response starting at `start`, or `nil` when it is incomplete.
    static func responseEnd(_ buffer: ByteBuffer, from start: Int, expecting expectation: Expectation) -> Int? {
        var index = start
        switch expectation {
        case .line:
            return lineEnd(buffer, from: index)
        case .meta:
            return metaEnd(buffer, from: index)
        case .values:
            while true {
                guard let end = lineEnd(buffer, from: index) else { return nil }
                guard let length = dataLength(buffer, line: index..<end, prefix: "VALUE ", field: 3) else {
                    return end
                }
                guard end + length + 2 <= buffer.writerIndex else { return nil }
                index = end + length + 2
            }
        case .untilNoop:
            while true {
                guard let end = metaEnd(buffer, from: index) else { return nil }
                if end - index == 4, starts(buffer, at: index, with: "MN") { return end }
                index = end
            }
        }
    }

    /// Splits a complete `get`-family response into its `VALUE` blocks (each with its key), or `nil` when it does
    /// not end with `END` (an error line).
    static func valueBlocks(_ response: ByteBuffer) -> [(key: ByteBuffer, block: ByteBuffer)]? {
        var blocks: [(key: ByteBuffer, block: ByteBuffer)] = []
        var index = response.readerIndex
        while let end = lineEnd(response, from: index) {
            guard let length = dataLength(response, line: index..<end, prefix: "VALUE ", field: 3) else {
                let isEnd = end - index == 5 && starts(response, at: index, with: "END")
                return isEnd && end == response.writerIndex ? blocks : nil
            }
            guard end + length + 2 <= response.writerIndex,
                let line = response.getSlice(at: index, length: end - index),
                let keyEnd = line.readableBytesView.dropFirst(6).firstIndex(of: UInt8(ascii: " ")),
                let key = response.getSlice(at: index + 6, length: keyEnd - line.readerIndex - 6),
                let block = response.getSlice(at: index, length: end + length + 2 - index)
            else { return nil }
            blocks.append((key, block))
            index = end + length + 2
        }
        return nil
    }

    /// The end of one meta reply at `index`: a line, or a `VA` line and its data block.
    private static func metaEnd(_ buffer: ByteBuffer, from index: Int) -> Int? {
        guard let end = lineEnd(buffer, from: index) else { return nil }
        guard let length = dataLength(buffer, line: index..<end, prefix: "VA ", field: 1) else { return end }
        return end + length + 2 <= buffer.writerIndex ? end + length + 2 : nil
    }

    /// The index after the CRLF of the line starting at `index`.
    private static func lineEnd(_ buffer: ByteBuffer, from index: Int) -> Int? {
        let available = buffer.writerIndex - index
        guard available >= 2 else { return nil }
        let found = buffer.withUnsafeReadableBytes { bytes -> Int? in
            let base = index - buffer.readerIndex
            var position = base
            while position + 1 < bytes.count {
                if bytes[position] == UInt8(ascii: "\r") && bytes[position + 1] == UInt8(ascii: "\n") {
                    return position + 2 - base
                }
                position += 1
            }
            return nil
        }
        return found.map { index + $0 }
    }

    private static func starts(_ buffer: ByteBuffer, at index: Int, with prefix: StaticString) -> Bool {
        guard buffer.writerIndex - index >= prefix.utf8CodeUnitCount,
            let bytes = buffer.getBytes(at: index, length: prefix.utf8CodeUnitCount)
        else { return false }
        return prefix.withUTF8Buffer { Array($0) == bytes }
    }

    /// The data length in field `field` (0-based, space-separated) of a line that starts with `prefix`, or `nil`
    /// when the line is not such a line.
    private static func dataLength(_ buffer: ByteBuffer, line: Range<Int>, prefix: StaticString, field: Int) -> Int? {
        guard starts(buffer, at: line.lowerBound, with: prefix),
            let text = buffer.getString(at: line.lowerBound, length: line.count - 2)
        else { return nil }
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > field, let length = Int(fields[field]), length >= 0 else { return nil }
        return length
    }
}
