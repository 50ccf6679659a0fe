import NIOCore
import RoostProtocol
import Testing

@Suite("RESPRequestParser: errors and limits")
struct RESPRequestParserErrorTests {
    // Every fixture here was sent to redis-server 7.0.15 (`--save "" --appendonly no`) over a raw socket;
    // the expected string is what it replied after "-ERR " before closing the connection.
    @Test(
        "malformed input yields Redis's exact error",
        arguments: [
            ("*x\r\n", "Protocol error: invalid multibulk length"),
            ("*\r\n", "Protocol error: invalid multibulk length"),
            ("*01\r\n", "Protocol error: invalid multibulk length"),
            ("*+1\r\n", "Protocol error: invalid multibulk length"),
            ("*1 \r\n", "Protocol error: invalid multibulk length"),
            ("*12x\r\n", "Protocol error: invalid multibulk length"),
            ("*2147483648\r\n", "Protocol error: invalid multibulk length"),
            ("*-9999999999999999999\r\n", "Protocol error: invalid multibulk length"),
            ("*00000000000000000000001\r\n", "Protocol error: invalid multibulk length"),
            ("*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\n$01\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\n$-0\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"),
            ("*1\r\n\r\n\r\n", "Protocol error: expected '$', got ' '"),
            ("*2\r\n$4\r\nECHO\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
            ("\"abc\r\n", "Protocol error: unbalanced quotes in request"),
            ("\"a\"b\r\n", "Protocol error: unbalanced quotes in request"),
            ("ECHO 'a\\\\'\r\n", "Protocol error: unbalanced quotes in request"),
            ("ECHO a\"b c\"d\r\n", "Protocol error: unbalanced quotes in request"),
            ("ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"),
            ("ECHO \"a\\\r\n", "Protocol error: unbalanced quotes in request"),
            ("ECHO 'ab\r\n", "Protocol error: unbalanced quotes in request"),
        ])
    func malformed(text: String, message: String) {
        #expect(Fixture.error(Array(text.utf8)) == message)
    }

    // Confirmed with redis-server 7.0.15: these wait for more input rather than failing.
    @Test(
        "incomplete input waits",
        arguments: [
            "*1\r\nx", "*1\r", "*1\r\n$4\r\nPING", "*1\r\n$4\r\nPING\r", "*2147483647\r\n", "*1\r\n$536870912\r\n",
            "*-5", "PING", "PING\r",
        ])
    func incomplete(text: String) throws {
        var parser = RESPRequestParser()
        var buffer = Fixture.buffer(text)
        var arguments: [ByteBuffer] = []
        #expect(try !parser.parse(&buffer, into: &arguments, limits: RESPRequestLimits()))
    }

    @Test("a byte above 0x7F after a multibulk header is reported as a character")
    func nonASCIIDollar() {
        // Redis sends the raw byte 0xFF; a String holds U+00FF.
        #expect(
            Fixture.error(Array("*1\r\n".utf8) + [0xFF, 0x0D, 0x0A]) == "Protocol error: expected '$', got '\u{FF}'"
        )
    }

