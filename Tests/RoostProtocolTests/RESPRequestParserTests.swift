import NIOCore
import RoostProtocol
import Testing

/// Valid pipelines and the commands they hold, used for the chunking tests.
let validPipelines: [(bytes: String, commands: [[String]])] = [
    ("*1\r\n$4\r\nPING\r\n", [["PING"]]),
    (
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
        [["SET", "key", "value"], ["GET", "key"]]
    ),
    // Empty bulk, binary-looking payload containing CRLF, and an empty multibulk in between.
    (
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n",
        [["SET", "k", ""], ["ECHO", "a\r\nb"]]
    ),
    // Inline commands, with CRLF and LF endings, blank lines, quoting, mixed with multibulk.
    (
        "PING\r\n\r\n\nECHO \"a b\" 'c'\n  \t \r\n*-1\r\n*1\r\n$4\r\nQUIT\r\nGET k\r\n",
        [["PING"], ["ECHO", "a b", "c"], ["QUIT"], ["GET", "k"]]
    ),
]

@Suite("RESPRequestParser: valid input")
struct RESPRequestParserValidTests {
    @Test(
        "whole, one byte at a time, and every two-way split give the same commands",
        arguments: validPipelines.indices)
    func chunking(index: Int) throws {
        let (text, expected) = validPipelines[index]
        let bytes = Array(text.utf8)
        #expect(try Fixture.parseAll(bytes) == expected)
        #expect(try Fixture.parseAll(bytes.map { [$0][...] }).commands == expected)
        for split in 0...bytes.count {
            #expect(try Fixture.parseAll([bytes[..<split], bytes[split...]]).commands == expected, "split at \(split)")
        }
    }

    @Test("arguments are slices of the input, and the reader index moves past the command only")
    func slicesAndConsumption() throws {
        var parser = RESPRequestParser()
        var buffer = Fixture.buffer("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI")
        var arguments: [ByteBuffer] = [Fixture.buffer("stale")]
        #expect(try parser.parse(&buffer, into: &arguments, limits: RESPRequestLimits()))
        #expect(arguments.map { String(buffer: $0) } == ["GET", "k"])
        #expect(String(buffer: buffer) == "*1\r\n$4\r\nPI")
        #expect(try !parser.parse(&buffer, into: &arguments, limits: RESPRequestLimits()))
        #expect(parser.hasPartialCommand)
        #expect(String(buffer: buffer) == "*1\r\n$4\r\nPI", "an incomplete command is not consumed")
        buffer.writeString("NG\r\n")
        #expect(try parser.parse(&buffer, into: &arguments, limits: RESPRequestLimits()))
        #expect(arguments.map { String(buffer: $0) } == ["PING"])
        #expect(buffer.readableBytes == 0)
        #expect(!parser.hasPartialCommand)
    }

    // Confirmed with redis-server 7.0.15: Redis does not check the two bytes after a bulk payload nor the byte
    // after the CR of a count line ("*1\r\n$4\r\nPINGxxPING\r\n" answers +PONG twice; "*1\rX$4\r\nPING\r\n"
    // answers +PONG).
    @Test("bytes after a bulk payload and after a count line's CR are not checked, as in Redis")
    func unchecked_terminators() throws {
        #expect(try Fixture.parseAll(Array("*1\r\n$4\r\nPINGxxPING\r\n".utf8)) == [["PING"], ["PING"]])
        #expect(try Fixture.parseAll(Array("*1\rX$4\r\nPING\r\n".utf8)) == [["PING"]])
        #expect(try Fixture.parseAll(Array("*1\r\n$4\rX\r\nPING\r\n".utf8)) == [["\r\nPI"]])
    }

    // Confirmed with redis-server 7.0.15 (ECHO replies).
    @Test(
        "inline quoting follows sdssplitargs",
        arguments: [
            ("ECHO \"a\\x41\\x4g\\n\"", ["ECHO", "aAx4g\n"]),
            ("ECHO \"a\\\"b\"", ["ECHO", "a\"b"]),
            ("ECHO 'it\\'s'", ["ECHO", "it's"]),
            ("ECHO \"\\t\\r\\b\\a\\z\\X41\\xZZ\"", ["ECHO", "\t\r\u{8}\u{7}zX41xZZ"]),
            ("ECHO a\u{0B}b", ["ECHO", "a\u{0B}b"]),
            ("\u{0B} ECHO x", ["ECHO", "x"]),
            ("ECHO \"a\"\u{0B}", ["ECHO", "a"]),
            ("ECHO a\rb", ["ECHO", "a", "b"]),
            ("ECHO \"\" ''", ["ECHO", "", ""]),
            ("ECHO a\"b c\" d", ["ECHO", "ab c", "d"]),
            ("ECHO 'a\\b'", ["ECHO", "a\\b"]),
            ("  SET   k\tv  ", ["SET", "k", "v"]),
        ])
    func inlineQuoting(line: String, expected: [String]) throws {
        #expect(try Fixture.parseAll(Array((line + "\r\n").utf8)) == [expected])
        #expect(try Fixture.parseAll(Array((line + "\n").utf8)) == [expected])
    }

    @Test("empty and negative multibulks are skipped; an empty line alone yields nothing")
    func skipped() throws {
        for text in ["*0\r\n", "*-1\r\n", "*-9223372036854775808\r\n", "\r\n", "\n", "   \r\n"] {
            var parser = RESPRequestParser()
            var buffer = Fixture.buffer(text)
            var arguments: [ByteBuffer] = []
            #expect(try !parser.parse(&buffer, into: &arguments, limits: RESPRequestLimits()))
            #expect(buffer.readableBytes == 0, "\(text.debugDescription) is consumed")
        }
    }

    @Test("a 100k-argument multibulk in small chunks parses in linear work")
    func resumableLargeMultibulk() throws {
        let count = 100_000
        var bytes = Array("*\(count)\r\n".utf8)
        for index in 0..<count {
            let argument = "a\(index % 10)"
            bytes += Array("$\(argument.utf8.count)\r\n\(argument)\r\n".utf8)
        }
        let chunkSize = 7
        let chunks = stride(from: 0, to: bytes.count, by: chunkSize).map {
            bytes[$0..<min($0 + chunkSize, bytes.count)]
        }
        let clock = ContinuousClock()
        var result: (commands: [[String]], calls: Int) = ([], 0)
        let elapsed = try clock.measure { result = try Fixture.parseAll(chunks) }
        #expect(result.commands.count == 1)
        #expect(result.commands.first?.count == count)
        #expect(result.commands.first?.last == "a9")
        #expect(result.calls == chunks.count + 1)
        // Re-scanning from the start on every chunk would be ~1.4e11 byte visits (minutes); linear is well
        // under a second even in a debug build on a shared machine.
        #expect(elapsed < .seconds(10))
    }

    @Test("a long inline line fed one byte at a time is scanned once")
    func resumableInline() throws {
        let line = Array(("SET k " + String(repeating: "x", count: 60_000) + "\r\n").utf8)
        let clock = ContinuousClock()
        var result: (commands: [[String]], calls: Int) = ([], 0)
        let elapsed = try clock.measure { result = try Fixture.parseAll(line.map { [$0][...] }) }
        #expect(result.commands.count == 1)
        #expect(result.commands.first?.last?.utf8.count == 60_000)
        #expect(elapsed < .seconds(10))
    }
}
