import Logging
import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Testing

@testable import RoostServer

// Expected replies and error strings below were checked against redis-server 7.0.15.

@Suite("Key commands: DEL, EXISTS, TOUCH, TYPE, RENAME, COPY")
struct KeyCommandsLifetimeTests {
    @Test(arguments: ["DEL", "UNLINK"])
    func deleteCountsEachRemovedKeyOnce(command: String) {
        var redis = Harness()
        redis("MSET", "a", "1", "b", "2", "c", "3")
        #expect(redis(command, "a", "a", "b", "missing") == .integer(2))
        #expect(redis("EXISTS", "a", "b", "c") == .integer(1))
        redis("PEXPIRE", "c", "10")
        redis.now += 10
        #expect(redis(command, "c") == .integer(0))
        let arityError = "ERR wrong number of arguments for '\(command.lowercased())' command"
        #expect(redis.dispatch(command) == .error(arityError))
    }

    @Test func existsCountsDuplicatesWithoutTouching() {
        var redis = Harness()
        redis("SET", "a", "1")
        redis.now += 5_000
        #expect(redis("EXISTS", "a", "a", "missing", "a") == .integer(3))
        #expect(redis("OBJECT", "IDLETIME", "a") == .integer(5))
        #expect(redis.statistics().keyspaceHits == 3 + 1)
        #expect(redis.statistics().keyspaceMisses == 1)
    }

    @Test func touchCountsDuplicatesAndResetsIdleTime() {
        var redis = Harness()
        redis("SET", "a", "1")
        redis.now += 7_000
        #expect(redis("OBJECT", "IDLETIME", "a") == .integer(7))
        #expect(redis("TOUCH", "a", "a", "missing") == .integer(2))
        #expect(redis("OBJECT", "IDLETIME", "a") == .integer(0))
    }

    @Test func typeIsASimpleStringAndNoneWhenMissing() {
        var redis = Harness()
        redis("SET", "a", "1")
        #expect(redis("TYPE", "a") == .simple("string"))
        #expect(redis("TYPE", "missing") == .simple("none"))
        redis("PEXPIRE", "a", "1")
        redis.now += 1
        #expect(redis("TYPE", "a") == .simple("none"))
    }

    @Test func renameMovesValueAndTimeToLive() {
        var redis = Harness()
        redis("SET", "a", "hello")
        redis("PEXPIRE", "a", "5000")
        redis("SET", "b", "old")
        #expect(redis("RENAME", "a", "b") == .ok)
        #expect(redis("EXISTS", "a") == .integer(0))
        #expect(redis("GET", "b") == .bulk("hello"))
        #expect(redis("PTTL", "b") == .integer(5000))
        #expect(redis("RENAME", "a", "b") == .error("ERR no such key"))
        #expect(redis("RENAMENX", "a", "b") == .error("ERR no such key"))
        #expect(redis("RENAME", "a", "a") == .error("ERR no such key"))
        #expect(redis("RENAME", "b", "b") == .ok)
        #expect(redis("RENAMENX", "b", "b") == .integer(0))
        #expect(redis("PTTL", "b") == .integer(5000))
        redis.now += 5000
        #expect(redis("RENAME", "b", "c") == .error("ERR no such key"))
    }

    @Test func renameKeepsTheEncodingAndRenamenxRefusesToOverwrite() {
        var redis = Harness()
        redis("SET", "a", "1")
        redis("APPEND", "a", "2")
        redis("SET", "b", "x")
        #expect(redis("RENAMENX", "a", "b") == .integer(0))
        #expect(redis("GET", "b") == .bulk("x"))
        #expect(redis("RENAMENX", "a", "c") == .integer(1))
        #expect(redis("OBJECT", "ENCODING", "c") == .bulk("raw"))
        #expect(redis("TTL", "c") == .integer(-1))
        #expect(redis("KEYS", "*").sortedStrings == ["b", "c"])
    }

