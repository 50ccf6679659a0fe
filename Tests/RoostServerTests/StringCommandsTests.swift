import Testing

@testable import RoostServer

// Replies and error strings are Redis 7.0.15's (checked against redis-server; the differential test replays many
// more of them against the real server).

@Suite("String commands")
struct StringCommandsTests {
    @Test func setAndGetRoundTripBinaryValues() {
        var redis = Harness()
        #expect(redis.run([Array("SET".utf8), [0, 1], [0xFF, 0, 13, 10]]) == .ok)
        #expect(redis.run([Array("GET".utf8), [0, 1]]) == .bulk([0xFF, 0, 13, 10]))
        #expect(redis("GET", "missing") == .null)
    }

    @Test func setConditionsAndGetOption() {
        var redis = Harness()
        #expect(redis("SET", "k", "1", "NX") == .ok)
        #expect(redis("SET", "k", "2", "NX") == .null)
        #expect(redis("SET", "k", "3", "XX", "GET") == .bulk("1"))
        #expect(redis("SET", "other", "x", "XX") == .null)
        #expect(redis("SET", "k", "4", "NX", "XX") == .error("ERR syntax error"))
        #expect(redis("SET", "k", "4", "NX", "GET") == .bulk("3"))
        #expect(redis("GET", "k") == .bulk("3"))
    }

