import Logging
import NIOCore
import RoostCore
import Testing

@testable import RoostServer

/// A memcached connection without sockets: bytes through the real parser into ``MemcacheSession``, on a fresh server
/// with a clock the test moves.
struct MemcacheHarness {
    let server: ServerState
    let clock = ManualClock(1_700_000_000_000)
    var session: MemcacheSession
    var parser = MemcacheRequestParser()

    init(configure: (inout ServerConfiguration) -> Void = { _ in }) {
        var configuration = ServerConfiguration()
        configuration.maxMemory = 0
        configure(&configuration)
        let clock = self.clock
        server = ServerState(configuration: configuration, logger: Logger(label: "roost.tests"), clock: { clock.now })
        session = MemcacheSession(server: server, service: MemcacheService(startedAt: clock.now), out: ByteBuffer())
        session.limits.maxItemSize = configuration.memcachedMaxItemSize
    }

    /// Sends `input` (one read batch) and returns everything answered.
    mutating func callAsFunction(_ input: String) -> String {
        var buffer = ByteBuffer(string: input)
        session.beginBatch()
        while !session.closeAfterReply, let request = parser.parse(&buffer, limits: session.limits) {
            session.execute(request)
        }
        let reply = String(buffer: session.out)
        session.out.clear()
        return reply
    }

    /// Moves the clock forward.
    func advance(seconds: Int64) { clock.now += seconds * 1000 }

    /// A RESP-side read of the key's string.
    func respGet(_ key: String) -> String? {
        let now = clock.now
        return Array(key.utf8).withUnsafeBytes { key in
            server.keyspace.withLock { $0.withString(key, now: now) { String(decoding: $0, as: UTF8.self) } }
        }
    }

    /// A RESP-side write (drops the memcached metadata, as every RESP write does).
    func respSet(_ key: String, _ value: String) {
        let now = clock.now
        Array(key.utf8).withUnsafeBytes { key in
            Array(value.utf8).withUnsafeBytes { value in server.keyspace.withLock { $0.setString(key, value, now: now) }
            }
        }
    }

    /// The CAS the item has now.
    mutating func cas(_ key: String) -> String {
        let reply = self("mg \(key) c\r\n")
        return String(reply.dropFirst(4).dropLast(1))  // "\r\n" is one Character
    }
}

@Suite("Memcache text commands")
struct MemcacheTextCommandTests {
    @Test func setGetAndGets() {
        var mc = MemcacheHarness()
        #expect(mc("set k 42 0 5\r\nhello\r\n") == "STORED\r\n")
        #expect(mc("get k nope\r\n") == "VALUE k 42 5\r\nhello\r\nEND\r\n")
        let cas = mc.cas("k")
        #expect(mc("gets k\r\n") == "VALUE k 42 5 \(cas)\r\nhello\r\nEND\r\n")
        #expect(mc("get nope\r\n") == "END\r\n")
        #expect(mc("set e 0 0 0\r\n\r\nget e\r\n") == "STORED\r\nVALUE e 0 0\r\n\r\nEND\r\n")
    }

    @Test func addReplaceAppendPrepend() {
        var mc = MemcacheHarness()
        #expect(mc("add k 1 0 1\r\na\r\nadd k 2 0 1\r\nb\r\n") == "STORED\r\nNOT_STORED\r\n")
        #expect(mc("replace nope 0 0 1\r\nx\r\nreplace k 3 0 1\r\nc\r\n") == "NOT_STORED\r\nSTORED\r\n")
        #expect(mc("append k 9 9 2\r\nde\r\nprepend k 9 9 2\r\nab\r\n") == "STORED\r\nSTORED\r\n")
        // append and prepend keep the item's flags and expiry.
        #expect(mc("get k\r\n") == "VALUE k 3 5\r\nabcde\r\nEND\r\n")
        #expect(mc("append nope 0 0 1\r\nx\r\nprepend nope 0 0 1\r\nx\r\n") == "NOT_STORED\r\nNOT_STORED\r\n")
    }