    @Test func copyDuplicatesValueAndExpiry() {
        var redis = Harness()
        redis("SET", "a", "v")
        redis("PEXPIRE", "a", "9000")
        #expect(redis("COPY", "a", "b") == .integer(1))
        #expect(redis("GET", "b") == .bulk("v"))
        #expect(redis("PTTL", "b") == .integer(9000))
        redis("SET", "c", "other")
        #expect(redis("COPY", "a", "c") == .integer(0))
        #expect(redis("GET", "c") == .bulk("other"))
        #expect(redis("COPY", "a", "c", "REPLACE") == .integer(1))
        #expect(redis("GET", "c") == .bulk("v"))
        #expect(redis("COPY", "a", "d", "db", "0", "replace") == .integer(1))
        #expect(redis("COPY", "missing", "e") == .integer(0))
        #expect(redis("EXISTS", "e") == .integer(0))
        redis("APPEND", "a", "w")
        #expect(redis("GET", "b") == .bulk("v"), "the copy is independent of its source")
        #expect(redis("COPY", "a", "f") == .integer(1))
        #expect(redis("OBJECT", "ENCODING", "f") == .bulk("raw"))
    }

    @Test(arguments: [
        (["COPY", "a", "a"], "ERR source and destination objects are the same"),
        (["COPY", "a", "a", "DB", "0"], "ERR source and destination objects are the same"),
        (["COPY", "a", "a", "DB", "1"], "ERR DB index is out of range"),
        (["COPY", "a", "x", "DB", "1"], "ERR DB index is out of range"),
        (["COPY", "a", "x", "DB", "-1"], "ERR DB index is out of range"),
        (["COPY", "a", "x", "DB", "abc"], "ERR value is not an integer or out of range"),
        (
            ["COPY", "a", "x", "DB", "99999999999"],
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        ),
        (["COPY", "a", "x", "DB"], "ERR syntax error"),
        (["COPY", "a", "x", "foo"], "ERR syntax error"),
        (["COPY", "missing", "missing"], "ERR source and destination objects are the same"),
    ])
    func copyErrors(arguments: [String], message: String) {
        var redis = Harness()
        redis("SET", "a", "v")
        #expect(redis.run(arguments.map { Array($0.utf8) }) == .error(message))
        #expect(redis("EXISTS", "x") == .integer(0))
    }
}

@Suite("Key commands: EXPIRE family, TTL family, PERSIST")
struct KeyCommandsExpiryTests {
    @Test(arguments: [
        (["EXPIRE", "k", "100", "NX", "XX"], "ERR NX and XX, GT or LT options at the same time are not compatible"),
        (["EXPIRE", "k", "100", "nx", "gt"], "ERR NX and XX, GT or LT options at the same time are not compatible"),
        (["PEXPIRE", "k", "100", "lt", "NX"], "ERR NX and XX, GT or LT options at the same time are not compatible"),
        (["EXPIREAT", "k", "100", "GT", "LT"], "ERR GT and LT options at the same time are not compatible"),
        (["EXPIRE", "k", "100", "foo"], "ERR Unsupported option foo"),
        (["EXPIRE", "k", "abc", "foo"], "ERR Unsupported option foo"),
        (["EXPIRE", "k", "abc"], "ERR value is not an integer or out of range"),
        (["EXPIRE", "k", "1.5"], "ERR value is not an integer or out of range"),
        (["EXPIRE", "k", "9223372036854775807"], "ERR invalid expire time in 'expire' command"),
        (["EXPIRE", "k", "-9223372036854775808"], "ERR invalid expire time in 'expire' command"),
        (["EXPIRE", "k", "9223372036854775"], "ERR invalid expire time in 'expire' command"),
        (["PEXPIRE", "k", "9223372036854775807"], "ERR invalid expire time in 'pexpire' command"),
        (["PEXPIRE", "k", "9223372036854775000"], "ERR invalid expire time in 'pexpire' command"),
        (["EXPIREAT", "k", "9223372036854775807"], "ERR invalid expire time in 'expireat' command"),
        (["EXPIREAT", "k", "-9223372036854776"], "ERR invalid expire time in 'expireat' command"),
    ])
    func expireErrors(arguments: [String], message: String) {
        var redis = Harness()
        redis("SET", "k", "v")
        #expect(redis.run(arguments.map { Array($0.utf8) }) == .error(message))
        #expect(redis("TTL", "k") == .integer(-1))
    }

