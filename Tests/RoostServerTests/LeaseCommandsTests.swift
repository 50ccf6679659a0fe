import NIOCore
import RoostCore
import RoostProtocol
import Testing

@testable import RoostServer

/// `LEASE.GET`, `LEASE.SET` and `LEASE.INVALIDATE` through the real dispatcher: every status transition, CAS
/// protection of a superseded lease, what plain commands see of a placeholder, the command table's entries, bad
/// input, and the memcached port contending for the same lease.
@Suite("Lease commands")
struct LeaseCommandsTests {
    /// A `LEASE.GET` reply: `[value, status, cas, ttl-ms]`.
    struct LeaseReply: Equatable {
        var value: String?
        var status: String
        var cas: Int64
        var ttl: Int64

        init?(_ reply: Reply) {
            guard case .array(let parts) = reply, parts.count == 4, case .bulk(let status) = parts[1],
                case .integer(let cas) = parts[2], case .integer(let ttl) = parts[3]
            else { return nil }
            switch parts[0] {
            case .bulk(let bytes): value = String(decoding: bytes, as: UTF8.self)
            case .null: value = nil
            default: return nil
            }
            self.status = String(decoding: status, as: UTF8.self)
            self.cas = cas
            self.ttl = ttl
        }
    }

    private func lease(_ redis: inout Harness, _ arguments: String...) throws -> LeaseReply {
        let reply = redis.run((["LEASE.GET"] + arguments).map { Array($0.utf8) })
        return try #require(LeaseReply(reply), "not a lease reply: \(reply)")
    }

