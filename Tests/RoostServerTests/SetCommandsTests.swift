import Testing

@testable import RoostServer

/// Set commands through the real dispatcher: what the differential test cannot compare byte for byte (random
/// replies, hashtable order), the internal `SETSTATE`, key routing and memory through commands.
@Suite struct SetCommandsTests {
    /// `SPOP`/`SRANDMEMBER` with counts: distinct members of the set for a positive count, independent draws for a
    /// negative one, and `SPOP` really removes what it returns.
    @Test(arguments: ["1 2 3 4 5 6 7 8 9 10", "a b c d e f g h i j"])
    func randomRepliesAreMembersWithRedisCounts(members: String) {
        var redis = Harness()
        let all = members.split(separator: " ").map(String.init)
        #expect(redis.run([Array("SADD".utf8), Array("s".utf8)] + all.map { Array($0.utf8) }) == .integer(10))
        for _ in 0..<20 {
            let some = redis("SRANDMEMBER", "s", "4").sortedStrings
            #expect(some.count == 4 && Set(some).count == 4 && Set(some).isSubset(of: all))
            let draws = redis("SRANDMEMBER", "s", "-25").sortedStrings
            #expect(draws.count == 25 && Set(draws).isSubset(of: all))
            guard case .bulk(let one) = redis("SRANDMEMBER", "s") else {
                Issue.record("SRANDMEMBER without a count did not answer a bulk string")
                return
            }
            #expect(all.contains(String(decoding: one, as: UTF8.self)))
        }
        let popped = redis("SPOP", "s", "3").sortedStrings
        #expect(popped.count == 3 && Set(popped).count == 3)
        let rest = redis("SMEMBERS", "s").sortedStrings
        #expect(Set(rest).union(popped) == Set(all) && Set(rest).isDisjoint(with: popped))
        guard case .bulk(let single) = redis("SPOP", "s") else {
            Issue.record("SPOP without a count did not answer a bulk string")
            return
        }
        #expect(rest.contains(String(decoding: single, as: UTF8.self)))
        #expect(redis("SCARD", "s") == .integer(6))
        #expect(Set(redis("SPOP", "s", "100").sortedStrings).count == 6)
        #expect(redis("EXISTS", "s") == .integer(0))
    }

    /// A hashtable-encoded set scanned a few members a step, with removals between steps: every member present
    /// throughout comes back, and MATCH filters.
    @Test func sscanWalksAHashtable() {
        var redis = Harness()
        for index in 0..<300 { redis("SADD", "s", "m\(index)") }
        #expect(redis("OBJECT", "ENCODING", "s") == .bulk("hashtable"))
        var seen = Set<String>()
        var cursor = "0"
        var removed = 200
        repeat {
            let reply = redis("SSCAN", "s", cursor, "COUNT", "17")
            guard case .array(let parts) = reply, parts.count == 2, case .bulk(let next) = parts[0] else {
                Issue.record("bad SSCAN reply \(reply)")
                return
            }
            seen.formUnion(parts[1].sortedStrings)
            cursor = String(decoding: next, as: UTF8.self)
            redis("SREM", "s", "m\(removed)")
            removed += 1
        } while cursor != "0"
        #expect(Set((0..<200).map { "m\($0)" }).isSubset(of: seen))
        let matched = redis("SSCAN", "s", "0", "MATCH", "m1?", "COUNT", "1000")
        guard case .array(let parts) = matched, parts.count == 2 else {
            Issue.record("bad SSCAN reply \(matched)")
            return
        }
        #expect(Set(parts[1].sortedStrings) == Set((10..<20).map { "m\($0)" }))
        #expect(redis("SSCAN", "s", "0", "COUNT", "0") == .error("ERR syntax error"))
        #expect(redis("SSCAN", "s", "x") == .error("ERR invalid cursor"))
    }

    @Test func commandTableRoutesSetKeys() {
        var redis = Harness()
        #expect(redis("COMMAND", "GETKEYS", "SADD", "s", "m") == .strings(["s"]))
        #expect(redis("COMMAND", "GETKEYS", "SINTERSTORE", "d", "a", "b") == .strings(["d", "a", "b"]))
        #expect(redis("COMMAND", "GETKEYS", "SMOVE", "a", "b", "m") == .strings(["a", "b"]))
        // SETSTATE is only for a replication link.
        guard case .error(let message) = redis("SETSTATE", "s", "0", "m") else {
            Issue.record("SETSTATE accepted from a client")
            return
        }
        #expect(message.hasPrefix("ERR unknown command"))
        #expect(redis("EXISTS", "s") == .integer(0))
    }

    @Test func memoryReturnsToBaselineThroughCommands() {
        var redis = Harness()
        redis("SET", "anchor", "v")
        let baseline = redis.server.keyspace.withLock { $0.estimatedMemory }
        for round in 0..<4 {
            for index in 0..<700 { redis("SADD", "s\(round)", round == 3 ? "\(index)" : "member-\(index)") }
            #expect(redis("OBJECT", "ENCODING", "s\(round)") == .bulk("hashtable"))
        }
        redis("SUNIONSTORE", "u", "s0", "s1")
        #expect(redis("SCARD", "u") == .integer(700))
        #expect(redis.server.keyspace.withLock { $0.estimatedMemory } > baseline + 4 * 700 * 8)
        redis("DEL", "s0", "u")
        redis("SET", "s1", "string now")
        redis("DEL", "s1")
        redis("EXPIRE", "s2", "1")
        redis.now += 1_000
        #expect(redis("EXISTS", "s2") == .integer(0))
        #expect(redis("SPOP", "s3", "1000") != .array([]))
        #expect(redis("EXISTS", "s3") == .integer(0))
        #expect(redis.server.keyspace.withLock { $0.estimatedMemory } <= baseline + 1024)
    }
}