    @Test func setExpiryOptionsAndTheirErrors() {
        var redis = Harness()
        #expect(redis("SET", "k", "v", "EX", "10") == .ok)
        #expect(redis("PTTL", "k") == .integer(10_000))
        #expect(redis("SET", "k", "v", "KEEPTTL") == .ok)
        #expect(redis("PTTL", "k") == .integer(10_000))
        #expect(redis("SET", "k", "v") == .ok)
        #expect(redis("PTTL", "k") == .integer(-1))
        #expect(redis("SET", "k", "v", "PXAT", String(redis.now + 500)) == .ok)
        #expect(redis("PTTL", "k") == .integer(500))
        #expect(redis("SET", "k", "v", "EX", "0") == .error("ERR invalid expire time in 'set' command"))
        #expect(redis("SET", "k", "v", "EX", "-1") == .error("ERR invalid expire time in 'set' command"))
        #expect(redis("SET", "k", "v", "EX", "abc") == .error("ERR value is not an integer or out of range"))
        #expect(
            redis("SET", "k", "v", "EX", "9223372036854775807") == .error("ERR invalid expire time in 'set' command"))
        #expect(redis("SET", "k", "v", "EX", "10", "PX", "10") == .error("ERR syntax error"))
        #expect(redis("SET", "k", "v", "EX") == .error("ERR syntax error"))
        #expect(redis("SET", "k", "v", "KEEPTTL", "EX", "1") == .error("ERR syntax error"))
    }

    @Test func expiredKeysDisappearAtTheirMillisecond() {
        var redis = Harness()
        redis("PSETEX", "k", "100", "v")
        redis.now += 99
        #expect(redis("GET", "k") == .bulk("v"))
        redis.now += 1
        #expect(redis("GET", "k") == .null)
        #expect(redis("SETEX", "k", "0", "v") == .error("ERR invalid expire time in 'setex' command"))
        #expect(redis("PSETEX", "k", "-5", "v") == .error("ERR invalid expire time in 'psetex' command"))
    }

    @Test func getsetGetdelGetex() {
        var redis = Harness()
        #expect(redis("GETSET", "k", "1") == .null)
        redis("EXPIRE", "k", "100")
        #expect(redis("GETSET", "k", "2") == .bulk("1"))
        #expect(redis("TTL", "k") == .integer(-1))
        #expect(redis("GETEX", "k", "EX", "50") == .bulk("2"))
        #expect(redis("TTL", "k") == .integer(50))
        #expect(redis("GETEX", "k", "PERSIST") == .bulk("2"))
        #expect(redis("TTL", "k") == .integer(-1))
        #expect(redis("GETEX", "k", "EXAT", String(redis.now / 1000 - 10)) == .bulk("2"))
        #expect(redis("EXISTS", "k") == .integer(0))
        redis("SET", "k", "3")
        #expect(redis("GETEX", "k", "FOO") == .error("ERR syntax error"))
        #expect(redis("GETDEL", "k") == .bulk("3"))
        #expect(redis("GETDEL", "k") == .null)
    }

    @Test func multiKeyCommands() {
        var redis = Harness()
        #expect(redis("MSET", "a", "1", "b", "2") == .ok)
        #expect(redis("MSET", "a", "1", "b") == .error("ERR wrong number of arguments for 'mset' command"))
        #expect(redis("MGET", "a", "missing", "b") == .array([.bulk("1"), .null, .bulk("2")]))
        #expect(redis("MSETNX", "c", "3", "a", "9") == .integer(0))
        #expect(redis("EXISTS", "c") == .integer(0))
        #expect(redis("MSETNX", "c", "3", "d", "4") == .integer(1))
        #expect(redis("SETNX", "c", "x") == .integer(0))
        #expect(redis("SETNX", "e", "x") == .integer(1))
    }

    @Test func appendStrlenAndEncodings() {
        var redis = Harness()
        #expect(redis("APPEND", "k", "12") == .integer(2))
        #expect(redis("OBJECT", "ENCODING", "k") == .bulk("int"))
        #expect(redis("APPEND", "k", "34") == .integer(4))
        #expect(redis("OBJECT", "ENCODING", "k") == .bulk("raw"))
        #expect(redis("STRLEN", "k") == .integer(4))
        #expect(redis("STRLEN", "missing") == .integer(0))
        redis("SET", "s", String(repeating: "x", count: 44))
        #expect(redis("OBJECT", "ENCODING", "s") == .bulk("embstr"))
        redis("SET", "s", String(repeating: "x", count: 45))
        #expect(redis("OBJECT", "ENCODING", "s") == .bulk("raw"))
        redis("INCRBYFLOAT", "f", "3")
        #expect(redis("OBJECT", "ENCODING", "f") == .bulk("embstr"))
    }

    @Test func integerCounters() {
        var redis = Harness()
        #expect(redis("INCR", "n") == .integer(1))
        #expect(redis("INCRBY", "n", "41") == .integer(42))
        #expect(redis("DECR", "n") == .integer(41))
        #expect(redis("DECRBY", "n", "-9") == .integer(50))
        redis("SET", "n", "9223372036854775807")
        #expect(redis("INCR", "n") == .error("ERR increment or decrement would overflow"))
        #expect(redis("GET", "n") == .bulk("9223372036854775807"))
        #expect(redis("DECRBY", "n", "-9223372036854775808") == .error("ERR decrement would overflow"))
        for bad in ["abc", " 1", "1 ", "+1", "01", "", "1.5", "99999999999999999999"] {
            redis("SET", "bad", bad)
            #expect(redis("INCR", "bad") == .error("ERR value is not an integer or out of range"), "value \(bad)")
        }
        redis("SET", "t", "5", "EX", "100")
        redis("INCR", "t")
        #expect(redis("TTL", "t") == .integer(100))
        #expect(redis("DECR", "neg") == .integer(-1))
        #expect(redis("GET", "neg") == .bulk("-1"))
        #expect(redis("DECRBY", "neg", "9223372036854775807") == .integer(Int64.min))
        #expect(redis("GET", "neg") == .bulk("-9223372036854775808"))
        redis("SET", "long", String(repeating: "x", count: 100))  // a larger block is rewritten in place
        redis("SET", "long", "7")
        #expect(redis("INCR", "long") == .integer(8))
        #expect(redis("STRLEN", "long") == .integer(1))
    }

    @Test func floatCounters() {
        var redis = Harness()
        #expect(redis("INCRBYFLOAT", "f", "10.5") == .bulk("10.5"))
        #expect(redis("INCRBYFLOAT", "f", "0.1") == .bulk("10.6"))
        #expect(redis("INCRBYFLOAT", "f", "-5.6") == .bulk("5"))
        #expect(redis("INCRBYFLOAT", "f", "5.0e3") == .bulk("5005"))
        #expect(redis("INCRBYFLOAT", "f", "nan") == .error("ERR value is not a valid float"))
        #expect(redis("INCRBYFLOAT", "f", "inf") == .error("ERR increment would produce NaN or Infinity"))
        redis("SET", "s", "abc")
        #expect(redis("INCRBYFLOAT", "s", "1") == .error("ERR value is not a valid float"))
    }

    @Test func ranges() {
        var redis = Harness()
        redis("SET", "r", "Hello World")
        #expect(redis("GETRANGE", "r", "0", "4") == .bulk("Hello"))
        #expect(redis("GETRANGE", "r", "-5", "-1") == .bulk("World"))
        #expect(redis("GETRANGE", "r", "-1", "-5") == .bulk(""))
        #expect(redis("GETRANGE", "r", "5", "1000") == .bulk(" World"))
        #expect(redis("GETRANGE", "missing", "0", "-1") == .bulk(""))
        #expect(redis("SETRANGE", "r", "6", "Redis") == .integer(11))
        #expect(redis("GET", "r") == .bulk("Hello Redis"))
        #expect(redis.run([Array("SETRANGE".utf8), Array("p".utf8), Array("3".utf8), Array("x".utf8)]) == .integer(4))
        #expect(redis.run([Array("GET".utf8), Array("p".utf8)]) == .bulk([0, 0, 0, UInt8(ascii: "x")]))
        #expect(redis("SETRANGE", "r", "-1", "x") == .error("ERR offset is out of range"))
        #expect(redis("SETRANGE", "q", "5", "") == .integer(0))
        #expect(redis("EXISTS", "q") == .integer(0))
        #expect(
            redis("SETRANGE", "r", "9223372036854775807", "x")
                == .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"))
    }

    @Test func stringLengthLimitFollowsProtoMaxBulkLen() {
        var redis = Harness { $0.protoMaxBulkLength = 1024 * 1024 }
        redis("SET", "k", String(repeating: "x", count: 1024 * 1024))
        #expect(redis("APPEND", "k", "y") == .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"))
        #expect(redis("STRLEN", "k") == .integer(1024 * 1024))
    }

    @Test func arityIsChecked() {
        var redis = Harness()
        #expect(redis("GET") == .error("ERR wrong number of arguments for 'get' command"))
        #expect(redis("GET", "a", "b") == .error("ERR wrong number of arguments for 'get' command"))
        #expect(redis("SET", "a") == .error("ERR wrong number of arguments for 'set' command"))
    }
}
