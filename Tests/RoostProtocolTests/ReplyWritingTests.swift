import NIOCore
import RoostProtocol
import Testing

@Suite("Reply writers")
struct ReplyWritingTests {
    @Test("RESP2 and RESP3 byte fixtures")
    func fixtures() {
        #expect(Fixture.written { $0.writeRESPSimpleString("OK") } == "+OK\r\n")
        #expect(Fixture.written { $0.writeRESPSimpleString("PONG" as String) } == "+PONG\r\n")
        #expect(Fixture.written { $0.writeRESPSimpleString(ByteBuffer(string: "QUEUED")) } == "+QUEUED\r\n")
        #expect(Fixture.written { $0.writeRESPError("ERR syntax error") } == "-ERR syntax error\r\n")
        #expect(Fixture.written { $0.writeRESPError("\r\nERR bad\r\nthing\n\r\n") } == "-ERR bad  thing\r\n")
        #expect(Fixture.written { $0.writeRESPError("") } == "-ERR \r\n")
        #expect(Fixture.written { $0.writeRESPInteger(0) } == ":0\r\n")
        #expect(Fixture.written { $0.writeRESPInteger(-42) } == ":-42\r\n")
        #expect(Fixture.written { $0.writeRESPInteger(Int64.max) } == ":9223372036854775807\r\n")
        #expect(Fixture.written { $0.writeRESPInteger(Int64.min) } == ":-9223372036854775808\r\n")
        #expect(Fixture.written { $0.writeRESPBulkString("héllo") } == "$6\r\nhéllo\r\n")
        #expect(Fixture.written { $0.writeRESPBulkString([UInt8]()) } == "$0\r\n\r\n")
        #expect(Fixture.written { $0.writeRESPBulkString(ByteBuffer(string: "a\r\nb")) } == "$4\r\na\r\nb\r\n")
        #expect(
            Fixture.written { b in
                [UInt8](repeating: 0x61, count: 3).withUnsafeBytes { _ = b.writeRESPBulkString($0) }
            } == "$3\r\naaa\r\n")
        #expect(Fixture.written { $0.writeRESPArrayHeader(3) } == "*3\r\n")
        #expect(Fixture.written { $0.writeRESPArrayHeader(0) } == "*0\r\n")
    }

    @Test(
        "bulk strings from raw bytes, at every digit-count boundary", arguments: [0, 1, 9, 10, 99, 100, 1024, 70_000])
    func rawBulkStrings(length: Int) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 % 26 + 0x61) }
        var buffer = ByteBuffer(string: "prefix")  // appends after existing bytes
        payload.withUnsafeBytes { _ = buffer.writeRESPBulkString($0) }
        let expected = "prefix$\(length)\r\n" + String(decoding: payload, as: UTF8.self) + "\r\n"
        #expect(String(buffer: buffer) == expected)
    }

    @Test(
        "version-dependent writers",
        arguments: [
            (
                RESPVersion.resp2,
                [
                    "$-1\r\n", "*-1\r\n", "*4\r\n", "*2\r\n", "*5\r\n", "$3\r\n1.5\r\n", ":1\r\n", ":0\r\n",
                    "$5\r\nhello\r\n", "$3\r\n123\r\n",
                ]
            ),
            (
                RESPVersion.resp3,
                [
                    "_\r\n", "_\r\n", "%2\r\n", "~2\r\n", ">5\r\n", ",1.5\r\n", "#t\r\n", "#f\r\n",
                    "=9\r\ntxt:hello\r\n", "(123\r\n",
                ]
            ),
        ])
    func versioned(version: RESPVersion, expected: [String]) {
        let actual = [
            Fixture.written { $0.writeRESPNull(version) },
            Fixture.written { $0.writeRESPNullArray(version) },
            Fixture.written { $0.writeRESPMapHeader(2, version) },
            Fixture.written { $0.writeRESPSetHeader(2, version) },
            Fixture.written { $0.writeRESPPushHeader(5, version) },
            Fixture.written { $0.writeRESPDouble(1.5, version) },
            Fixture.written { $0.writeRESPBoolean(true, version) },
            Fixture.written { $0.writeRESPBoolean(false, version) },
            Fixture.written { $0.writeRESPVerbatimString("hello", version) },
            Fixture.written { $0.writeRESPBigNumber("123", version) },
        ]
        #expect(actual == expected)
    }

    // Confirmed with redis-server 7.0.15: ZSCORE after `ZADD z 0.1 a 1.5 b 3 c 1e300 d 123456789012345678 f
    // 1e-5 g` and an infinite score; ZINCRBY z 0.2 a; RESP3 (HELLO 3) replies ",0.30000000000000004", ",inf".
    @Test(
        "doubles are formatted like Redis 7.0 (%.17g)",
        arguments: [
            (0.1, "0.10000000000000001"), (1.5, "1.5"), (3, "3"), (1e300, "1.0000000000000001e+300"),
            (123_456_789_012_345_680, "1.2345678901234568e+17"), (1e-5, "1.0000000000000001e-05"),
            (0.30000000000000004, "0.30000000000000004"), (Double.infinity, "inf"), (-Double.infinity, "-inf"),
            (Double.nan, "nan"), (0, "0"), (-0.0, "-0"), (-2.5, "-2.5"), (1e15, "1000000000000000"),
            (1e16, "10000000000000000"), (1e17, "1e+17"), (9_007_199_254_740_994, "9007199254740994"),
        ])
    func doubles(value: Double, text: String) {
        #expect(RESPDoubleFormatting.redisString(value) == text)
        #expect(Fixture.written { $0.writeRESPDouble(value, .resp3) } == ",\(text)\r\n")
        #expect(Fixture.written { $0.writeRESPDouble(value, .resp2) } == "$\(text.utf8.count)\r\n\(text)\r\n")
    }
}