    @Test func expireSetsTimeToLiveInEachForm() {
        var redis = Harness()
        redis("MSET", "a", "1", "b", "2", "c", "3", "d", "4")
        #expect(redis("EXPIRE", "a", "100") == .integer(1))
        #expect(redis("PEXPIRE", "b", "1500") == .integer(1))
        #expect(redis("EXPIREAT", "c", String(redis.now / 1000 + 60)) == .integer(1))
        #expect(redis("PEXPIREAT", "d", "9223372036854775807") == .integer(1))
        #expect(redis("PTTL", "a") == .integer(100_000))
        #expect(redis("PEXPIRETIME", "b") == .integer(redis.now + 1500))
        #expect(redis("EXPIRETIME", "c") == .integer(redis.now / 1000 + 60))
        #expect(redis("PEXPIRETIME", "d") == .integer(Int64.max))
        #expect(redis("EXPIRETIME", "d") == .integer(9_223_372_036_854_776))
        #expect(redis("EXPIRE", "missing", "10") == .integer(0))
        #expect(redis("EXISTS", "missing") == .integer(0))
    }

    @Test(arguments: [
        ["EXPIRE", "k", "0"], ["EXPIRE", "k", "-5"], ["PEXPIRE", "k", "0"],
        ["PEXPIRE", "k", "-9223372036854775808"], ["EXPIREAT", "k", "1"], ["PEXPIREAT", "k", "0"],
        ["EXPIRE", "k", "-5", "LT"],
    ])
    func aTimeInThePastDeletesTheKey(arguments: [String]) {
        var redis = Harness()
        redis("SET", "k", "v")
        #expect(redis.run(arguments.map { Array($0.utf8) }) == .integer(1))
        #expect(redis("EXISTS", "k") == .integer(0))
    }

    @Test func pexpireatNowDeletesAndOneMillisecondLaterDoesNot() {
        var redis = Harness()
        redis("MSET", "a", "1", "b", "2")
        #expect(redis("PEXPIREAT", "a", String(redis.now)) == .integer(1))
        #expect(redis("PEXPIREAT", "b", String(redis.now + 1)) == .integer(1))
        #expect(redis("KEYS", "*").sortedStrings == ["b"])
        redis.now += 1
        #expect(redis("KEYS", "*").sortedStrings == [])
    }

    /// Conditions against a key with no TTL and with a 100 s TTL (no TTL counts as infinite for GT and LT).
    @Test(arguments: [
        // (options, new ttl in s, key has 100 s TTL, expected reply)
        (["NX"], 50, false, 1), (["NX"], 50, true, 0),
        (["XX"], 50, false, 0), (["XX"], 50, true, 1),
        (["GT"], 50, false, 0), (["GT"], 50, true, 0), (["GT"], 100, true, 0), (["GT"], 101, true, 1),
        (["LT"], 50, false, 1), (["LT"], 150, true, 0), (["LT"], 100, true, 0), (["LT"], 99, true, 1),
        (["XX", "GT"], 150, false, 0), (["XX", "GT"], 150, true, 1), (["xx", "lt"], 50, true, 1),
        (["NX", "NX"], 50, false, 1), (["gt", "GT"], 150, true, 1),
    ])
    func conditions(options: [String], seconds: Int, hasTTL: Bool, expected: Int64) {
        var redis = Harness()
        redis("SET", "k", "v")
        if hasTTL { redis("EXPIRE", "k", "100") }
        let before = redis("PTTL", "k")
        let reply = redis.run((["EXPIRE", "k", String(seconds)] + options).map { Array($0.utf8) })
        #expect(reply == .integer(expected))
        #expect(redis("PTTL", "k") == (expected == 1 ? .integer(Int64(seconds) * 1000) : before))
    }

    @Test func ttlRoundsToTheNearestSecond() {
        var redis = Harness()
        redis("SET", "k", "v")
        for (milliseconds, seconds) in [(1499, 1), (1500, 2), (499, 0), (500, 1), (1, 0), (100_000, 100)] {
            redis("PEXPIRE", "k", String(milliseconds))
            #expect(redis("TTL", "k") == .integer(Int64(seconds)), "\(milliseconds) ms")
            #expect(redis("PTTL", "k") == .integer(Int64(milliseconds)))
        }
        redis("PEXPIREAT", "k", String(redis.now + 2_000))
        #expect(redis("EXPIRETIME", "k") == .integer((redis.now + 2_000 + 500) / 1000))
        redis.now += 1_999
        #expect(redis("PTTL", "k") == .integer(1))
        #expect(redis("TTL", "k") == .integer(0))
        redis.now += 1
        #expect(redis("TTL", "k") == .integer(-2))
    }

