import NIOCore

/// An incremental parser for memcached's text and meta protocols: bytes in, ``MemcacheRequest``s out.
///
/// ## Framing
/// A command is one line ending in `\n` (a `\r` before it is dropped), split into tokens at spaces only, as
/// memcached's `tokenize_command` does; bytes after a NUL are ignored, as memcached's C strings do. Storage commands
/// (`set` … `cas`, `ms`) are followed by a data block of the announced length and `\r\n`.
///
/// ## Limits (memcached 1.6's)
/// - A line with no `\n` in its first 2048 bytes closes the connection without a reply, unless it is a `get`/`gets`
///   (a large multi-get), which may grow to ``Limits/maxRetrievalLineLength``.
/// - Keys longer than 250 bytes (on the wire, before base64 decoding) get `CLIENT_ERROR bad command line format`.
///   Other bytes are accepted as memcached accepts them: protocol.txt forbids control characters in keys, but
///   memcached does not check, and real clients send them (memcaslap's generated keys do).
/// - A data block larger than the item size limit is answered `SERVER_ERROR object too large for cache` and
///   swallowed as it arrives, never buffered: no memory is reserved from a length the client sent until it has been
///   checked against the limit.
///
/// Errors carry memcached's exact reply. After one, the parser carries on with the next line (and swallows the
/// data block where memcached does), so nothing else breaks.
struct MemcacheRequestParser {
    /// Size limits, from the configuration.
    struct Limits {
        /// memcached's `-I`: the largest item, counting memcached's per-item overhead (see ``itemSize``).
        var maxItemSize = 1024 * 1024
        /// A `get`/`gets` line may grow past ``maxLineLength`` (memcached's multi-gets are unbounded); Roost bounds
        /// it here.
        var maxRetrievalLineLength = 64 * 1024 * 1024

        /// The longest command line without a `\n` before the connection is closed (memcached's 2048).
        static let maxLineLength = 2048
        /// memcached's `KEY_MAX_LENGTH`.
        static let maxKeyLength = 250
        /// memcached's `MFLAG_MAX_OPAQUE_LENGTH`.
        static let maxOpaqueLength = 32

        /// An item's size as memcached's `item_size_ok` counts it: the 48-byte item header, the key and its NUL, the
        /// value and its CRLF, 4 bytes of client flags unless they are 0, and the 8-byte CAS.
        static func itemSize(keyLength: Int, valueLength: Int, clientFlags: UInt32) -> Int {
            48 + keyLength + 1 + valueLength + 2 + (clientFlags == 0 ? 0 : 4) + 8
        }
    }

    enum State {
        /// Reading a command line; `scanned` bytes were already searched for `\n`.
        case line(scanned: Int)
        /// Waiting for a data block of `length` bytes plus CRLF.
        case data(Pending, length: Int)
        /// Discarding this many bytes (a refused data block).
        case swallow(Int)
    }

    /// A storage command whose data block has not arrived yet.
    enum Pending {
        case store(MemcacheStore)
        case metaSet(key: ByteBuffer, flags: MemcacheMetaFlags)
    }

    /// Where the parser is (internal for its extensions).
    var state = State.line(scanned: 0)
    /// Token ranges of the current line, reused.
    private var tokens: [Range<Int>] = []

