public import NIOCore

/// An incremental parser for client requests: RESP multibulk commands (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and
/// inline commands (`GET k\r\n`), with Redis 7.0's limits and error messages.
///
/// ## How it is used
/// Feed it the connection's cumulation buffer after every read and call ``parse(_:into:limits:)`` until it
/// returns `false`. Each `true` hands out one command, whose arguments are slices of the buffer (no copy).
///
/// ## Resumable progress
/// A command is consumed (the reader index moves) only when it is complete. Until then the parser remembers,
/// relative to the reader index, how far it got: the next byte to look at, the end of the region already
/// searched for a line terminator, and the (offset, length) of every argument read so far. So a huge multibulk
/// arriving in many small reads is scanned once, and the total work is linear in the input. Between calls the
/// caller may append to the buffer and may discard read bytes, but must not move the reader index itself
/// while ``hasPartialCommand`` is `true` (or must call ``reset()``).
///
/// ## Redis compatibility
/// The parser matches `processMultibulkBuffer` / `processInlineBuffer` in Redis 7.0:
/// - The request type is chosen by the first byte: `*` is a multibulk, anything else an inline line.
/// - `*0` and negative counts are consumed and ignored. A count that is not a strict integer (see
///   `string2ll`: no `+`, spaces or leading zeros) or exceeds the limit is `invalid multibulk length`.
/// - Count lines end at the first CR; the byte after it is skipped without being checked, and so are the two
///   bytes after a bulk payload (Redis does not check that they are CRLF).
/// - `$` lengths that are negative or above the limit are `invalid bulk length`; an argument that does not
///   start with `$` is `expected '$', got 'x'`.
/// - Before authentication, counts above 10 and lengths above 16384 are rejected.
/// - Inline lines end at LF, with an optional CR before it; empty and blank lines are skipped.
///
/// Deviations, both only for input that is already malformed or over a limit:
/// - Redis finds terminators with C-string searches, so a NUL before a terminator makes it wait (until the
///   64 KiB limit trips). Here NUL is an ordinary byte.
/// - Redis checks the 64 KiB line limit only on the bytes that happen to be buffered when no terminator is
///   found, so the outcome depends on how reads are split. Here it depends only on the bytes: a count line
///   whose CR is not within the first `maxInlineLength + 1` bytes, or an inline line whose content (without
///   its CRLF or LF) is longer than `maxInlineLength`, is too big.
public struct RESPRequestParser: Sendable {
    /// Where in a command the parser is.
    @usableFromInline
    enum Phase: Sendable {
        /// At the first byte of a command (or of an empty line / ignored multibulk).
        case commandStart
        /// Inside a multibulk, at a `$<length>` line.
        case bulkHeader
        /// Inside a multibulk, waiting for a payload of `bulkLength` bytes plus two.
        case bulkPayload
    }

    /// The position and length of one argument, relative to the buffer's reader index.
    @usableFromInline
    struct ArgumentRange: Sendable {
        @usableFromInline var offset: Int
        @usableFromInline var length: Int
    }

    @usableFromInline var phase: Phase = .commandStart
    /// Offset (from the reader index) of the next unparsed byte of the current command.
    @usableFromInline var cursor: Int = 0
    /// Offset before which the terminator search of the current line has already looked.
    @usableFromInline var searchedUpTo: Int = 0
    /// Arguments of the current multibulk not yet read.
    @usableFromInline var remainingArguments: Int = 0
    /// Payload length of the bulk being read, valid in `.bulkPayload`.
    @usableFromInline var bulkLength: Int = 0
    /// The arguments of the current multibulk read so far.
    @usableFromInline var ranges: [ArgumentRange] = []

    /// Creates a parser at the start of a stream.
    public init() {}

    /// Whether part of a command has been read but not yet returned; the reader index must not move until it is.
    public var hasPartialCommand: Bool {
        self.phase != .commandStart || self.searchedUpTo != 0
    }