    @Test func casSemantics() {
        var mc = MemcacheHarness()
        #expect(mc("cas k 0 0 1 1\r\nx\r\n") == "NOT_FOUND\r\n")
        _ = mc("set k 0 0 1\r\nx\r\n")
        let cas = mc.cas("k")
        #expect(mc("cas k 5 0 1 \(cas)\r\ny\r\n") == "STORED\r\n")
        #expect(mc("cas k 5 0 1 \(cas)\r\nz\r\n") == "EXISTS\r\n")
        #expect(mc("get k\r\n") == "VALUE k 5 1\r\ny\r\nEND\r\n")
        #expect(mc.cas("k") != cas)
    }

    @Test func noreplySuppressesReplies() {
        var mc = MemcacheHarness()
        let quiet =
            "set k 0 0 1 noreply\r\n1\r\nadd k 0 0 1 noreply\r\nx\r\nincr k 5 noreply\r\ntouch k 10 noreply\r\n"
            + "delete nope noreply\r\nflush_all 100 noreply\r\nverbosity 1 noreply\r\n"
        #expect(mc(quiet) == "")
        #expect(mc("get k\r\n") == "VALUE k 0 1\r\n6\r\nEND\r\n")
    }

    @Test func incrDecr() {
        var mc = MemcacheHarness()
        #expect(mc("incr n 1\r\n") == "NOT_FOUND\r\n")
        _ = mc("set n 7 0 2\r\n10\r\n")
        #expect(mc("incr n 5\r\ndecr n 3\r\ndecr n 100\r\n") == "15\r\n12\r\n0\r\n")
        _ = mc("set n 0 0 20\r\n18446744073709551615\r\n")
        #expect(mc("incr n 2\r\n") == "1\r\n")
        _ = mc("set s 0 0 3\r\nabc\r\n")
        #expect(mc("incr s 1\r\n") == "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        // Leading white space is skipped, as memcached's strtoull does; a trailing letter is not a number.
        _ = mc("set s 0 0 3\r\n 12\r\n")
        #expect(mc("incr s 1\r\n") == "13\r\n")
        _ = mc("set s 0 0 3\r\n12a\r\n")
        #expect(mc("incr s 1\r\n") == "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        // No space padding: the result stays a RESP integer.
        _ = mc("set n 3 0 2\r\n10\r\ndecr n 1\r\n")
        #expect(mc("get n\r\n") == "VALUE n 3 1\r\n9\r\nEND\r\n")
        #expect(mc.respGet("n") == "9")
    }

    @Test func expiryRules() {
        var mc = MemcacheHarness()
        let now = mc.clock.now / 1000
        _ = mc("set rel 0 10 1\r\nx\r\nset abs 0 \(now + 20) 1\r\nx\r\nset past 0 -1 1\r\nx\r\n")
        _ = mc("set old 0 \(now - 5) 1\r\nx\r\nset never 0 0 1\r\nx\r\n")
        #expect(mc("mg rel t\r\nmg abs t\r\nmg never t\r\n") == "HD t10\r\nHD t20\r\nHD t-1\r\n")
        #expect(mc("get past old\r\n") == "END\r\n")
        mc.advance(seconds: 11)
        #expect(mc("get rel abs\r\n") == "VALUE abs 0 1\r\nx\r\nEND\r\n")
        mc.advance(seconds: 10)
        #expect(mc("get abs never\r\n") == "VALUE never 0 1\r\nx\r\nEND\r\n")
    }

    @Test func touchAndGat() {
        var mc = MemcacheHarness()
        _ = mc("set k 1 10 1\r\nx\r\n")
        #expect(mc("touch k 100\r\ntouch nope 1\r\n") == "TOUCHED\r\nNOT_FOUND\r\n")
        #expect(mc("mg k t\r\n") == "HD t100\r\n")
        let cas = mc.cas("k")
        #expect(mc("gats 0 k nope\r\n") == "VALUE k 1 1 \(cas)\r\nx\r\nEND\r\n")
        #expect(mc("mg k t\r\n") == "HD t-1\r\n")
        #expect(mc("gat -1 k\r\n") == "VALUE k 1 1\r\nx\r\nEND\r\n")
        #expect(mc("get k\r\n") == "END\r\n")
    }