    /// The next complete request in `buffer` (consuming its bytes), or nil when more bytes are needed.
    mutating func parse(_ buffer: inout ByteBuffer, limits: Limits) -> MemcacheRequest? {
        while true {
            switch state {
            case .swallow(let remaining):
                let count = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: count)
                guard count == remaining else {
                    state = .swallow(remaining - count)
                    return nil
                }
                state = .line(scanned: 0)
            case .data(let pending, let length):
                guard buffer.readableBytes >= length + 2 else { return nil }
                let value = buffer.readSlice(length: length)!
                let terminated = buffer.readInteger(as: UInt16.self) == 0x0D0A
                state = .line(scanned: 0)
                switch pending {
                case .store(var store):
                    guard terminated else { return .failure("CLIENT_ERROR bad data chunk", noreply: store.noreply) }
                    store.value = value
                    return .store(store)
                case .metaSet(let key, let flags):
                    guard terminated else { return .failure("CLIENT_ERROR bad data chunk", noreply: false) }
                    return .metaSet(key: key, flags: flags, value: value)
                }
            case .line(let scanned):
                let view = buffer.readableBytesView
                guard let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
                    state = .line(scanned: view.count)
                    if view.count > Limits.maxLineLength {
                        if !Self.isRetrieval(view) || view.count > limits.maxRetrievalLineLength { return .close }
                    }
                    return nil
                }
                let consumed = newline - view.startIndex + 1
                var length = consumed - 1
                if length > 1 && view[newline - 1] == UInt8(ascii: "\r") { length -= 1 }
                if let nul = view[view.startIndex..<(view.startIndex + length)].firstIndex(of: 0) {
                    length = nul - view.startIndex
                }
                let line = buffer.getSlice(at: buffer.readerIndex, length: length)!
                buffer.moveReaderIndex(forwardBy: consumed)
                state = .line(scanned: 0)
                // nil: a storage command, whose data block is read next.
                if let request = parseLine(line, limits: limits) { return request }
            }
        }
    }

    /// Whether a line without its end yet is a `get`/`gets` (after at most 100 spaces), which memcached lets grow.
    private static func isRetrieval(_ view: ByteBufferView) -> Bool {
        var index = view.startIndex
        while index < view.endIndex && view[index] == UInt8(ascii: " ") { index += 1 }
        guard index - view.startIndex <= 100 else { return false }
        let rest = view[index...]
        return rest.starts(with: "get ".utf8) || rest.starts(with: "gets ".utf8)
    }

    // MARK: Lines

    private mutating func parseLine(_ line: ByteBuffer, limits: Limits) -> MemcacheRequest? {
        tokenize(line)
        let command = MemcacheLine(buffer: line, tokens: tokens)
        defer { tokens.removeAll(keepingCapacity: true) }
        guard command.count >= 1, command.length(0) >= 2 else { return .failure("ERROR", noreply: false) }
        let first = command.byte(0, 0)
        if first == UInt8(ascii: "m") && command.length(0) == 2 {
            return parseMeta(command, limits: limits)
        }
        if first == UInt8(ascii: "g") {
            guard command.ntokens >= 3 else { return .failure("ERROR", noreply: false) }
            if command.is(0, "get") || command.is(0, "bget") {
                return retrieval(command, returnsCAS: false, touch: false)
            }
            if command.is(0, "gets") { return retrieval(command, returnsCAS: true, touch: false) }
            if command.is(0, "gat") { return retrieval(command, returnsCAS: false, touch: true) }
            if command.is(0, "gats") { return retrieval(command, returnsCAS: true, touch: true) }
            return .failure("ERROR", noreply: false)
        }
        if command.is(0, "set") { return storage(command, .set, limits: limits) }
        if command.is(0, "add") { return storage(command, .add, limits: limits) }
        if command.is(0, "replace") { return storage(command, .replace, limits: limits) }
        if command.is(0, "append") { return storage(command, .append, limits: limits) }
        if command.is(0, "prepend") { return storage(command, .prepend, limits: limits) }
        if command.is(0, "cas") { return storage(command, .cas, limits: limits) }
        if command.is(0, "incr") { return arithmetic(command, increment: true) }
        if command.is(0, "decr") { return arithmetic(command, increment: false) }
        if command.is(0, "delete") { return delete(command) }
        if command.is(0, "touch") { return touch(command) }
        if command.is(0, "flush_all") { return flushAll(command) }
        if command.is(0, "stats") {
            return .stats(group: command.ntokens == 2 ? nil : String(buffer: command.slice(1)))
        }
        // memcached 1.6 ignores arguments to `version` and `quit`.
        if command.is(0, "version") { return .version }
        if command.is(0, "quit") { return .quit }
        if command.is(0, "verbosity") { return verbosity(command) }
        if command.is(0, MemcacheForwarder.marker) { return .forwardedConnection }
        if command.is(0, "shutdown") { return .failure("ERROR: shutdown not enabled", noreply: false) }
        return .failure("ERROR", noreply: false)
    }

    /// Splits `line` at spaces. Only `get` and its family need more than memcached's 23 tokens; other lines stop
    /// at 24 (enough to tell a line with too many arguments), so a long line costs no more than that.
    private mutating func tokenize(_ line: ByteBuffer) {
        line.withUnsafeReadableBytes { bytes in
            let isRetrieval = bytes.first == UInt8(ascii: "g") || bytes.first == UInt8(ascii: "b")
            var start = 0
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: " ") {
                    if index > start {
                        tokens.append(start..<index)
                        if !isRetrieval && tokens.count > MemcacheLine.maxTokens { return }
                    }
                    start = index + 1
                }
                index += 1
            }
            if index > start { tokens.append(start..<index) }
        }
    }

    private func retrieval(_ command: MemcacheLine, returnsCAS: Bool, touch: Bool) -> MemcacheRequest {
        var first = 1
        var exptime: Int32?
        if touch {
            guard let parsed = command.int32(1) else {
                return .failure("CLIENT_ERROR invalid exptime argument", noreply: false)
            }
            exptime = parsed
            first = 2
        }
        var keys: [ByteBuffer] = []
        keys.reserveCapacity(command.count - first)
        for index in first..<max(first, command.count) {
            guard command.isValidKey(index) else {
                return .failure("CLIENT_ERROR bad command line format", noreply: false)
            }
            keys.append(command.slice(index))
        }
        return .retrieve(keys: keys, returnsCAS: returnsCAS, touch: exptime)
    }

    /// The storage command's request, or nil when its data block is to be read next.
    private mutating func storage(
        _ command: MemcacheLine, _ mode: MemcacheStore.Mode, limits: Limits
    ) -> MemcacheRequest? {
        let expected = mode == .cas ? 7 : 6
        guard command.ntokens == expected || command.ntokens == expected + 1 else {
            return .failure("ERROR", noreply: false)
        }
        let noreply = command.hasNoreply
        let badFormat = MemcacheRequest.failure("CLIENT_ERROR bad command line format", noreply: noreply)
        guard command.isValidKey(1) else { return badFormat }
        guard let flags = command.uint32(2), let exptime = command.int32(3), let length = command.int32(4) else {
            return badFormat
        }
        var casUnique: UInt64 = 0
        if mode == .cas {
            guard let parsed = command.uint64(5) else { return badFormat }
            casUnique = parsed
        }
        guard length >= 0 && length <= Int32.max - 2 else { return badFormat }
        let key = command.slice(1)
        let size = Limits.itemSize(keyLength: key.readableBytes, valueLength: Int(length), clientFlags: flags)
        guard size <= limits.maxItemSize else {
            state = .swallow(Int(length) + 2)
            return .tooLarge(key: key, removesOldValue: mode == .set, noreply: noreply)
        }
        let store = MemcacheStore(
            mode: mode, key: key, clientFlags: flags, exptime: exptime, casUnique: casUnique, noreply: noreply,
            value: ByteBuffer())
        state = .data(.store(store), length: Int(length))
        return nil
    }

    private func arithmetic(_ command: MemcacheLine, increment: Bool) -> MemcacheRequest {
        guard command.ntokens == 4 || command.ntokens == 5 else { return .failure("ERROR", noreply: false) }
        let noreply = command.hasNoreply
        guard command.isValidKey(1) else {
            return .failure("CLIENT_ERROR bad command line format", noreply: noreply)
        }
        guard let delta = command.uint64(2) else {
            return .failure("CLIENT_ERROR invalid numeric delta argument", noreply: noreply)
        }
        return .arithmetic(key: command.slice(1), delta: delta, increment: increment, noreply: noreply)
    }

    private func delete(_ command: MemcacheLine) -> MemcacheRequest {
        guard command.ntokens >= 3 && command.ntokens <= 5 else { return .failure("ERROR", noreply: false) }
        var noreply = false
        if command.ntokens > 3 {
            let holdIsZero = command.is(2, "0")
            noreply = command.hasNoreply
            let valid =
                (command.ntokens == 4 && (holdIsZero || noreply)) || (command.ntokens == 5 && holdIsZero && noreply)
            guard valid else {
                return .failure(
                    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", noreply: noreply)
            }
        }
        guard command.isValidKey(1) else {
            return .failure("CLIENT_ERROR bad command line format", noreply: noreply)
        }
        return .delete(key: command.slice(1), noreply: noreply)
    }

    private func touch(_ command: MemcacheLine) -> MemcacheRequest {
        guard command.ntokens == 4 || command.ntokens == 5 else { return .failure("ERROR", noreply: false) }
        let noreply = command.hasNoreply
        guard command.isValidKey(1) else {
            return .failure("CLIENT_ERROR bad command line format", noreply: noreply)
        }
        guard let exptime = command.int32(2) else {
            return .failure("CLIENT_ERROR invalid exptime argument", noreply: noreply)
        }
        return .touch(key: command.slice(1), exptime: exptime, noreply: noreply)
    }

    private func flushAll(_ command: MemcacheLine) -> MemcacheRequest {
        guard command.ntokens >= 2 && command.ntokens <= 4 else { return .failure("ERROR", noreply: false) }
        let noreply = command.hasNoreply
        var delay: Int32 = 0
        if command.ntokens != (noreply ? 3 : 2) {
            guard let parsed = command.int32(1) else {
                return .failure("CLIENT_ERROR invalid exptime argument", noreply: noreply)
            }
            delay = parsed
        }
        return .flushAll(delay: delay, noreply: noreply)
    }

    private func verbosity(_ command: MemcacheLine) -> MemcacheRequest {
        guard command.ntokens == 3 || command.ntokens == 4 else { return .failure("ERROR", noreply: false) }
        let noreply = command.hasNoreply
        guard command.uint32(1) != nil else {
            return .failure("CLIENT_ERROR bad command line format", noreply: noreply)
        }
        return .verbosity(noreply: noreply)
    }
}