    @Test(arguments: ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
    func ttlFamilyReportsMissingAndPersistentKeys(command: String) {
        var redis = Harness()
        redis("SET", "k", "v")
        redis.now += 3_000
        #expect(redis(command, "missing") == .integer(-2))
        #expect(redis(command, "k") == .integer(-1))
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(3), "\(command) must not touch the key")
        #expect(redis.statistics().keyspaceHits == 2)
        #expect(redis.statistics().keyspaceMisses == 1)
    }

    @Test func persistRemovesTheTimeToLive() {
        var redis = Harness()
        redis("SET", "k", "v")
        #expect(redis("PERSIST", "k") == .integer(0))
        #expect(redis("PERSIST", "missing") == .integer(0))
        redis("EXPIRE", "k", "10")
        #expect(redis("PERSIST", "k") == .integer(1))
        #expect(redis("TTL", "k") == .integer(-1))
        redis.now += 20_000
        #expect(redis("GET", "k") == .bulk("v"))
        #expect(redis.server.keyspace.withLock { $0.volatileCount } == 0)
    }
}

@Suite("Key commands: KEYS, SCAN, RANDOMKEY")
struct KeyCommandsIterationTests {
    @Test func keysMatchesGlobsAndSkipsExpiredKeys() {
        var redis = Harness()
        redis("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "other", "4", "", "5")
        redis("PEXPIRE", "hxllo", "1")
        #expect(redis("KEYS", "*").sortedStrings == ["", "hallo", "hello", "hxllo", "other"])
        redis.now += 1
        #expect(redis("KEYS", "*").sortedStrings == ["", "hallo", "hello", "other"])
        #expect(redis("KEYS", "h?llo").sortedStrings == ["hallo", "hello"])
        #expect(redis("KEYS", "h[^e]llo").sortedStrings == ["hallo"])
        #expect(redis("KEYS", "**").sortedStrings == ["hallo", "hello", "other"], "only a lone * matches \"\"")
        #expect(redis("KEYS", "nothing*") == .array([]))
        #expect(redis.server.keyspace.withLock { $0.count } == 5, "KEYS skips expired keys without reclaiming them")
    }

    @Test(arguments: [
        ("0", 0 as UInt64), ("+0", 0), ("00", 0), ("", 0), ("-1", UInt64.max), ("18446744073709551615", UInt64.max),
        ("-18446744073709551615", 1), ("7", 7), ("12\u{0}junk", 12),
    ])
    func cursorsParseLikeStrtoul(text: String, expected: UInt64) {
        let parsed = Array(text.utf8).withUnsafeBytes { KeyCommands.parseCursor($0) }
        #expect(parsed == expected)
    }

    @Test(arguments: [
        (["SCAN", "0x1"], "ERR invalid cursor"),
        (["SCAN", " 0"], "ERR invalid cursor"),
        (["SCAN", "-"], "ERR invalid cursor"),
        (["SCAN", "abc"], "ERR invalid cursor"),
        (["SCAN", "1.0"], "ERR invalid cursor"),
        (["SCAN", "18446744073709551616"], "ERR invalid cursor"),
        (["SCAN", "abc", "COUNT", "0"], "ERR invalid cursor"),
        (["SCAN", "0", "COUNT", "0"], "ERR syntax error"),
        (["SCAN", "0", "COUNT", "-1"], "ERR syntax error"),
        (["SCAN", "0", "COUNT", "abc"], "ERR value is not an integer or out of range"),
        (["SCAN", "0", "COUNT"], "ERR syntax error"),
        (["SCAN", "0", "MATCH"], "ERR syntax error"),
        (["SCAN", "0", "TYPE"], "ERR syntax error"),
        (["SCAN", "0", "foo", "bar"], "ERR syntax error"),
    ])
    func scanErrors(arguments: [String], message: String) {
        var redis = Harness()
        redis("SET", "a", "1")
        #expect(redis.run(arguments.map { Array($0.utf8) }) == .error(message))
    }

    @Test func scanRepliesWithABulkCursorAndFilters() {
        var redis = Harness()
        redis("MSET", "a", "1", "b", "2", "ab", "3")
        #expect(redis("SCAN", "0").scanStep?.keys == ["a", "ab", "b"])
        #expect(redis("SCAN", "0").scanStep?.cursor == 0)
        guard case .array(let parts) = redis("SCAN", "0", "COUNT", "1000") else {
            Issue.record("not an array")
            return
        }
        #expect(parts.first == .bulk("0"))
        #expect(redis("SCAN", "0", "MATCH", "a*").scanStep?.keys == ["a", "ab"])
        #expect(redis("SCAN", "0", "MATCH", "a*", "MATCH", "b*").scanStep?.keys == ["b"], "the last MATCH wins")
        #expect(redis("SCAN", "0", "TYPE", "string").scanStep?.keys == ["a", "ab", "b"])
        #expect(redis("SCAN", "0", "type", "STRING").scanStep?.keys == ["a", "ab", "b"])
        #expect(redis("SCAN", "0", "TYPE", "none").scanStep?.keys == [])
        #expect(redis("SCAN", "0", "TYPE", "foo").scanStep?.keys == [])
        #expect(redis("SCAN", "0", "COUNT", "9223372036854775807").scanStep?.keys == ["a", "ab", "b"])
    }

    @Test func scanNeverReturnsExpiredKeysAndReclaimsThem() {
        var redis = Harness()
        for index in 0..<50 { redis("SET", "live:\(index)", "v") }
        for index in 0..<50 { redis("SET", "dead:\(index)", "v", "PX", "10") }
        redis.now += 10
        var seen: [String] = []
        var cursor: UInt64 = 0
        repeat {
            guard let step = redis("SCAN", String(cursor), "COUNT", "7").scanStep else {
                Issue.record("bad SCAN reply")
                return
            }
            seen += step.keys
            cursor = step.cursor
        } while cursor != 0
        #expect(Set(seen) == Set((0..<50).map { "live:\($0)" }))
        #expect(redis.server.keyspace.withLock { $0.count } == 50)
        #expect(redis.statistics().expiredKeys == 50)
    }

    /// Redis's SCAN guarantee: a key present for the whole iteration is returned at least once, while the table
    /// grows from 10 to 10,000 keys mid-scan and shrinks back before the scan ends.
    @Test(arguments: [
        // (COUNT, grow after this many steps, shrink this many steps later)
        (1, 1, 1), (1, 2, 3), (1, 4, 200), (2, 1, 50), (3, 2, 300), (1, 1, 1000),
    ])
    func scanReturnsEveryStableKeyWhileTheTableGrowsAndShrinks(count: Int, growAfter: Int, shrinkAfter: Int) {
        var redis = Harness()
        let stable = (0..<10).map { "stable:\($0)" }
        for key in stable { redis("SET", key, "v") }
        let churn = (0..<10_000).map { Array("churn:\($0)".utf8) }
        let now = redis.now
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var steps = 0
        var resized: [Int] = []  // key counts after each resize
        // The cursor is a position in the 32-bit hash order. Where the stable keys' hashes fall depends on the
        // per-process hash seed, so the grow may come late in the pass; shrinking once the cursor is 90% through at
        // the latest keeps the shrink inside the scan whatever the seed.
        let nearTheEnd = UInt64(UInt32.max) / 10 * 9
        repeat {
            guard let step = redis("SCAN", String(cursor), "COUNT", String(count)).scanStep else {
                Issue.record("bad SCAN reply")
                return
            }
            seen.formUnion(step.keys)
            cursor = step.cursor
            steps += 1
            if steps == growAfter && cursor != 0 {
                redis.server.keyspace.withLock { keyspace in
                    for key in churn { keyspace.set(key, Entry(value: .string([])), now: now) }
                }
                resized.append(redis.server.keyspace.withLock { $0.count })
            } else if resized.count == 1 && cursor != 0
                && (steps == growAfter + shrinkAfter || cursor >= nearTheEnd)
            {
                redis.server.keyspace.withLock { keyspace in
                    for key in churn { keyspace.remove(key, now: now) }
                }
                resized.append(redis.server.keyspace.withLock { $0.count })
            }
        } while cursor != 0
        #expect(resized == [10_010, 10], "the table grew and shrank while the scan was under way")
        #expect(seen.isSuperset(of: stable))
    }

    @Test func randomkeyReturnsALiveKeyOrNull() {
        var redis = Harness()
        #expect(redis("RANDOMKEY") == .null)
        redis("MSET", "a", "1", "b", "2")
        redis("PEXPIRE", "b", "5")
        for _ in 0..<20 {
            let reply = redis("RANDOMKEY")
            #expect(reply == .bulk("a") || reply == .bulk("b"))
        }
        redis.now += 5
        for _ in 0..<20 { #expect(redis("RANDOMKEY") == .bulk("a")) }
        redis("PEXPIRE", "a", "1")
        redis.now += 1
        #expect(redis("RANDOMKEY") == .null)
        redis.context.respVersion = .resp3
        #expect(redis("RANDOMKEY") == .null)
    }
}

@Suite("Key commands: OBJECT")
struct KeyCommandsObjectTests {
    @Test(arguments: [
        ("1", "int"), ("-1", "int"), ("9223372036854775807", "int"), ("-9223372036854775808", "int"),
        ("9223372036854775808", "embstr"), ("12345678901234567890", "embstr"), ("01", "embstr"), ("-0", "embstr"),
        ("+1", "embstr"), (" 1", "embstr"), ("", "embstr"), ("hello", "embstr"),
        (String(repeating: "x", count: 44), "embstr"), (String(repeating: "x", count: 45), "raw"),
    ])
    func encodingOfStrings(value: String, expected: String) {
        var redis = Harness()
        redis("SET", "k", value)
        #expect(redis("OBJECT", "ENCODING", "k") == .bulk(expected))
    }

    @Test func encodingAfterInPlaceChanges() {
        var redis = Harness()
        redis("APPEND", "created", "12")
        #expect(redis("OBJECT", "ENCODING", "created") == .bulk("int"))
        redis("SET", "x", "123")
        redis("APPEND", "x", "")
        #expect(redis("OBJECT", "encoding", "x") == .bulk("raw"))
        redis("SETRANGE", "r", "0", "5")
        #expect(redis("OBJECT", "ENCODING", "r") == .bulk("raw"))
        redis("INCR", "x")
        #expect(redis("OBJECT", "ENCODING", "x") == .bulk("int"))
        #expect(redis("OBJECT", "ENCODING", "missing") == .null)
        redis.context.respVersion = .resp3
        #expect(redis("OBJECT", "ENCODING", "missing") == .null)
    }

    @Test func frequencyNeedsAnLFUPolicy() {
        var redis = Harness()
        redis("SET", "k", "v")
        #expect(
            redis("OBJECT", "FREQ", "k")
                == .error(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
                        + "switching between policies at runtime LRU and LFU data will take some time to adjust."))
        #expect(redis("OBJECT", "FREQ", "missing") == .null)
        redis.setPolicy("allkeys-lfu")
        #expect(redis("OBJECT", "FREQ", "k") == .integer(5))
        redis.setPolicy("volatile-lfu")
        #expect(redis("OBJECT", "FREQ", "k") == .integer(5))
    }

    @Test func idleTimeCountsWholeSecondsAndIsUnavailableUnderLFU() {
        var redis = Harness()
        redis("SET", "k", "v")
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(0))
        redis.now += 2_500
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(2))
        redis.now += 10_000
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(12), "OBJECT does not touch the key")
        redis("GET", "k")
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(0))
        #expect(redis("OBJECT", "IDLETIME", "missing") == .null)
        redis.setPolicy("allkeys-lfu")
        #expect(
            redis("OBJECT", "IDLETIME", "k")
                == .error(
                    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
                        + "between policies at runtime LRU and LFU data will take some time to adjust."))
        #expect(redis("OBJECT", "IDLETIME", "missing") == .null)
    }

    @Test func referenceCountMirrorsRedisSharedIntegers() {
        var redis = Harness()
        redis("MSET", "zero", "0", "small", "9999", "large", "10000", "negative", "-1", "text", "abc")
        redis("SET", "raw", "5")
        redis("APPEND", "raw", "")
        #expect(redis("OBJECT", "REFCOUNT", "zero") == .integer(2_147_483_647))
        #expect(redis("OBJECT", "REFCOUNT", "small") == .integer(2_147_483_647))
        #expect(redis("OBJECT", "REFCOUNT", "large") == .integer(1))
        #expect(redis("OBJECT", "REFCOUNT", "negative") == .integer(1))
        #expect(redis("OBJECT", "REFCOUNT", "text") == .integer(1))
        #expect(redis("OBJECT", "REFCOUNT", "raw") == .integer(1))
        #expect(redis("OBJECT", "REFCOUNT", "missing") == .null)
        redis.setPolicy("allkeys-lru")
        #expect(redis("OBJECT", "REFCOUNT", "zero") == .integer(2_147_483_647), "no maxmemory: still shared")
        redis.setPolicy("allkeys-lru", maxMemory: 100 << 20)
        #expect(redis("OBJECT", "REFCOUNT", "zero") == .integer(1))
        redis.setPolicy("volatile-ttl", maxMemory: 100 << 20)
        #expect(redis("OBJECT", "REFCOUNT", "zero") == .integer(2_147_483_647))
    }

    @Test func objectLookupsCountStatisticsButDoNotTouch() {
        var redis = Harness()
        redis("SET", "k", "1")
        redis.now += 4_000
        for subcommand in ["ENCODING", "REFCOUNT", "IDLETIME"] { redis("OBJECT", subcommand, "k") }
        redis("OBJECT", "ENCODING", "missing")
        #expect(redis("OBJECT", "IDLETIME", "k") == .integer(4))
        #expect(redis.statistics().keyspaceHits == 4)
        #expect(redis.statistics().keyspaceMisses == 1)
    }

    @Test func helpAndDispatchErrors() {
        var redis = Harness()
        guard case .array(let lines) = redis("OBJECT", "HELP") else {
            Issue.record("OBJECT HELP is not an array")
            return
        }
        #expect(lines.count == 15)
        #expect(lines.first == .simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        #expect(lines.last == .simple("    Prints this help."))
        #expect(redis.dispatch("OBJECT") == .error("ERR wrong number of arguments for 'object' command"))
        #expect(redis.dispatch("OBJECT", "foo") == .error("ERR unknown subcommand 'foo'. Try OBJECT HELP."))
        #expect(
            redis.dispatch("OBJECT", "ENCODING")
                == .error(
                    "ERR wrong number of arguments for 'object|encoding' command"))
        #expect(
            redis.dispatch("OBJECT", "ENCODING", "a", "b")
                == .error(
                    "ERR wrong number of arguments for 'object|encoding' command"))
        #expect(
            redis.dispatch("OBJECT", "HELP", "x")
                == .error(
                    "ERR wrong number of arguments for 'object|help' command"))
    }
}