    @Test func deleteAndFlushAll() {
        var mc = MemcacheHarness()
        _ = mc("set k 0 0 1\r\nx\r\n")
        mc.respSet("r", "resp")
        #expect(mc("delete k\r\ndelete k\r\n") == "DELETED\r\nNOT_FOUND\r\n")
        #expect(mc("flush_all\r\n") == "OK\r\n")
        #expect(mc.respGet("r") == nil)
        _ = mc("set k 0 0 1\r\nx\r\n")
        #expect(mc("flush_all 10\r\nget k\r\n") == "OK\r\nVALUE k 0 1\r\nx\r\nEND\r\n")
        mc.advance(seconds: 10)
        #expect(mc("get k\r\n") == "END\r\n")
    }

    @Test func versionVerbosityStatsQuit() {
        var mc = MemcacheHarness()
        #expect(mc("version\r\n") == "VERSION \(MemcacheService.version)\r\n")
        #expect(mc("verbosity 1\r\n") == "OK\r\n")
        let stats = mc("stats\r\n")
        #expect(stats.hasPrefix("STAT pid ") && stats.hasSuffix("END\r\n") && stats.contains("STAT curr_items 0\r\n"))
        #expect(mc("stats settings\r\n").contains("STAT item_size_max 1048576\r\n"))
        #expect(mc("stats items\r\n") == "END\r\n")
        #expect(mc("stats slabs\r\n").hasPrefix("STAT active_slabs 0\r\nSTAT total_malloced "))
        _ = mc("set k 0 0 1\r\nx\r\nget k\r\nget nope\r\n")
        #expect(mc("stats\r\n").contains("STAT get_hits 1\r\nSTAT get_misses 1\r\n"))
        #expect(mc("stats items\r\n").hasPrefix("STAT items:1:number 1\r\n"))
        #expect(mc("stats nope\r\nstats reset\r\n") == "ERROR\r\nRESET\r\n")
        #expect(mc("quit\r\nget k\r\n") == "")
        #expect(mc.session.closeAfterReply)
    }

    @Test func crossProtocol() {
        var mc = MemcacheHarness()
        _ = mc("set k 42 0 5\r\nhello\r\n")
        #expect(mc.respGet("k") == "hello")
        let cas = mc.cas("k")
        mc.respSet("k", "world")
        // A RESP write resets the flags and changes the CAS.
        #expect(mc("get k\r\n") == "VALUE k 0 5\r\nworld\r\nEND\r\n")
        #expect(mc("cas k 0 0 1 \(cas)\r\nx\r\n") == "EXISTS\r\n")
        mc.respSet("counter", "41")
        #expect(mc("incr counter 1\r\n") == "42\r\n")
    }

    @Test func memoryLimitAnswersOutOfMemory() {
        var mc = MemcacheHarness {
            $0.maxMemory = 1
            $0.maxMemoryPolicy = "noeviction"
        }
        mc.respSet("old", "value")
        #expect(mc("set old 0 0 1\r\nx\r\n") == "SERVER_ERROR out of memory storing object\r\n")
        // Like memcached, a failed set does not leave the old value behind.
        #expect(mc.respGet("old") == nil)
    }

    @Test func appendBeyondTheItemSizeIsNotStored() {
        var mc = MemcacheHarness { $0.memcachedMaxItemSize = 1024 }
        let half = String(repeating: "x", count: 600)
        #expect(mc("set k 0 0 600\r\n\(half)\r\nappend k 0 0 600\r\n\(half)\r\n") == "STORED\r\nNOT_STORED\r\n")
    }
}

