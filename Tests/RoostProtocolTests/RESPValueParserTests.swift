import NIOCore
import RoostProtocol
import Testing

let sampleValues: [RESPValue] = [
    .simple("OK"),
    .error(ByteBuffer(string: "WRONGTYPE Operation against a key holding the wrong kind of value")),
    .integer(-7),
    .bulk("a\r\nb"),
    .array([]),
    .array([.integer(1), .bulk("x"), .array([.null, .simple("nested")])]),
    .null,
    .double(1.5),
    .double(-.infinity),
    .boolean(true),
    .boolean(false),
    .map([.init(key: .bulk("k"), value: .integer(1)), .init(key: .bulk("m"), value: .map([]))]),
    .set([.bulk("a"), .bulk("b")]),
    .push([.bulk("message"), .bulk("chan"), .bulk("hi")]),
    .verbatimString(format: "txt", text: ByteBuffer(string: "line1\r\nline2")),
    .bigNumber("-3492890328409238509324850943850943825024385"),
]

@Suite("RESPValueParser")
struct RESPValueParserTests {
    @Test("RESP3 round trip, whole and byte by byte", arguments: sampleValues.indices)
    func roundTrip(index: Int) throws {
        let value = sampleValues[index]
        var encoded = ByteBuffer()
        encoded.writeRESPValue(value, .resp3)
        encoded.writeString("+next\r\n")

        var parser = RESPValueParser()
        var whole = encoded
        #expect(try parser.parse(&whole) == value)
        #expect(try parser.parse(&whole) == .simple("next"))
        #expect(whole.readableBytes == 0)

        var parser2 = RESPValueParser()
        var cumulation = ByteBuffer()
        var decoded: [RESPValue] = []
        for byte in encoded.readableBytesView {
            cumulation.writeInteger(byte)
            while let value = try parser2.parse(&cumulation) { decoded.append(value) }
        }
        #expect(decoded == [value, .simple("next")])
    }

    @Test("RESP2 null bulk string and null array round trip; in RESP3 both are written as null")
    func resp2Nulls() throws {
        for (value, resp3) in [(RESPValue.bulkString(nil), "_\r\n"), (.array(nil), "_\r\n")] {
            var buffer = ByteBuffer()
            buffer.writeRESPValue(value, .resp2)
            var parser = RESPValueParser()
            #expect(try parser.parse(&buffer) == value)
            #expect(Fixture.written { $0.writeRESPValue(value, .resp3) } == resp3)
        }
    }

    @Test("RESP2 encoding of RESP3 types parses as Redis's RESP2 fallbacks")
    func resp2Fallbacks() throws {
        let cases: [(RESPValue, RESPValue)] = [
            (.null, .bulkString(nil)),
            (.double(0.1), .bulk("0.10000000000000001")),
            (.boolean(true), .integer(1)),
            (.map([.init(key: .bulk("k"), value: .integer(1))]), .array([.bulk("k"), .integer(1)])),
            (.set([.bulk("a")]), .array([.bulk("a")])),
            (.push([.bulk("a")]), .array([.bulk("a")])),
            (.verbatimString(format: "txt", text: ByteBuffer(string: "hi")), .bulk("hi")),
            (.bigNumber("12345678901234567890"), .bulk("12345678901234567890")),
        ]
        for (value, expected) in cases {
            var buffer = ByteBuffer()
            buffer.writeRESPValue(value, .resp2)
            var parser = RESPValueParser()
            #expect(try parser.parse(&buffer) == expected)
        }
    }

    @Test("doubles, blob errors and attributes")
    func specials() throws {
        var parser = RESPValueParser()
        var buffer = Fixture.buffer(",nan\r\n,inf\r\n!5\r\nERR x\r\n|1\r\n+ttl\r\n:3\r\n:9\r\n")
        guard case .double(let nan)? = try parser.parse(&buffer) else {
            Issue.record("not a double")
            return
        }
        #expect(nan.isNaN)
        #expect(try parser.parse(&buffer) == .double(.infinity))
        #expect(try parser.parse(&buffer) == .error(ByteBuffer(string: "ERR x")))
        #expect(try parser.parse(&buffer) == .integer(9))
    }

    @Test(
        "malformed replies and limits throw",
        arguments: [
            "?\r\n", ":abc\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "#x\r\n", "*-2\r\n", "=2\r\nab\r\n", "+a\rb\r\n",
            "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$100\r\n", "*100\r\n",
        ])
    func malformed(text: String) {
        var parser = RESPValueParser(limits: .init(maxDepth: 2, maxBulkLength: 10, maxAggregateCount: 10))
        var buffer = Fixture.buffer(text)
        #expect(throws: RESPProtocolError.self) { try parser.parse(&buffer) }
    }

    @Test("incomplete replies return nil and consume nothing")
    func incomplete() throws {
        var parser = RESPValueParser()
        var buffer = Fixture.buffer("*2\r\n$5\r\nhel")
        #expect(try parser.parse(&buffer) == nil)
        #expect(buffer.readableBytes == 11)
        buffer.writeString("lo\r\n")
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString(":1\r\n")
        #expect(try parser.parse(&buffer) == .array([.bulk("hello"), .integer(1)]))
    }
}