@Suite("Key commands through the real dispatcher")
struct KeyCommandsDispatchTests {
    @Test func everyKeyCommandIsInTheTable() {
        let names = [
            "del", "unlink", "exists", "touch", "type", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl",
            "expiretime", "pexpiretime", "persist", "keys", "scan", "randomkey", "rename", "renamenx", "copy",
            "object",
        ]
        for name in names {
            #expect(CommandTable.standard.lookup(name)?.handler != nil || name == "object", "\(name)")
        }
        #expect(
            CommandTable.standard.lookup("object")?.subcommands.map(\.name).sorted() == [
                "encoding", "freq", "help", "idletime", "refcount",
            ])
    }

    @Test func wallClockSmokeTest() {
        var redis = Harness()
        #expect(redis.dispatch("SET", "a", "1") == .ok)
        #expect(redis.dispatch("EXPIRE", "a", "100") == .integer(1))
        #expect(redis.dispatch("TTL", "a") == .integer(100))
        #expect(redis.dispatch("RENAME", "a", "b") == .ok)
        #expect(redis.dispatch("COPY", "b", "c") == .integer(1))
        #expect(redis.dispatch("EXISTS", "a", "b", "c") == .integer(2))
        #expect(redis.dispatch("KEYS", "*").sortedStrings == ["b", "c"])
        #expect(redis.dispatch("SCAN", "0").scanStep?.keys == ["b", "c"])
        #expect(redis.dispatch("PERSIST", "c") == .integer(1))
        #expect(redis.dispatch("DEL", "b", "c") == .integer(2))
        #expect(redis.dispatch("TTL", "a") == .integer(-2))
        #expect(redis.dispatch("RENAME", "a") == .error("ERR wrong number of arguments for 'rename' command"))
        #expect(redis.dispatch("TYPE") == .error("ERR wrong number of arguments for 'type' command"))
        #expect(redis.dispatch("RANDOMKEY", "x") == .error("ERR wrong number of arguments for 'randomkey' command"))
    }
}
