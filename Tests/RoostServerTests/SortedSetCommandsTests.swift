import Testing

@testable import RoostCore
@testable import RoostServer

/// Sorted-set commands through the real dispatcher: what the differential test masks (a skiplist's ZSCAN), the
/// internal `ZSETSTATE` (refused from clients, recorded exactly for replicas), ranks on a big set against a model,
/// and memory back to its baseline.
@Suite struct SortedSetCommandsTests {
    /// A 2,000-member skiplist: ZRANK, ZRANGE by rank and ZCOUNT agree with a sorted model of the same pairs.
    @Test func ranksAndRangesOfABigSetMatchAModel() {
        var redis = Harness()
        var model: [String: Int] = [:]
        for index in 0..<2_000 {
            let score = index * 7_919 % 1_001 - 500  // deterministic, with ties
            model["m\(index)"] = score
            redis("ZADD", "z", "\(score)", "m\(index)")
        }
        #expect(redis("OBJECT", "ENCODING", "z") == .bulk("skiplist"))
        let ordered = model.map { (member: $0.key, score: $0.value) }.sorted {
            $0.score < $1.score
                || ($0.score == $1.score && Array($0.member.utf8).lexicographicallyPrecedes(Array($1.member.utf8)))
        }
        for rank in stride(from: 0, to: 2_000, by: 97) {
            #expect(redis("ZRANK", "z", ordered[rank].member) == .integer(Int64(rank)))
            #expect(redis("ZREVRANK", "z", ordered[rank].member) == .integer(Int64(1_999 - rank)))
            #expect(redis("ZRANGE", "z", "\(rank)", "\(rank)") == .strings([ordered[rank].member]))
        }
        #expect(redis("ZCOUNT", "z", "(-100", "100") == .integer(Int64(model.values.count { $0 > -100 && $0 <= 100 })))
        let top = redis("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "3")
        #expect(top == .strings(ordered.suffix(3).reversed().map(\.member)))
    }

    /// ZSCAN over a skiplist in small steps with removals between them returns every member present throughout.
    @Test func zscanWalksASkiplist() {
        var redis = Harness()
        for index in 0..<300 { redis("ZADD", "z", "\(index)", "m\(index)") }
        var seen = Set<String>()
        var cursor = "0"
        var removed = 200
        repeat {
            let reply = redis("ZSCAN", "z", cursor, "COUNT", "13")
            guard case .array(let parts) = reply, parts.count == 2, case .bulk(let next) = parts[0],
                case .array(let flat) = parts[1]
            else {
                Issue.record("bad ZSCAN reply \(reply)")
                return
            }
            for pair in stride(from: 0, to: flat.count, by: 2) {
                guard case .bulk(let member) = flat[pair], case .bulk(let score) = flat[pair + 1] else { continue }
                let name = String(decoding: member, as: UTF8.self)
                #expect("m" + String(decoding: score, as: UTF8.self) == name)
                seen.insert(name)
            }
            cursor = String(decoding: next, as: UTF8.self)
            redis("ZREM", "z", "m\(removed)")
            removed += 1
        } while cursor != "0"
        #expect(Set((0..<200).map { "m\($0)" }).isSubset(of: seen))
    }

    @Test func zsetStateIsInternalAndRecordsExactScores() {
        var redis = Harness()
        guard case .error(let message) = redis("ZSETSTATE", "z", "0", "a", "3ff0000000000000") else {
            Issue.record("ZSETSTATE accepted from a client")
            return
        }
        #expect(message.hasPrefix("ERR unknown command"))
        var keyspace = Keyspace()
        keyspace.recordsChanges = true
        struct NotASortedSet: Error {}
        Array("z".utf8).withUnsafeBytes { key in
            try? keyspace.withSortedSet(key, now: 0, wrongType: NotASortedSet()) { set throws(NotASortedSet) in
                set = SortedSetValue()
                set!.set(Array("a".utf8), score: 0.1)
            }
        }
        let log = keyspace.takeChanges { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(log == "*5\r\n$9\r\nZSETSTATE\r\n$1\r\nz\r\n$1\r\n0\r\n$1\r\na\r\n$16\r\n3fb999999999999a\r\n")
    }

    @Test func memoryReturnsToBaselineThroughCommands() {
        var redis = Harness()
        redis("SET", "anchor", "v")
        let baseline = redis.server.keyspace.withLock { $0.estimatedMemory }
        for round in 0..<3 {
            for index in 0..<500 { redis("ZADD", "z\(round)", "\(index)", "member-\(index)") }
        }
        #expect(redis.server.keyspace.withLock { $0.estimatedMemory } > baseline + 3 * 500 * 16)
        redis("DEL", "z0")
        redis("SET", "z1", "string now")
        redis("DEL", "z1")
        redis("EXPIRE", "z2", "1")
        redis.now += 1_000
        #expect(redis("EXISTS", "z2") == .integer(0))
        redis("ZADD", "p", "1", "a", "2", "b")
        redis("ZPOPMIN", "p", "5")
        #expect(redis("EXISTS", "p") == .integer(0))
        #expect(redis.server.keyspace.withLock { $0.estimatedMemory } <= baseline + 1024)
    }
}