    @Test func missWinsThenOthersWaitThenSetHits() throws {
        var redis = Harness()
        let won = try lease(&redis, "k", "5000")
        #expect(won.value == nil && won.status == "win" && won.ttl == 5000 && won.cas > 0)
        redis.now += 1000
        for _ in 0..<3 {
            #expect(
                try lease(&redis, "k", "5000")
                    == LeaseReply(.array([.null, .bulk("wait"), .integer(won.cas), .integer(4000)])))
        }
        #expect(redis("LEASE.SET", "k", "computed", "PX", "60000", "CAS", "\(won.cas)") == .integer(won.cas + 1))
        let hit = try lease(&redis, "k", "5000")
        #expect(hit.value == "computed" && hit.status == "hit" && hit.cas == won.cas + 1 && hit.ttl == 60000)
        #expect(redis("GET", "k") == .bulk("computed"))
    }

    @Test func aSupersededLeaseCannotOverwrite() throws {
        var redis = Harness()
        let first = try lease(&redis, "k", "1000")
        // The first winner is too slow: its placeholder expires and a second caller wins a new lease.
        redis.now += 1000
        let second = try lease(&redis, "k", "1000")
        #expect(second.status == "win" && second.cas != first.cas)
        #expect(redis("LEASE.SET", "k", "late", "CAS", "\(first.cas)") == .null)
        #expect(redis("LEASE.SET", "k", "fresh", "CAS", "\(second.cas)") == .integer(second.cas + 1))
        // After the fresh value the old CAS is stale too, and a set over a missing key with CAS is refused.
        #expect(redis("LEASE.SET", "k", "late", "CAS", "\(second.cas)") == .null)
        #expect(redis("LEASE.SET", "gone", "x", "CAS", "1") == .null)
        #expect(redis("EXISTS", "gone") == .integer(0))
        #expect(redis("GET", "k") == .bulk("fresh"))
        // A plain write replaces the item and its CAS: the lease holder's set is refused.
        let third = try lease(&redis, "other", "1000")
        #expect(redis("SET", "other", "direct") == .ok)
        #expect(redis("LEASE.SET", "other", "computed", "CAS", "\(third.cas)") == .null)
        #expect(redis("GET", "other") == .bulk("direct"))
        // Without CAS the set is unconditional.
        #expect(redis("LEASE.SET", "other", "forced", "EX", "10") != .null)
        #expect(redis("PTTL", "other") == .integer(10_000))
    }

    @Test func invalidateServesStaleWithOneWinner() throws {
        var redis = Harness()
        #expect(redis("LEASE.INVALIDATE", "k") == .integer(0))
        redis("SET", "k", "old")  // a plain RESP value takes part too
        #expect(redis("LEASE.INVALIDATE", "k", "TTL", "30") == .integer(1))
        #expect(redis("PTTL", "k") == .integer(30_000))
        let winner = try lease(&redis, "k", "5000")
        #expect(winner.value == "old" && winner.status == "stale-win" && winner.ttl == 30_000)
        for _ in 0..<3 {
            let other = try lease(&redis, "k", "5000")
            #expect(other.value == "old" && other.status == "stale" && other.cas == winner.cas)
        }
        #expect(redis("LEASE.SET", "k", "new", "CAS", "\(winner.cas)") == .integer(winner.cas + 1))
        #expect(try lease(&redis, "k", "5000").status == "hit")
        #expect(redis("PTTL", "k") == .integer(-1))
        // An invalidation without TTL keeps the expiry; a second one reopens the lease.
        redis("LEASE.SET", "k", "v", "PX", "9000")
        redis("LEASE.INVALIDATE", "k")
        #expect(try lease(&redis, "k", "5000").status == "stale-win")
        redis("LEASE.INVALIDATE", "k")
        let again = try lease(&redis, "k", "5000")
        #expect(again.status == "stale-win" && again.ttl == 9000)
    }

    @Test func recacheWindowHandsOutOneEarlyLease() throws {
        var redis = Harness()
        redis("LEASE.SET", "k", "v", "EX", "100")
        #expect(try lease(&redis, "k", "5000", "RECACHE", "30").status == "hit")
        redis.now += 80_000  // 20 s left, under the 30 s window
        let early = try lease(&redis, "k", "5000", "RECACHE", "30")
        #expect(early.value == "v" && early.status == "recache-win" && early.ttl == 20_000)
        let others = try lease(&redis, "k", "5000", "RECACHE", "30")
        #expect(others.value == "v" && others.status == "hit")
        #expect(try lease(&redis, "k", "5000").status == "hit")
        #expect(redis("LEASE.SET", "k", "v2", "EX", "100", "CAS", "\(early.cas)") == .integer(early.cas + 1))
        #expect(try lease(&redis, "k", "5000", "RECACHE", "30").status == "hit")
        // A key without expiry is never due.
        redis("SET", "forever", "x")
        #expect(try lease(&redis, "forever", "5000", "RECACHE", "1000000").status == "hit")
    }

    @Test func plainCommandsSeeThePlaceholderAsAnEmptyString() throws {
        var redis = Harness()
        _ = try lease(&redis, "k", "2000")
        #expect(redis("GET", "k") == .bulk(""))
        #expect(redis("EXISTS", "k") == .integer(1))
        #expect(redis("PTTL", "k") == .integer(2000))
        // Invalidating a placeholder makes its lease available again.
        #expect(redis("LEASE.INVALIDATE", "k") == .integer(1))
        #expect(try lease(&redis, "k", "2000").status == "win")
        #expect(try lease(&redis, "k", "2000").status == "wait")
        redis.now += 2000
        #expect(redis("EXISTS", "k") == .integer(0))
        // A plain write, EXPIRE included, drops the lease marks: the placeholder is an ordinary empty value then.
        _ = try lease(&redis, "k", "2000")
        #expect(redis("PEXPIRE", "k", "5000") == .integer(1))
        let plain = try lease(&redis, "k", "2000")
        #expect(plain.value == "" && plain.status == "hit" && plain.ttl == 5000)
        redis("LEASE.SET", "s", "v")
        redis("LEASE.INVALIDATE", "s")
        redis("PERSIST", "s")
        #expect(try lease(&redis, "s", "2000").status == "stale-win")
        redis("LEASE.INVALIDATE", "s", "TTL", "100")
        redis("PERSIST", "s")
        #expect(try lease(&redis, "s", "2000").status == "hit")
    }

    @Test func resp3UsesTheSameArrayWithANullValue() {
        var redis = Harness()
        redis("HELLO", "3")
        redis.context.out.clear()
        redis.context.arguments = ["LEASE.GET", "k", "100"].map { ByteBuffer(string: $0) }
        Dispatcher.beginBatch(&redis.context)
        Dispatcher.execute(&redis.context)
        let text = String(buffer: redis.context.out)
        redis.context.out.clear()
        #expect(text.hasPrefix("*4\r\n_\r\n$3\r\nwin\r\n:"))
        #expect(text.hasSuffix("\r\n:100\r\n"))
    }

    @Test func commandTableEntries() {
        var redis = Harness()
        for name in ["lease.get", "lease.set", "lease.invalidate"] {
            let command = redis.server.commands.lookup(name)
            #expect(command?.keys == .single && command?.flags.contains(.write) == true, "\(name)")
        }
        #expect(redis.server.commands.lookup("lease.set")?.flags.contains(.denyOOM) == true)
        #expect(redis("COMMAND", "GETKEYS", "LEASE.GET", "k", "100", "RECACHE", "5") == .strings(["k"]))
        #expect(redis("COMMAND", "GETKEYS", "LEASE.SET", "k", "v", "CAS", "3") == .strings(["k"]))
        #expect(redis("COMMAND", "GETKEYS", "LEASE.INVALIDATE", "k") == .strings(["k"]))
    }

    @Test func badInputGetsRedisStyleErrors() {
        var redis = Harness()
        let arity: [[String]] = [["LEASE.GET", "k"], ["LEASE.SET", "k"], ["LEASE.INVALIDATE"]]
        for arguments in arity {
            let name = arguments[0].lowercased()
            #expect(
                redis.run(arguments.map { Array($0.utf8) })
                    == .error("ERR wrong number of arguments for '\(name)' command"))
        }
        #expect(redis("LEASE.GET", "k", "x") == .error("ERR value is not an integer or out of range"))
        #expect(redis("LEASE.GET", "k", "0") == .error("ERR invalid expire time in 'lease.get' command"))
        #expect(redis("LEASE.GET", "k", "-5") == .error("ERR invalid expire time in 'lease.get' command"))
        #expect(redis("LEASE.GET", "k", "100", "RECACHE") == .error("ERR syntax error"))
        #expect(redis("LEASE.GET", "k", "100", "NOPE", "1") == .error("ERR syntax error"))
        #expect(redis("LEASE.GET", "k", "100", "RECACHE", "0") == .error("ERR value is out of range, must be positive"))
        #expect(redis("LEASE.SET", "k", "v", "CAS") == .error("ERR syntax error"))
        #expect(redis("LEASE.SET", "k", "v", "CAS", "-1") == .error("ERR value is not an integer or out of range"))
        #expect(redis("LEASE.SET", "k", "v", "KEEPTTL") == .error("ERR syntax error"))
        #expect(redis("LEASE.SET", "k", "v", "EX", "0") == .error("ERR invalid expire time in 'lease.set' command"))
        #expect(redis("LEASE.SET", "k", "v", "EX", "1", "PX", "1") == .error("ERR syntax error"))
        #expect(redis("LEASE.INVALIDATE", "k", "TTL") == .error("ERR syntax error"))
        #expect(
            redis("LEASE.INVALIDATE", "k", "TTL", "0")
                == .error("ERR invalid expire time in 'lease.invalidate' command"))
        // Nothing was created by the refused commands.
        #expect(redis("DBSIZE") == .integer(0))
    }

    @Test func aReplicaRefusesLeaseCommands() {
        var redis = Harness()
        redis.server.replication.isReplica.store(true, ordering: .relaxed)
        for arguments in [["LEASE.GET", "k", "100"], ["LEASE.SET", "k", "v"], ["LEASE.INVALIDATE", "k"]] {
            #expect(
                redis.run(arguments.map { Array($0.utf8) })
                    == .error("READONLY You can't write against a read only replica."))
        }
        #expect(redis("DBSIZE") == .integer(0))
    }

    /// A memcached client's `mg … N` and a RESP client's `LEASE.GET` hand out one lease between them.
    @Test func memcachedAndRESPContendForOneLease() throws {
        var redis = Harness()
        let service = MemcacheService(startedAt: redis.now)
        var session = MemcacheSession(server: redis.server, service: service, out: ByteBuffer())
        var parser = MemcacheRequestParser()
        func mc(_ input: String) -> String {
            var buffer = ByteBuffer(string: input)
            session.beginBatch()
            while let request = parser.parse(&buffer, limits: session.limits) { session.execute(request) }
            defer { session.out.clear() }
            return String(buffer: session.out)
        }
        // memcached wins, RESP waits.
        #expect(mc("mg a v N30 t\r\n") == "VA 0 t30 W\r\n\r\n")
        #expect(try lease(&redis, "a", "5000").status == "wait")
        #expect(mc("ms a 3 T60\r\nabc\r\n") == "HD\r\n")
        #expect(try lease(&redis, "a", "5000").value == "abc")
        // RESP wins, memcached gets Z.
        let won = try lease(&redis, "b", "30000")
        #expect(won.status == "win")
        #expect(mc("mg b v c\r\n") == "VA 0 c\(won.cas) Z\r\n\r\n")
        #expect(redis("LEASE.SET", "b", "xyz", "CAS", "\(won.cas)") == .integer(won.cas + 1))
        #expect(mc("mg b v\r\n") == "VA 3\r\nxyz\r\n")
        // Invalidation over either protocol: one winner across both.
        #expect(mc("md b I\r\n") == "HD\r\n")
        #expect(try lease(&redis, "b", "30000").status == "stale-win")
        #expect(mc("mg b v\r\n") == "VA 3 Z X\r\nxyz\r\n")
        redis("LEASE.INVALIDATE", "b")
        #expect(mc("mg b v\r\n") == "VA 3 X W\r\nxyz\r\n")
        #expect(try lease(&redis, "b", "30000").status == "stale")
    }
}
