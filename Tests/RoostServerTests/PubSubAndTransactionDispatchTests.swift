import Foundation
import Logging
import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Synchronization
import Testing

@testable import RoostServer

/// Pub/sub and transactions through the real dispatcher, on connections whose event loops never run: published
/// messages stay in each receiver's queue until its next command writes them, where the test reads them.
@Suite struct PubSubAndTransactionDispatchTests {
    struct Connection {
        var context: CommandContext

        init(_ server: ServerState, id: UInt64) {
            let session = ClientSession(id: id, channel: EmbeddedChannel(), now: 0)
            server.clients.withLock { $0[id] = session }
            context = CommandContext(server: server, session: session, out: ByteBuffer(), authenticated: true)
        }

        /// Runs a command; returns its reply bytes (pushes written after it included).
        mutating func callAsFunction(_ arguments: String...) -> String {
            context.arguments = arguments.map { ByteBuffer(string: $0) }
            Dispatcher.beginBatch(&context)
            Dispatcher.execute(&context)
            defer { context.out.clear() }
            return String(buffer: context.out)
        }

        /// The pushes queued for this connection and not yet written.
        func queued() -> [PendingPush] { context.session.takePushes() }
    }

    static func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) -> ServerState {
        var configuration = ServerConfiguration()
        configure(&configuration)
        return ServerState(configuration: configuration, logger: Logger(label: "roost.tests"))
    }

    static func message(_ kind: PendingPush.MessageKind, _ pattern: String?, _ channel: String, _ payload: String)
        -> PendingPush
    {
        .message(
            kind, pattern: pattern.map { ByteBuffer(string: $0) }, channel: ByteBuffer(string: channel),
            payload: ByteBuffer(string: payload))
    }

    // MARK: Pub/sub

    @Test func publishReachesChannelAndPatternSubscribersInRedisOrder() {
        let server = Self.server()
        var subscriber = Connection(server, id: 1)
        var publisher = Connection(server, id: 2)
        #expect(subscriber("SUBSCRIBE", "news") == "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        #expect(
            subscriber("PSUBSCRIBE", "n*", "x") == "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n"
                + "*3\r\n$10\r\npsubscribe\r\n$1\r\nx\r\n:3\r\n")
        #expect(publisher("PUBLISH", "news", "hi") == ":2\r\n")
        #expect(publisher("PUBLISH", "nope", "p") == ":1\r\n")
        #expect(publisher("PUBLISH", "other", "o") == ":0\r\n")
        #expect(
            subscriber.queued() == [
                Self.message(.message, nil, "news", "hi"), Self.message(.pmessage, "n*", "news", "hi"),
                Self.message(.pmessage, "n*", "nope", "p"),
            ])
        #expect(publisher("PUBSUB", "NUMSUB", "news", "none") == "*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n")
        #expect(publisher("PUBSUB", "NUMPAT") == ":2\r\n")
        #expect(publisher("PUBSUB", "CHANNELS", "n*") == "*1\r\n$4\r\nnews\r\n")
    }

    @Test func queuedMessagesAreWrittenAfterTheSubscribersNextReply() {
        let server = Self.server()
        var subscriber = Connection(server, id: 1)
        var publisher = Connection(server, id: 2)
        _ = subscriber("SUBSCRIBE", "c")
        _ = publisher("PUBLISH", "c", "m")
        #expect(subscriber("PING") == "*2\r\n$4\r\npong\r\n$0\r\n\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n")
    }

    @Test func resp2SubscribersAreRestrictedAndResp3SubscribersAreNot() {
        let server = Self.server()
        var resp2 = Connection(server, id: 1)
        _ = resp2("SUBSCRIBE", "c")
        #expect(resp2("GET", "k").hasPrefix("-ERR Can't execute 'get': only (P|S)SUBSCRIBE"))
        var resp3 = Connection(server, id: 2)
        _ = resp3("HELLO", "3")
        #expect(resp3("SUBSCRIBE", "c") == ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n")
        #expect(resp3("SET", "k", "v") == "+OK\r\n")
        // Its own message: the push precedes PUBLISH's reply, as in Redis.
        #expect(resp3("PUBLISH", "c", "self") == ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$4\r\nself\r\n:2\r\n")
        #expect(resp2.queued() == [Self.message(.message, nil, "c", "self")])
    }

    @Test func shardChannelsCountApartAndUnsubscribeAllAnswersNullWhenEmpty() {
        let server = Self.server()
        var connection = Connection(server, id: 1)
        _ = connection("SUBSCRIBE", "a")
        #expect(connection("SSUBSCRIBE", "s") == "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n")
        #expect(connection("SUNSUBSCRIBE") == "*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n")
        #expect(connection("SUNSUBSCRIBE") == "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n")
        #expect(connection("PUNSUBSCRIBE") == "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:1\r\n")
        #expect(server.pubsub.count(.shardChannel) == 0)
        #expect(connection("UNSUBSCRIBE") == "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n")
        #expect(!connection.context.hasConnectionModes)
    }

    // MARK: Transactions

    @Test func queuedCommandsRunTogetherAndRuntimeErrorsStayInTheirSlot() {
        let server = Self.server()
        var connection = Connection(server, id: 1)
        _ = connection("SET", "text", "abc")
        #expect(connection("MULTI") == "+OK\r\n")
        #expect(connection("SET", "n", "1") == "+QUEUED\r\n")
        #expect(connection("INCR", "text") == "+QUEUED\r\n")
        #expect(connection("INCR", "n") == "+QUEUED\r\n")
        #expect(connection.context.session.visible.withLock { $0.queuedCommands } == 3)
        #expect(
            connection("EXEC") == "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n:2\r\n")
        #expect(connection.context.session.visible.withLock { $0.queuedCommands } == -1)
    }

    @Test func aQueueTimeErrorAbortsAndControlErrorsHaveRedisText() {
        let server = Self.server()
        var connection = Connection(server, id: 1)
        #expect(connection("EXEC") == "-ERR EXEC without MULTI\r\n")
        #expect(connection("DISCARD") == "-ERR DISCARD without MULTI\r\n")
        _ = connection("MULTI")
        #expect(connection("MULTI") == "-ERR MULTI calls can not be nested\r\n")
        #expect(connection("WATCH", "k") == "-ERR WATCH inside MULTI is not allowed\r\n")
        _ = connection("SET", "k", "v")
        #expect(connection("GET").hasPrefix("-ERR wrong number of arguments"))
        #expect(connection("EXEC") == "-EXECABORT Transaction discarded because of previous errors.\r\n")
        #expect(connection("GET", "k") == "$-1\r\n")
        #expect(
            connection("EXEC", "x") == "-EXECABORT Transaction discarded because of: wrong number of arguments "
                + "for 'exec' command\r\n")
    }

    @Test func watchedKeyChangedByAnotherClientOrByExpiryNullsExec() {
        let clock = ManualClock(1_000_000)
        let server = ServerState(
            configuration: ServerConfiguration(), logger: Logger(label: "roost.tests"), clock: { clock.now })
        var watcher = Connection(server, id: 1)
        var other = Connection(server, id: 2)
        _ = watcher("WATCH", "k")
        _ = other("SET", "k", "changed")
        _ = watcher("MULTI")
        _ = watcher("SET", "k", "mine")
        #expect(watcher("EXEC") == "*-1\r\n")
        #expect(other("GET", "k") == "$7\r\nchanged\r\n")
        #expect(server.watches.watcherCount == 0)
        // A key live when watched that expires before EXEC aborts it (nothing removed it yet).
        _ = other("SET", "e", "v", "PX", "100")
        _ = watcher("WATCH", "e")
        clock.now += 500
        _ = watcher("MULTI")
        _ = watcher("PING")
        #expect(watcher("EXEC") == "*-1\r\n")
        // A key already expired when watched does not abort when the expiry cycle removes it.
        _ = other("SET", "old", "v", "PX", "100")
        clock.now += 500
        _ = watcher("WATCH", "old")
        _ = other("GET", "old")  // the lazy removal
        _ = watcher("MULTI")
        _ = watcher("PING")
        #expect(watcher("EXEC") == "*1\r\n+PONG\r\n")
        // RESP3: a null.
        _ = watcher("HELLO", "3")
        _ = watcher("WATCH", "k")
        _ = other("DEL", "k")
        _ = watcher("MULTI")
        #expect(watcher("EXEC") == "_\r\n")
        // The keyspace stops reporting changes once nobody watches or tracks.
        #expect(server.keyspace.withLock { $0.observer == nil })
    }

    @Test func execIsOneCriticalSection() {
        // A command that takes the keyspace lock from inside EXEC must not deadlock (the lock is re-entrant on the
        // thread that holds it for the EXEC), and no other thread gets in between the queued commands.
        let server = Self.server()
        var connection = Connection(server, id: 1)
        _ = connection("MULTI")
        for index in 0..<50 { _ = connection("SET", "k\(index)", "\(index)") }
        let observed = Mutex<[Int]>([])
        let done = Atomic<Bool>(false)
        let reader = Thread {
            while !done.load(ordering: .relaxed) {
                let count = server.keyspace.withLock { $0.count }
                observed.withLock { $0.append(count) }
            }
        }
        reader.start()
        #expect(connection("EXEC").hasPrefix("*50\r\n"))
        done.store(true, ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(observed.withLock { $0.allSatisfy { $0 == 0 || $0 == 50 } })
    }
}
