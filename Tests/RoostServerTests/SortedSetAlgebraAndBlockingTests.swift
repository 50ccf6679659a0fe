import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Synchronization
import Testing

@testable import RoostServer

/// `BZPOPMIN`/`BZPOPMAX` through the real dispatcher and the blocking registry (clients served in the order they
/// blocked, one member each; a list push does not serve them; `MULTI` never blocks), and what the differential
/// session `14_sorted_sets_more` cannot show: the union of weighted infinities against a model, the key-ready signal
/// of the STORE forms, and memory after `ZUNIONSTORE` overwrites.
@Suite struct SortedSetAlgebraAndBlockingTests {
    @Test func blockedPopsAreServedInBlockingOrderOneMemberEach() {
        var redis = Harness()
        let server = redis.server
        var first = BlockingSupport.connection(server, id: 31)
        var second = BlockingSupport.connection(server, id: 32)
        var third = BlockingSupport.connection(server, id: 33)
        let a = BlockingSupport.block(&first, "BZPOPMIN", "z", "0")
        let b = BlockingSupport.block(&second, "BZPOPMAX", "other", "z", "0")
        let c = BlockingSupport.block(&third, "BZPOPMIN", "z", "0")
        #expect(a != nil && b != nil && c != nil)
        #expect(server.blocking.blockedCount.load(ordering: .relaxed) == 3)
        // A list pushed to the key does not serve them (and a sorted-set waiter does not take list elements).
        redis("RPUSH", "other", "x")
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(b) == nil)
        redis("DEL", "other")
        // One ZADD of two members serves the two oldest waiters, lowest then highest; the third stays blocked.
        #expect(redis("ZADD", "z", "1", "low", "5", "high") == .integer(2))
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(a) == .strings(["z", "low", "1"]))
        #expect(BlockingSupport.outcome(b) == .strings(["z", "high", "5"]))
        #expect(BlockingSupport.outcome(c) == nil)
        #expect(redis("EXISTS", "z") == .integer(0))
        // A STORE form that writes a non-empty destination serves the last waiter.
        redis("ZADD", "src", "2.5", "m")
        #expect(redis("ZUNIONSTORE", "z", "1", "src", "WEIGHTS", "2") == .integer(1))
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(c) == .strings(["z", "m", "5"]))
        #expect(server.blocking.blockedCount.load(ordering: .relaxed) == 0)
    }

    @Test func timeoutErrorsWrongTypeAndMultiNeverBlocks() {
        var redis = Harness()
        #expect(redis("BZPOPMIN", "z", "-1") == .error("ERR timeout is negative"))
        #expect(redis("BZPOPMAX", "z", "abc") == .error("ERR timeout is not a float or out of range"))
        redis("SET", "s", "v")
        #expect(
            redis("BZPOPMIN", "s", "z", "0")
                == .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        redis("ZADD", "z", "1", "a", "2", "b")
        #expect(redis("BZPOPMAX", "none", "z", "0.5") == .strings(["z", "b", "2"]))
        #expect(redis("MULTI") == .ok)
        #expect(redis("BZPOPMIN", "empty", "0") == .simple("QUEUED"))
        #expect(redis("BZPOPMIN", "z", "0") == .simple("QUEUED"))
        #expect(redis("EXEC") == .array([.null, .strings(["z", "a", "1"])]))
    }

    /// Weighted unions and intersections with infinities against a model of Redis's rules: inputs from the smallest,
    /// a NaN product (`inf * 0`) is 0, a NaN sum (`inf + -inf`) is 0.
    @Test func weightedInfinitiesFollowRedisRules() {
        var redis = Harness()
        redis("ZADD", "a", "inf", "x", "1", "y", "-inf", "w")
        redis("ZADD", "b", "-inf", "x", "2", "y", "3", "z")
        redis("SADD", "plain", "x", "y", "z", "v")
        #expect(redis("ZUNION", "2", "a", "b", "WITHSCORES") == .strings(["w", "-inf", "x", "0", "y", "3", "z", "3"]))
        #expect(redis("ZINTER", "2", "a", "b", "WEIGHTS", "0", "1", "WITHSCORES") == .strings(["x", "-inf", "y", "2"]))
        #expect(
            redis("ZUNION", "2", "a", "plain", "WEIGHTS", "0", "inf", "AGGREGATE", "MIN", "WITHSCORES")
                == .strings(["w", "0", "x", "0", "y", "0", "v", "inf", "z", "inf"]))
        #expect(redis("ZINTERSTORE", "d", "3", "a", "b", "plain", "AGGREGATE", "MAX") == .integer(2))
        #expect(redis("ZRANGE", "d", "0", "-1", "WITHSCORES") == .strings(["y", "2", "x", "inf"]))
        #expect(redis("ZDIFF", "2", "plain", "a", "WITHSCORES") == .strings(["v", "1", "z", "1"]))
    }

    @Test func storeFormsReplaceAnyTypeAndAnEmptyResultDeletes() {
        var redis = Harness()
        redis("ZADD", "z", "1", "a", "2", "b", "3", "c")
        redis("SET", "dst", "a string")
        #expect(redis("ZRANGESTORE", "dst", "z", "+inf", "(1", "BYSCORE", "REV", "LIMIT", "0", "1") == .integer(1))
        #expect(redis("ZRANGE", "dst", "0", "-1", "WITHSCORES") == .strings(["c", "3"]))
        #expect(redis("ZINTERSTORE", "dst", "2", "z", "none") == .integer(0))
        #expect(redis("EXISTS", "dst") == .integer(0))
        #expect(redis("ZREMRANGEBYSCORE", "z", "-inf", "(3") == .integer(2))
        #expect(redis("ZREMRANGEBYRANK", "z", "0", "-1") == .integer(1))
        #expect(redis("EXISTS", "z") == .integer(0))
    }
}