    // Confirmed with redis-server 7.0.15 and `requirepass` set, before AUTH.
    @Test("pre-authentication limits")
    func unauthenticated() throws {
        let limits = RESPRequestLimits(authenticated: false)
        #expect(
            Fixture.error(Array("*11\r\n".utf8), limits: limits) == "Protocol error: unauthenticated multibulk length"
        )
        #expect(
            try Fixture.parseAll(
                Array(("*10\r\n" + String(repeating: "$1\r\na\r\n", count: 10)).utf8),
                limits: limits
            ).first?.count == 10)
        #expect(
            Fixture.error(Array("*10\r\n$16385\r\n".utf8), limits: limits)
                == "Protocol error: unauthenticated bulk length")
        #expect(Fixture.error(Array("*1\r\n$16384\r\n".utf8), limits: limits) == nil)
        // The invalid checks come first.
        let invalidMultibulk = "Protocol error: invalid multibulk length"
        #expect(Fixture.error(Array("*2147483648\r\n".utf8), limits: limits) == invalidMultibulk)
        let invalidBulk = "Protocol error: invalid bulk length"
        #expect(Fixture.error(Array("*1\r\n$536870913\r\n".utf8), limits: limits) == invalidBulk)
        // Authenticated, the same requests are fine.
        #expect(Fixture.error(Array("*11\r\n$16385\r\n".utf8)) == nil)
    }

    @Test("configured bulk and multibulk limits")
    func configuredLimits() throws {
        let limits = RESPRequestLimits(maxBulkLength: 5, maxMultibulkLength: 3)
        #expect(Fixture.error(Array("*1\r\n$6\r\n".utf8), limits: limits) == "Protocol error: invalid bulk length")
        #expect(try Fixture.parseAll(Array("*1\r\n$5\r\nabcde\r\n".utf8), limits: limits) == [["abcde"]])
        #expect(Fixture.error(Array("*4\r\n".utf8), limits: limits) == "Protocol error: invalid multibulk length")
        #expect(Fixture.error(Array("*3\r\n".utf8), limits: limits) == nil)
        #expect(RESPRequestLimits().maxBulkLength == 512 * 1024 * 1024)
        #expect(RESPRequestLimits().maxMultibulkLength == Int(Int32.max))
        #expect(RESPRequestLimits().maxInlineLength == 64 * 1024)
    }

    // Confirmed with redis-server 7.0.15: 70000 bytes without a terminator give these errors; an inline line
    // of exactly 65536 bytes plus CRLF is accepted.
    @Test("line length limits")
    func lineLimits() throws {
        let max = 64 * 1024
        let tooBig = "Protocol error: too big inline request"
        #expect(Fixture.error(Array(repeating: UInt8(ascii: "a"), count: 70_000)) == tooBig)
        #expect(Fixture.error(Array(repeating: UInt8(ascii: "a"), count: max + 1)) == tooBig)
        #expect(Fixture.error(Array(repeating: UInt8(ascii: "a"), count: max)) == nil)
        #expect(Fixture.error(Array(repeating: UInt8(ascii: "a"), count: max) + [0x0D]) == nil)
        let exact = Array("ECHO ".utf8) + Array(repeating: UInt8(ascii: "a"), count: max - 5)
        #expect(try Fixture.parseAll(exact + Array("\r\n".utf8)).first?.last?.utf8.count == max - 5)
        #expect(try Fixture.parseAll(exact + Array("\n".utf8)).first?.last?.utf8.count == max - 5)
        #expect(Fixture.error(exact + Array("a\r\n".utf8)) == "Protocol error: too big inline request")
        #expect(
            Fixture.error([UInt8(ascii: "*")] + Array(repeating: UInt8(ascii: "1"), count: 70_000))
                == "Protocol error: too big mbulk count string")
        #expect(Fixture.error([UInt8(ascii: "*")] + Array(repeating: UInt8(ascii: "1"), count: max - 1)) == nil)
        #expect(
            Fixture.error(Array("*1\r\n$".utf8) + Array(repeating: UInt8(ascii: "1"), count: 70_000))
                == "Protocol error: too big bulk count string")
        let small = RESPRequestLimits(maxInlineLength: 8)
        #expect(Fixture.error(Array("PING PING\r\n".utf8), limits: small) == "Protocol error: too big inline request")
        #expect(try Fixture.parseAll(Array("PING PIN\r\n".utf8), limits: small) == [["PING", "PIN"]])
    }

    @Test("the inline limit holds however the line is chunked")
    func inlineLimitChunked() {
        let limits = RESPRequestLimits(maxInlineLength: 8)
        let bytes = Array("PING PING PING\r\n".utf8)
        for split in 0...bytes.count {
            #expect(throws: RESPProtocolError.tooBigInlineRequest) {
                try Fixture.parseAll([bytes[..<split], bytes[split...]], limits: limits)
            }
        }
    }
}