/// One command line split into tokens, with memcached's checks on them.
struct MemcacheLine {
    /// memcached's `MAX_TOKENS` less the terminal token: lines are judged on their first 23 tokens.
    static let maxTokens = 23

    let buffer: ByteBuffer
    let tokens: [Range<Int>]

    /// The number of tokens.
    var count: Int { tokens.count }

    /// memcached's `ntokens`: the tokens (at most 23) plus its terminal token, which its arity checks count.
    var ntokens: Int { min(tokens.count, Self.maxTokens) + 1 }

    /// Whether the last token memcached looks at is `noreply`.
    var hasNoreply: Bool { ntokens >= 3 && self.is(ntokens - 2, "noreply") }

    func length(_ index: Int) -> Int { tokens[index].count }

    func byte(_ index: Int, _ offset: Int) -> UInt8 {
        buffer.getInteger(at: buffer.readerIndex + tokens[index].lowerBound + offset)!
    }

    /// Token `index` as a slice of the receive buffer (no copy).
    func slice(_ index: Int) -> ByteBuffer {
        buffer.getSlice(at: buffer.readerIndex + tokens[index].lowerBound, length: tokens[index].count)!
    }

    /// Calls `body` with the bytes of token `index` from `offset` on.
    func withToken<Result>(_ index: Int, from offset: Int = 0, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        buffer.withUnsafeReadableBytes { bytes in
            let range = tokens[index]
            return body(UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + offset)..<range.upperBound]))
        }
    }

    /// Whether token `index` is exactly `word`.
    func `is`(_ index: Int, _ word: StaticString) -> Bool {
        guard index < tokens.count, tokens[index].count == word.utf8CodeUnitCount else { return false }
        return withToken(index) { bytes in
            bytes.elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
        }
    }

    /// Whether token `index` is a key memcached accepts: at most 250 bytes.
    func isValidKey(_ index: Int) -> Bool {
        tokens[index].count <= MemcacheRequestParser.Limits.maxKeyLength
    }

    func uint32(_ index: Int, from offset: Int = 0) -> UInt32? {
        withToken(index, from: offset) { MemcacheNumber.parseUnsigned($0, max: UInt64(UInt32.max)) }.map {
            UInt32($0)
        }
    }

    func uint64(_ index: Int, from offset: Int = 0) -> UInt64? {
        withToken(index, from: offset) { MemcacheNumber.parseUnsigned($0, max: UInt64.max) }
    }

    func int32(_ index: Int, from offset: Int = 0) -> Int32? {
        withToken(index, from: offset) { MemcacheNumber.parseInt32($0) }
    }
}