@Suite("Memcache meta commands")
struct MemcacheMetaCommandTests {
    @Test func metaGetReturnFlagsInRequestOrder() {
        var mc = MemcacheHarness()
        #expect(mc("ms k 5 F7 T100\r\nhello\r\n") == "HD\r\n")
        let cas = mc.cas("k")
        #expect(mc("mg k s v t f c k O42\r\n") == "VA 5 s5 t100 f7 c\(cas) kk O42\r\nhello\r\n")
        #expect(mc("mg k\r\n") == "HD\r\n")
        #expect(mc("mg nope v\r\nmg nope v O1 k\r\nmg nope v q\r\nmn\r\n") == "EN\r\nEN O1 knope\r\nMN\r\n")
        // t before T shows the old TTL, after it the new one, as in memcached.
        #expect(mc("mg k t T30\r\nmg k T40 t\r\n") == "HD t100\r\nHD t40\r\n")
    }

    @Test func metaSetModesAndCAS() {
        var mc = MemcacheHarness()
        #expect(mc("ms k 1 ME\r\na\r\nms k 1 ME\r\nb\r\n") == "HD\r\nNS\r\n")
        #expect(mc("ms nope 1 MR\r\nx\r\nms nope 1 MA\r\nx\r\n") == "NS\r\nNS\r\n")
        #expect(mc("ms k 1 MA\r\nz\r\nms k 1 MP\r\ny\r\nmg k v\r\n") == "HD\r\nHD\r\nVA 3\r\nyaz\r\n")
        let cas = mc.cas("k")
        #expect(mc("ms k 1 C\(cas) c k O7 q\r\nn\r\n") == "")
        let fresh = mc.cas("k")
        #expect(mc("ms k 1 C\(cas) c\r\nm\r\n") == "EX c0\r\n")
        #expect(mc("ms k 1 C0\r\nm\r\nms k 1 c\r\np\r\n") == "EX\r\nHD c\((Int(fresh) ?? -1) + 1)\r\n")
        #expect(mc("ms new 1 C5\r\nx\r\n") == "NF\r\n")
    }

    @Test func metaDeleteAndInvalidate() {
        var mc = MemcacheHarness()
        #expect(mc("md nope\r\nmd nope q O1\r\n") == "NF\r\nNF O1\r\n")
        _ = mc("ms k 3 T100\r\nold\r\n")
        let cas = mc.cas("k")
        #expect(mc("md k C999999\r\n") == "EX\r\n")
        // Invalidate: stale, new CAS, one winner, everyone else Z.
        #expect(mc("md k I T30 C\(cas)\r\n") == "HD\r\n")
        #expect(mc("mg k v t\r\n") == "VA 3 t30 X W\r\nold\r\n")
        #expect(mc("mg k v\r\nmg k v\r\n") == "VA 3 Z X\r\nold\r\nVA 3 Z X\r\nold\r\n")
        #expect(mc.cas("k") != cas)
        // The winner's recache clears the stale mark.
        #expect(mc("ms k 3\r\nnew\r\nmg k v\r\n") == "HD\r\nVA 3\r\nnew\r\n")
        #expect(mc("md k q\r\nmg k\r\n") == "EN\r\n")
    }

    @Test func staleSetWithAnOlderCAS() {
        var mc = MemcacheHarness()
        _ = mc("ms k 1\r\na\r\n")
        let old = mc.cas("k")
        _ = mc("md k I\r\n")
        #expect(mc("mg k v\r\n") == "VA 1 X W\r\na\r\n")
        // A late writer with the pre-invalidation CAS stores its value, still stale, keeping the win token handed out.
        #expect(mc("ms k 1 I C\(old)\r\nb\r\n") == "HD\r\n")
        #expect(mc("mg k v\r\n") == "VA 1 Z X\r\nb\r\n")
    }