    /// Forgets any partial command, for use when the caller discards the buffer.
    public mutating func reset() {
        self.phase = .commandStart
        self.cursor = 0
        self.searchedUpTo = 0
        self.remainingArguments = 0
        self.bulkLength = 0
        self.ranges.removeAll(keepingCapacity: true)
    }

    /// Parses at most one command from `buffer`, starting at its reader index.
    ///
    /// On success, consumes the command's bytes (moves the reader index), replaces the contents of `arguments`
    /// with the command's arguments (slices of `buffer` for multibulk commands, fresh buffers for inline ones)
    /// and returns `true`. Returns `false` when more bytes are needed; progress is kept in `self`. Empty inline
    /// lines and `*0` / `*-1` are consumed and skipped, as Redis does.
    ///
    /// - Throws: ``RESPProtocolError`` with Redis's message for malformed or over-limit input. The caller then
    ///   replies `-ERR <message>` and closes the connection; the parser's state is unspecified afterwards.
    public mutating func parse(
        _ buffer: inout ByteBuffer,
        into arguments: inout [ByteBuffer],
        limits: RESPRequestLimits
    ) throws(RESPProtocolError) -> Bool {
        while true {
            switch self.phase {
            case .commandStart:
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return false }
                if first == UInt8(ascii: "*") {
                    if self.searchedUpTo == 0 && self.parseCompleteMultibulk(&buffer, into: &arguments, limits: limits)
                    {
                        return true
                    }
                    guard try self.parseMultibulkCount(&buffer, limits: limits) else { return false }
                } else {
                    switch try self.parseInline(&buffer, into: &arguments, limits: limits) {
                    case .needMoreBytes: return false
                    case .skipped: continue
                    case .command: return true
                    }
                }
            case .bulkHeader:
                guard try self.parseBulkHeader(buffer, limits: limits) else { return false }
            case .bulkPayload:
                guard buffer.readableBytes - self.cursor - 2 >= self.bulkLength else { return false }
                self.ranges.append(ArgumentRange(offset: self.cursor, length: self.bulkLength))
                self.cursor += self.bulkLength + 2
                self.searchedUpTo = self.cursor
                self.remainingArguments -= 1
                if self.remainingArguments > 0 {
                    self.phase = .bulkHeader
                } else {
                    self.finishMultibulk(&buffer, into: &arguments)
                    return true
                }
            }
        }
    }

    /// Most arguments a command may have for the one-pass path; longer commands take the resumable path.
    static let onePassMaxArguments = 64

    /// The common case in one pass over the bytes: a multibulk that is already complete in the buffer, with at most
    /// ``onePassMaxArguments`` arguments and canonical short headers (`*<n>\r`, `$<n>\r`: no leading zeros, at
    /// most 18 digits) within every limit. For anything else (partial, malformed, over a limit, long) it returns
    /// `false` having changed nothing, and the resumable path parses the same bytes from the start, with its exact
    /// errors; so the two paths cannot disagree on what they both accept. Measured: about half the time of the
    /// resumable path for a `GET` (docs/PERFORMANCE.md).
    private mutating func parseCompleteMultibulk(
        _ buffer: inout ByteBuffer,
        into arguments: inout [ByteBuffer],
        limits: RESPRequestLimits
    ) -> Bool {
        guard limits.maxInlineLength >= 32 else { return false }  // header lines here are at most 20 bytes
        var maxArguments = min(Self.onePassMaxArguments, limits.maxMultibulkLength)
        var maxBulk = limits.maxBulkLength
        if !limits.authenticated {
            maxArguments = min(maxArguments, RESPRequestLimits.unauthenticatedMaxMultibulkLength)
            maxBulk = min(maxBulk, RESPRequestLimits.unauthenticatedMaxBulkLength)
        }
        self.ranges.removeAll(keepingCapacity: true)
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            guard let (count, afterCount) = Self.shortDecimalLine(bytes, from: 1), count >= 1, count <= maxArguments
            else { return 0 }
            var position = afterCount
            for _ in 0..<count {
                guard position < bytes.count, bytes[position] == UInt8(ascii: "$"),
                    let (length, payload) = Self.shortDecimalLine(bytes, from: position + 1), length <= maxBulk,
                    bytes.count - payload >= length + 2
                else { return 0 }
                self.ranges.append(ArgumentRange(offset: payload, length: length))
                position = payload + length + 2
            }
            return position
        }
        guard consumed > 0 else {
            self.ranges.removeAll(keepingCapacity: true)
            return false
        }
        self.cursor = consumed
        self.finishMultibulk(&buffer, into: &arguments)
        return true
    }

    /// A canonical non-negative decimal at `start` (`0`, or 1–18 digits not starting with `0`) ending at a CR that
    /// has one more byte after it: the value and the offset after that byte; nil otherwise.
    @inline(__always)
    private static func shortDecimalLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (Int, Int)? {
        let end = bytes.count
        guard start < end else { return nil }
        var index = start
        var value = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < end && index - start < 18 {
                let digit = bytes[index] &- UInt8(ascii: "0")
                if digit > 9 { break }
                value = value &* 10 &+ Int(digit)
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index + 1 < end, bytes[index] == UInt8(ascii: "\r") else { return nil }
        return (value, index + 2)
    }

    /// Hands out the completed multibulk's arguments and consumes its bytes.
    private mutating func finishMultibulk(_ buffer: inout ByteBuffer, into arguments: inout [ByteBuffer]) {
        arguments.removeAll(keepingCapacity: true)
        let base = buffer.readerIndex
        for range in self.ranges {
            // The ranges were validated against readableBytes as they were read.
            arguments.append(buffer.getSlice(at: base + range.offset, length: range.length)!)
        }
        buffer.moveReaderIndex(forwardBy: self.cursor)
        self.reset()
    }

    /// Looks for `byte` in `[searchedUpTo, end)`, remembering how far it looked.
    private mutating func find(_ byte: UInt8, in buffer: ByteBuffer, before end: Int) -> Int? {
        let start = self.searchedUpTo
        guard start < end else { return nil }
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            var index = start
            while index < end {
                if bytes[index] == byte { return index }
                index += 1
            }
            return nil
        }
        if found == nil { self.searchedUpTo = end }
        return found
    }

    /// Parses `*<count>\r\n`. Returns `false` when more bytes are needed.
    private mutating func parseMultibulkCount(
        _ buffer: inout ByteBuffer,
        limits: RESPRequestLimits
    ) throws(RESPProtocolError) -> Bool {
        let readable = buffer.readableBytes
        if self.searchedUpTo == 0 { self.searchedUpTo = 1 }
        let windowEnd = readable < limits.maxInlineLength + 1 ? readable : limits.maxInlineLength + 1
        guard let newline = self.find(UInt8(ascii: "\r"), in: buffer, before: windowEnd) else {
            if readable > limits.maxInlineLength { throw .tooBigMultibulkCountString }
            return false
        }
        guard newline + 1 < readable else {
            self.searchedUpTo = newline
            return false
        }
        let count = buffer.withUnsafeReadableBytes { bytes in
            RESPDecimalParsing.parseStrictInt64(UnsafeRawBufferPointer(rebasing: bytes[1..<newline]))
        }
        guard let count, count <= Int64(limits.maxMultibulkLength) else { throw .invalidMultibulkLength }
        if !limits.authenticated && count > Int64(RESPRequestLimits.unauthenticatedMaxMultibulkLength) {
            throw .unauthenticatedMultibulkLength
        }
        self.cursor = newline + 2
        self.searchedUpTo = self.cursor
        if count <= 0 {
            // Redis ignores empty and negative multibulks.
            buffer.moveReaderIndex(forwardBy: self.cursor)
            self.reset()
            return true
        }
        self.remainingArguments = Int(count)
        self.ranges.removeAll(keepingCapacity: true)
        self.ranges.reserveCapacity(min(Int(count), 1024))
        self.phase = .bulkHeader
        return true
    }

    /// Parses `$<length>\r\n` inside a multibulk. Returns `false` when more bytes are needed.
    private mutating func parseBulkHeader(
        _ buffer: ByteBuffer,
        limits: RESPRequestLimits
    ) throws(RESPProtocolError) -> Bool {
        let readable = buffer.readableBytes
        let start = self.cursor
        guard start < readable else { return false }
        let windowLimit = start + limits.maxInlineLength + 1
        let windowEnd = readable < windowLimit ? readable : windowLimit
        guard let newline = self.find(UInt8(ascii: "\r"), in: buffer, before: windowEnd) else {
            if readable - start > limits.maxInlineLength { throw .tooBigBulkCountString }
            return false
        }
        guard newline + 1 < readable else {
            self.searchedUpTo = newline
            return false
        }
        let first = buffer.getInteger(at: buffer.readerIndex + start, as: UInt8.self)!
        guard first == UInt8(ascii: "$") else { throw .expectedDollar(got: first) }
        let length = buffer.withUnsafeReadableBytes { bytes in
            RESPDecimalParsing.parseStrictInt64(UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<newline]))
        }
        guard let length, length >= 0, length <= Int64(limits.maxBulkLength) else { throw .invalidBulkLength }
        if !limits.authenticated && length > Int64(RESPRequestLimits.unauthenticatedMaxBulkLength) {
            throw .unauthenticatedBulkLength
        }
        self.cursor = newline + 2
        self.searchedUpTo = self.cursor
        self.bulkLength = Int(length)
        self.phase = .bulkPayload
        return true
    }

    /// What one inline line turned out to be.
    private enum InlineOutcome {
        case needMoreBytes
        case skipped
        case command
    }

    /// Parses one inline line, consuming it when it is complete.
    private mutating func parseInline(
        _ buffer: inout ByteBuffer,
        into arguments: inout [ByteBuffer],
        limits: RESPRequestLimits
    ) throws(RESPProtocolError) -> InlineOutcome {
        let readable = buffer.readableBytes
        let maxLength = limits.maxInlineLength
        // The content may be maxLength bytes, followed by CR LF.
        let windowEnd = readable < maxLength + 2 ? readable : maxLength + 2
        guard let newline = self.find(UInt8(ascii: "\n"), in: buffer, before: windowEnd) else {
            let tooBig: Bool
            if readable > maxLength + 1 {
                tooBig = true
            } else if readable == maxLength + 1 {
                tooBig = buffer.getInteger(at: buffer.readerIndex + maxLength, as: UInt8.self) != UInt8(ascii: "\r")
            } else {
                tooBig = false
            }
            if tooBig { throw .tooBigInlineRequest }
            return .needMoreBytes
        }
        let split: [[UInt8]]? = buffer.withUnsafeReadableBytes { bytes in
            let hasCarriageReturn = newline > 0 && bytes[newline - 1] == UInt8(ascii: "\r")
            let contentLength = hasCarriageReturn ? newline - 1 : newline
            guard contentLength <= maxLength else { return nil }
            return RESPInlineSplitter.split(UnsafeRawBufferPointer(rebasing: bytes[0..<contentLength]))
        }
        guard let split else {
            // Distinguish the two reasons for nil.
            let hasCarriageReturn =
                newline > 0
                && buffer.getInteger(at: buffer.readerIndex + newline - 1, as: UInt8.self) == UInt8(ascii: "\r")
            if (hasCarriageReturn ? newline - 1 : newline) > maxLength { throw .tooBigInlineRequest }
            throw .unbalancedQuotes
        }
        buffer.moveReaderIndex(forwardBy: newline + 1)
        self.searchedUpTo = 0
        if split.isEmpty { return .skipped }
        arguments.removeAll(keepingCapacity: true)
        for argument in split {
            arguments.append(ByteBuffer(bytes: argument))
        }
        return .command
    }
}
