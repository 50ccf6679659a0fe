import NIOCore
import Testing

@testable import RoostServer

/// The memcached request parser against byte fixtures: framing, arbitrary chunking, every limit and malformed input.
@Suite("Memcache request parser")
struct MemcacheRequestParserTests {
    /// Parses `input` fed in chunks of `chunk` bytes and describes each request.
    static func parse(
        _ input: String, chunk: Int = Int.max, limits: MemcacheRequestParser.Limits = .init()
    ) -> [String] {
        parse(Array(input.utf8), chunk: chunk, limits: limits)
    }

    static func parse(
        _ input: [UInt8], chunk: Int = Int.max, limits: MemcacheRequestParser.Limits = .init()
    ) -> [String] {
        var parser = MemcacheRequestParser()
        var buffer = ByteBuffer()
        var results: [String] = []
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + chunk)
            buffer.writeBytes(input[offset..<end])
            offset = end
            while let request = parser.parse(&buffer, limits: limits) {
                results.append(describe(request))
                if case .close = request { return results }
            }
        }
        return results
    }

    static func describe(_ request: MemcacheRequest) -> String {
        switch request {
        case .retrieve(let keys, let cas, let touch):
            return "retrieve \(keys.map { String(buffer: $0) }) cas=\(cas) touch=\(touch.map(String.init) ?? "-")"
        case .store(let store):
            return
                "store \(store.mode) \(String(buffer: store.key)) \(store.clientFlags) \(store.exptime) "
                + "\(store.casUnique) noreply=\(store.noreply) [\(String(buffer: store.value))]"
        case .arithmetic(let key, let delta, let increment, let noreply):
            return "arithmetic \(String(buffer: key)) \(delta) \(increment) noreply=\(noreply)"
        case .touch(let key, let exptime, let noreply): return "touch \(String(buffer: key)) \(exptime) \(noreply)"
        case .delete(let key, let noreply): return "delete \(String(buffer: key)) \(noreply)"
        case .flushAll(let delay, let noreply): return "flush_all \(delay) \(noreply)"
        case .version: return "version"
        case .verbosity(let noreply): return "verbosity \(noreply)"
        case .stats(let group): return "stats \(group ?? "-")"
        case .quit: return "quit"
        case .metaNoop: return "mn"
        case .forwardedConnection: return "roost_forwarded"
        case .metaDebug(let key, let base64): return "me \(String(buffer: key)) \(base64)"
        case .metaGet(let key, let flags): return "mg \(String(buffer: key)) \(describe(flags))"
        case .metaSet(let key, let flags, let value):
            return "ms \(String(buffer: key)) \(describe(flags)) [\(String(buffer: value))]"
        case .metaDelete(let key, let flags): return "md \(String(buffer: key)) \(describe(flags))"
        case .metaArithmetic(let key, let flags): return "ma \(String(buffer: key)) \(describe(flags))"
        case .failure(let text, let noreply): return noreply ? "(\(text))" : text
        case .tooLarge(_, _, let noreply):
            let text = "SERVER_ERROR object too large for cache"
            return noreply ? "(\(text))" : text
        case .close: return "close"
        }
    }

    static func describe(_ flags: MemcacheMetaFlags) -> String {
        var parts: [String] = []
        if flags.returnsValue { parts.append("v") }
        if flags.quiet { parts.append("q") }
        if flags.base64Key { parts.append("b") }
        if let ttl = flags.ttl { parts.append("T\(ttl)") }
        if let vivify = flags.vivify { parts.append("N\(vivify)") }
        if let recache = flags.recache { parts.append("R\(recache)") }
        if flags.clientFlags != 0 { parts.append("F\(flags.clientFlags)") }
        if let cas = flags.compareCAS { parts.append("C\(cas)") }
        if let mode = flags.mode { parts.append("M" + String(UnicodeScalar(mode))) }
        if flags.invalidate { parts.append("I") }
        return parts.joined(separator: ",")
    }

    @Test(arguments: [1, 2, 3, 7, Int.max])
    func framesAnyChunking(_ chunk: Int) {
        let input =
            "set k 1 2 5\r\nhello\r\nget a b\r\ngets c\r\nincr n 5 noreply\r\ndelete k\r\nms m 2 T5 F3 c\r\nhi\r\n"
            + "mg m v k\r\nmn\r\n"
        #expect(
            Self.parse(input, chunk: chunk) == [
                "store set k 1 2 0 noreply=false [hello]", "retrieve [\"a\", \"b\"] cas=false touch=-",
                "retrieve [\"c\"] cas=true touch=-", "arithmetic n 5 true noreply=true", "delete k false",
                "ms m T5,F3 [hi]", "mg m v", "mn",
            ])
    }

    @Test func lineEndingsAndSpacing() {
        #expect(Self.parse("get  a   b \nversion\r\n") == ["retrieve [\"a\", \"b\"] cas=false touch=-", "version"])
        // Bytes after a NUL are ignored, as memcached's C strings do.
        #expect(Self.parse(Array("get a\u{0}b\r\n".utf8)) == ["retrieve [\"a\"] cas=false touch=-"])
    }

    @Test func unknownAndShortCommandsAreErrors() {
        #expect(Self.parse("x\r\n\r\nfoo bar\r\nGET a\r\nget\r\nmx a\r\nmg\r\n") == Array(repeating: "ERROR", count: 7))
    }

    @Test func storageArityAndNumbers() {
        #expect(Self.parse("set k 0 0\r\n") == ["ERROR"])
        #expect(Self.parse("cas k 0 0 1\r\n") == ["ERROR"])
        #expect(Self.parse("set k x 0 1\r\nx\r\n") == ["CLIENT_ERROR bad command line format", "ERROR"])
        #expect(Self.parse("set k 0 0 -1\r\n") == ["CLIENT_ERROR bad command line format"])
        #expect(Self.parse("set k 4294967296 0 1\r\n") == ["CLIENT_ERROR bad command line format"])
        #expect(Self.parse("set k 0 0 1 noreply\r\nx\r\n") == ["store set k 0 0 0 noreply=true [x]"])
        // A malformed line with noreply gets its error suppressed, as memcached does.
        #expect(Self.parse("set k 0 x 1 noreply\r\n") == ["(CLIENT_ERROR bad command line format)"])
        #expect(Self.parse("cas k 0 -5 1 77\r\nx\r\n") == ["store cas k 0 -5 77 noreply=false [x]"])
    }

    @Test func badDataChunk() {
        #expect(Self.parse("set k 0 0 1\r\nxyz\r\n") == ["CLIENT_ERROR bad data chunk", "ERROR"])
        #expect(Self.parse("ms k 1\r\nxy\r\n") == ["CLIENT_ERROR bad data chunk", "ERROR"])
    }

    @Test func keyLimits() {
        let longest = String(repeating: "k", count: 250)
        #expect(Self.parse("get \(longest)\r\n") == ["retrieve [\"\(longest)\"] cas=false touch=-"])
        let tooLong = longest + "k"
        for line in [
            "get a \(tooLong)", "set \(tooLong) 0 0 1", "incr \(tooLong) 1", "delete \(tooLong)", "touch \(tooLong) 1",
            "mg \(tooLong) v", "md \(tooLong)", "ma \(tooLong)", "me \(tooLong)", "ms \(tooLong) 1",
        ] {
            #expect(Self.parse(line + "\r\n").first == "CLIENT_ERROR bad command line format", "\(line.prefix(8))")
        }
        // Control characters are accepted, as memcached accepts them (memcaslap's keys carry them).
        #expect(Self.parse(Array("get a\u{1}b\r\n".utf8)) == ["retrieve [\"a\\u{01}b\"] cas=false touch=-"])
    }

    @Test func lineLengthLimit() {
        let junk = String(repeating: "x", count: 2049)
        #expect(Self.parse(junk) == ["close"])
        #expect(Self.parse(String(junk.prefix(2048))) == [])
        // A long multi-get is allowed to grow (memcached's exception), within the parser's own bound.
        let keys = (0..<400).map { "key\($0)" }.joined(separator: " ")
        #expect(Self.parse("get \(keys)\r\n", chunk: 100).first?.hasPrefix("retrieve [\"key0\"") == true)
        var small = MemcacheRequestParser.Limits()
        small.maxRetrievalLineLength = 2500
        #expect(Self.parse("get \(keys)\r\n", chunk: 100, limits: small) == ["close"])
        #expect(Self.parse("gat 1 \(keys)\r\n") != ["close"])
        #expect(Self.parse("gat 1 \(keys)\r\n", chunk: 100) == ["close"])
    }

    @Test func itemSizeLimitSwallowsTheDataBlock() {
        var limits = MemcacheRequestParser.Limits()
        limits.maxItemSize = 1024
        let fits = 1024 - MemcacheRequestParser.Limits.itemSize(keyLength: 1, valueLength: 0, clientFlags: 0)
        let ok = String(repeating: "v", count: fits)
        #expect(Self.parse("set k 0 0 \(fits)\r\n\(ok)\r\n", limits: limits).first?.hasPrefix("store set k") == true)
        let big = String(repeating: "v", count: fits + 1)
        let input = "set k 0 0 \(fits + 1)\r\n\(big)\r\nmn\r\n"
        #expect(Self.parse(input, chunk: 13, limits: limits) == ["SERVER_ERROR object too large for cache", "mn"])
        #expect(
            Self.parse("ms k \(fits + 1)\r\n\(big)\r\nmn\r\n", limits: limits) == [
                "SERVER_ERROR object too large for cache", "mn",
            ])
        // A huge announced length reserves nothing: the parser only waits for bytes that never come.
        #expect(
            Self.parse("set k 0 0 2147483645\r\nabc", limits: limits) == ["SERVER_ERROR object too large for cache"])
    }

    @Test func textCommandErrors() {
        #expect(Self.parse("incr k x\r\n") == ["CLIENT_ERROR invalid numeric delta argument"])
        #expect(Self.parse("incr k -1\r\n") == ["CLIENT_ERROR invalid numeric delta argument"])
        #expect(Self.parse("incr k\r\n") == ["ERROR"])
        #expect(Self.parse("touch k x\r\n") == ["CLIENT_ERROR invalid exptime argument"])
        #expect(Self.parse("gat x k\r\n") == ["CLIENT_ERROR invalid exptime argument"])
        #expect(Self.parse("gat 10\r\n") == ["retrieve [] cas=false touch=10"])
        #expect(Self.parse("delete\r\ndelete a b c d e\r\n") == ["ERROR", "ERROR"])
        let usage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
        #expect(
            Self.parse("delete a 1\r\ndelete a 0\r\ndelete a 0 noreply\r\n") == [
                usage, "delete a false", "delete a true",
            ])
        #expect(
            Self.parse("flush_all x\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 0 noreply\r\n") == [
                "CLIENT_ERROR invalid exptime argument", "flush_all 10 false", "flush_all 0 true", "flush_all 0 true",
            ])
        #expect(
            Self.parse("verbosity\r\nverbosity 1\r\nverbosity x\r\nverbosity noreply\r\n") == [
                "ERROR", "verbosity false", "CLIENT_ERROR bad command line format",
                "(CLIENT_ERROR bad command line format)",
            ])
        #expect(
            Self.parse("stats\r\nstats items\r\nversion x\r\nquit now\r\n") == [
                "stats -", "stats items", "version", "quit",
            ])
    }

    @Test func metaFlags() {
        #expect(Self.parse("mg k v q b\r\n") == ["CLIENT_ERROR error decoding key"])
        #expect(Self.parse("mg Zm9v v q b T-1 N30 R5\r\n") == ["mg foo v,q,b,T-1,N30,R5"])
        #expect(Self.parse("ms k 2 MA C9 I F7\r\nhi\r\n") == ["ms k F7,C9,MA,I [hi]"])
        #expect(Self.parse("mg k v v\r\n") == ["CLIENT_ERROR duplicate flag"])
        #expect(Self.parse("mg k @\r\n") == ["CLIENT_ERROR invalid flag"])
        #expect(Self.parse("mg k T\r\n") == ["CLIENT_ERROR bad token in command line format"])
        #expect(
            Self.parse("md k v v\r\nma k @\r\n") == Array(repeating: "CLIENT_ERROR invalid or duplicate flag", count: 2)
        )
        #expect(Self.parse("ma k MX\r\n") == ["CLIENT_ERROR invalid mode for ma M token"])
        #expect(Self.parse("ma k MII\r\n") == ["CLIENT_ERROR invalid or duplicate flag"])
        #expect(Self.parse("ms k 2 MX\r\nhi\r\nmn\r\n") == ["CLIENT_ERROR invalid mode for ms M token", "mn"])
        #expect(Self.parse("ms k 2 v v\r\nhi\r\nmn\r\n") == ["CLIENT_ERROR duplicate flag", "mn"])
        #expect(Self.parse("ms k x\r\nms k\r\n") == Array(repeating: "CLIENT_ERROR bad command line format", count: 2))
        let opaque = "O" + String(repeating: "1", count: 32)
        #expect(Self.parse("mg k \(opaque)\r\n") == ["CLIENT_ERROR opaque token too long"])
        #expect(Self.parse("mg k \(opaque.dropLast())\r\n") == ["mg k "])
        let many = (0..<18).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }.joined(separator: " ")
        #expect(Self.parse("mg k \(many)\r\n") == ["CLIENT_ERROR options flags are too long"])
        #expect(Self.parse("md k \(many)\r\n") == ["CLIENT_ERROR options flags too long"])
        #expect(
            Self.parse("me k\r\nme Zm9v b\r\nme !!!! b\r\n") == [
                "me k false", "me foo true", "CLIENT_ERROR bad command line format",
            ])
    }

    @Test func numbersAndBase64() {
        func unsigned(_ text: String) -> UInt64? {
            Array(text.utf8).withUnsafeBytes { MemcacheNumber.parseUnsigned($0, max: .max) }
        }
        func signed(_ text: String) -> Int32? {
            Array(text.utf8).withUnsafeBytes { MemcacheNumber.parseInt32($0) }
        }
        #expect(unsigned("18446744073709551615") == .max)
        #expect(unsigned("18446744073709551616") == nil)
        #expect(unsigned("+5") == 5 && unsigned("-5") == nil && unsigned("") == nil && unsigned("5x") == nil)
        #expect(unsigned("5\t") == 5)
        #expect(signed("-2147483648") == .min && signed("2147483648") == nil && signed("-+1") == nil)
        for text in ["a", "ab", "abc", "abcd", "\u{0}\u{1}\u{ff}"] {
            var encoded = ByteBuffer()
            Array(text.utf8).withUnsafeBytes { MemcacheBase64.encode($0, into: &encoded) }
            let decoded = encoded.withUnsafeReadableBytes { MemcacheBase64.decode($0) }
            #expect(decoded.map { Array($0.readableBytesView) } == Array(text.utf8))
        }
        #expect(Array("abc".utf8).withUnsafeBytes { MemcacheBase64.decode($0) } == nil)
        #expect(Array("====".utf8).withUnsafeBytes { MemcacheBase64.decode($0) } == nil)
    }
}
