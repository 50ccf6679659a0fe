import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Synchronization
import Testing

@testable import RoostServer

/// List commands through the real dispatcher, and the blocking registry driven directly: clients served in the order
/// they blocked, one element each; timeouts; a closed client's waiter dropped; `MULTI` never blocking. (Replies of
/// the non-blocking commands are compared with redis-server in the differential session `12_lists`.)
@Suite struct ListCommandsTests {
    @Test func pushPopAndRanges() {
        var redis = Harness()
        #expect(redis("RPUSH", "l", "a", "b", "c") == .integer(3))
        #expect(redis("LPUSH", "l", "z") == .integer(4))
        #expect(redis("LRANGE", "l", "0", "-1") == .strings(["z", "a", "b", "c"]))
        #expect(redis("LRANGE", "l", "-2", "100") == .strings(["b", "c"]))
        #expect(redis("LINDEX", "l", "-1") == .bulk("c"))
        #expect(redis("LINDEX", "l", "4") == .null)
        #expect(redis("LPOP", "l", "0") == .array([]))
        #expect(redis("LPOP", "missing", "2") == .null)
        #expect(redis("RPOP", "l", "2") == .strings(["c", "b"]))
        #expect(redis("LPOP", "l", "-1") == .error("ERR value is out of range, must be positive"))
        #expect(redis("LPOP", "l", "1", "2") == .error("ERR wrong number of arguments for 'lpop' command"))
        #expect(redis("LPOP", "l", "5") == .strings(["z", "a"]))
        #expect(redis("EXISTS", "l") == .integer(0))
        #expect(redis("LPUSHX", "l", "a") == .integer(0))
        #expect(redis("EXISTS", "l") == .integer(0))
    }

    @Test func lposOptions() {
        var redis = Harness()
        redis("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
        #expect(redis("LPOS", "l", "c") == .integer(2))
        #expect(redis("LPOS", "l", "c", "RANK", "-1") == .integer(7))
        #expect(redis("LPOS", "l", "c", "RANK", "2", "COUNT", "0") == .array([.integer(6), .integer(7)]))
        #expect(
            redis("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "2", "COUNT", "0") == .array([.integer(7), .integer(6)]))
        #expect(redis("LPOS", "l", "c", "MAXLEN", "2") == .null)
        #expect(redis("LPOS", "l", "c", "COUNT", "-1") == .error("ERR COUNT can't be negative"))
        #expect(redis("LPOS", "missing", "c", "COUNT", "1") == .array([]))
    }

    @Test func lsetLinsertLremLtrimAndWrongType() {
        var redis = Harness()
        redis("RPUSH", "l", "a", "b", "a", "c", "a")
        #expect(redis("LSET", "l", "-1", "z") == .ok)
        #expect(redis("LSET", "l", "5", "z") == .error("ERR index out of range"))
        #expect(redis("LSET", "missing", "0", "z") == .error("ERR no such key"))
        #expect(redis("LINSERT", "l", "AFTER", "c", "d") == .integer(6))
        #expect(redis("LINSERT", "l", "BEFORE", "nothere", "d") == .integer(-1))
        #expect(redis("LREM", "l", "-1", "a") == .integer(1))
        #expect(redis("LRANGE", "l", "0", "-1") == .strings(["a", "b", "c", "d", "z"]))
        #expect(redis("LTRIM", "l", "1", "-2") == .ok)
        #expect(redis("LRANGE", "l", "0", "-1") == .strings(["b", "c", "d"]))
        #expect(redis("OBJECT", "ENCODING", "l") == .bulk("quicklist"))
        redis("SET", "s", "v")
        let wrongType = Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value")
        #expect(redis("LPUSH", "s", "a") == wrongType)
        #expect(redis("GET", "l") == wrongType)
        #expect(redis("LMOVE", "l", "s", "LEFT", "RIGHT") == wrongType)
        #expect(redis("LLEN", "l") == .integer(3), "a refused LMOVE moves nothing")
        #expect(
            redis("LISTSTATE", "l", "0", "a")
                == .error("ERR unknown command 'LISTSTATE', with args beginning with: 'l' '0' 'a' "))
    }

    @Test func blockedClientsAreServedInTheOrderTheyBlockedOneElementEach() {
        var redis = Harness()
        let server = redis.server
        var first = BlockingSupport.connection(server, id: 11)
        var second = BlockingSupport.connection(server, id: 12)
        var third = BlockingSupport.connection(server, id: 13)
        let a = BlockingSupport.block(&first, "BLPOP", "q", "0")
        let b = BlockingSupport.block(&second, "BRPOP", "other", "q", "0")
        let c = BlockingSupport.block(&third, "BLMOVE", "q", "dst", "LEFT", "RIGHT", "0")
        #expect(a != nil && b != nil && c != nil)
        #expect(server.blocking.blockedCount.load(ordering: .relaxed) == 3)
        // One push of two elements serves the two oldest waiters; the third stays blocked.
        #expect(redis("RPUSH", "q", "x", "y") == .integer(2))
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(a) == .strings(["q", "x"]))
        #expect(BlockingSupport.outcome(b) == .strings(["q", "y"]), "BRPOP takes from the tail, but one element only")
        #expect(BlockingSupport.outcome(c) == nil)
        #expect(redis("EXISTS", "q") == .integer(0))
        redis("LPUSH", "q", "z")
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(c) == .bulk("z"))
        #expect(redis("LRANGE", "dst", "0", "-1") == .strings(["z"]))
        #expect(server.blocking.blockedCount.load(ordering: .relaxed) == 0)
    }

    @Test func aClosedClientIsForgottenAndTheNextOneServed() {
        var redis = Harness()
        let server = redis.server
        var gone = BlockingSupport.connection(server, id: 21)
        var waiting = BlockingSupport.connection(server, id: 22)
        let dropped = BlockingSupport.block(&gone, "BLPOP", "q", "0")
        let served = BlockingSupport.block(&waiting, "BLPOP", "q", "0")
        server.blocking.cancel(clientID: 21)
        #expect(BlockingSupport.outcome(dropped) == .error("empty"), "completed with nothing to write")
        redis("RPUSH", "q", "v")
        server.blocking.serveReady(server)
        #expect(BlockingSupport.outcome(served) == .strings(["q", "v"]))
    }

    @Test func timeoutArgumentsAndMultiNeverBlocks() {
        var redis = Harness()
        #expect(redis("BLPOP", "q", "-1") == .error("ERR timeout is negative"))
        #expect(redis("BLPOP", "q", "abc") == .error("ERR timeout is not a float or out of range"))
        redis("RPUSH", "q", "v")
        #expect(redis("BLPOP", "none", "q", "0.5") == .strings(["q", "v"]))
        #expect(redis("MULTI") == .ok)
        #expect(redis("BLPOP", "q", "0") == .simple("QUEUED"))
        #expect(redis("BLMOVE", "q", "d", "LEFT", "LEFT", "0") == .simple("QUEUED"))
        #expect(redis("EXEC") == .array([.null, .null]))
        #expect(redis.server.blocking.blockedCount.load(ordering: .relaxed) == 0)
    }
}