    @Test func vivifyLeaseProtectsAgainstStampedes() {
        var mc = MemcacheHarness()
        #expect(mc("mg hot v N30 t\r\n") == "VA 0 t30 W\r\n\r\n")
        for _ in 0..<3 { #expect(mc("mg hot v N30\r\n") == "VA 0 Z\r\n\r\n") }
        #expect(mc("ms hot 5 T60\r\nvalue\r\nmg hot v N30\r\n") == "HD\r\nVA 5\r\nvalue\r\n")
        // Recache: the first reader below the threshold wins, the next gets Z.
        _ = mc("ms r 1 T10\r\nx\r\n")
        #expect(mc("mg r v R30\r\nmg r v R30\r\nmg r v R5\r\n") == "VA 1 W\r\nx\r\nVA 1 Z\r\nx\r\nVA 1 Z\r\nx\r\n")
        _ = mc("ms long 1 T100\r\nx\r\n")
        #expect(mc("mg long v R30\r\n") == "VA 1\r\nx\r\n")
    }

    @Test func metaArithmetic() {
        var mc = MemcacheHarness()
        #expect(mc("ma n\r\nma n O5 k\r\n") == "NF\r\nNF O5 kn\r\n")
        #expect(mc("ma n N0 J10 v\r\n") == "VA 2\r\n10\r\n")
        #expect(
            mc("ma n v D5\r\nma n v MD D100\r\nma n MI\r\nma n q\r\nmn\r\n")
                == "VA 2\r\n15\r\nVA 1\r\n0\r\nHD\r\nMN\r\n")
        let cas = mc.cas("n")
        #expect(mc("ma n C999999 v\r\nma n C\(cas) v c t\r\n") == "EX\r\nVA 1 c\((Int(cas) ?? -1) + 1) t-1\r\n3\r\n")
        _ = mc("ms s 1\r\nx\r\n")
        #expect(mc("ma s\r\n") == "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        // N creates the counter even under q (memcached shows the creation).
        #expect(mc("ma m N0 q v\r\n") == "VA 1\r\n0\r\n")
    }

    @Test func base64KeysAndDebug() {
        var mc = MemcacheHarness()
        // "Zm9v" is base64 for "foo".
        #expect(mc("ms Zm9v 3 b k\r\nbar\r\n") == "HD kZm9v b\r\n")
        #expect(mc("get foo\r\n") == "VALUE foo 0 3\r\nbar\r\nEND\r\n")
        #expect(mc("mg Zm9v b v k\r\n") == "VA 3 kZm9v b\r\nbar\r\n")
        let cas = mc.cas("foo")
        #expect(mc("me foo\r\n") == "ME foo exp=-1 la=0 cas=\(cas) fetch=no cls=1 size=65\r\n")
        #expect(mc("me nope\r\nmn\r\n") == "EN\r\nMN\r\n")
    }

    @Test func writesOnAReplicaAreRefused() {
        var mc = MemcacheHarness()
        mc.server.replication.isReplica.store(true, ordering: .relaxed)
        let refused = MemcacheSession.readOnlyError + "\r\n"
        #expect(mc("set k 0 0 1\r\nx\r\n") == refused)
        #expect(mc("ms k 1\r\nx\r\nmd k\r\n") == refused + refused)
        #expect(mc("get k\r\n") == "END\r\n")
    }

    /// A set whose data block is over the item size limit removes the old value (memcached leaves no stale data
    /// behind a failed set); other storage modes keep it.
    @Test func anOversizedSetRemovesTheOldValue() {
        var mc = MemcacheHarness()
        let size = 2 * 1024 * 1024
        let big = String(repeating: "x", count: size)
        _ = mc("set k 0 0 1\r\na\r\n")
        #expect(mc("set k 0 0 \(size)\r\n\(big)\r\n") == "SERVER_ERROR object too large for cache\r\n")
        #expect(mc("get k\r\n") == "END\r\n")
        _ = mc("set k 0 0 1\r\na\r\n")
        #expect(mc("append k 0 0 \(size)\r\n\(big)\r\n") == "SERVER_ERROR object too large for cache\r\n")
        #expect(mc("get k\r\n") == "VALUE k 0 1\r\na\r\nEND\r\n")
        #expect(mc("ms k \(size)\r\n\(big)\r\nmg k v\r\n") == "SERVER_ERROR object too large for cache\r\nEN\r\n")
    }
}
