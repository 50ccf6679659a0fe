import Logging
import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Testing

@testable import RoostServer

/// Tracking through the real dispatcher, on connections whose event loops never run (so queued pushes stay in each
/// session's queue, where the test reads them): the order of registration and read, NOLOOP attribution, OPTIN.
@Suite struct TrackingDispatchTests {
    /// A read-only command that reports, from inside its handler, whether the reading client is already in the
    /// tracking table for its key: the registration must precede the read (docs/TRACKING.md, "The ordering
    /// guarantee").
    static let probe = Command(
        "probe", arity: 2, flags: [.readonly], keys: .single, group: .generic, since: "0",
        summary: "test: is the key already tracked for this client?",
        handler: { context throws(CommandError) in
            let key = context.bytes(1)
            let id = context.session.id
            let tracked = context.server.tracking.table.withLock { $0.readers(of: key).contains(id) }
            context.replyInteger(tracked ? 1 : 0)
        })

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

    static func server() -> ServerState {
        ServerState(
            configuration: ServerConfiguration(), logger: Logger(label: "roost.tests"),
            commands: CommandTable(CommandTable.standard.commands + [probe]))
    }

    @Test func aReadIsRegisteredBeforeTheCommandReads() {
        let server = Self.server()
        var reader = Connection(server, id: 1)
        #expect(reader("PROBE", "k") == ":0\r\n")  // not tracking
        #expect(reader("CLIENT", "TRACKING", "on") == "+OK\r\n")
        #expect(reader("PROBE", "k") == ":1\r\n")
    }

    @Test func anotherConnectionsWriteIsQueuedAndTheReadersOwnFollowsItsReply() {
        let server = Self.server()
        var reader = Connection(server, id: 1)
        var writer = Connection(server, id: 2)
        #expect(reader("HELLO", "3").hasPrefix("%7"))
        #expect(reader("CLIENT", "TRACKING", "on") == "+OK\r\n")
        #expect(reader("GET", "k") == "_\r\n")
        #expect(writer("SET", "k", "v") == "+OK\r\n")
        #expect(reader.queued() == [.invalidate(.keys([Array("k".utf8)]), redirected: false)])
        #expect(reader("GET", "k") == "$1\r\nv\r\n")
        // The reader's own write: the push is written right after the write's reply.
        #expect(reader("SET", "k", "w") == "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n")
    }

    @Test func noLoopHidesOnlyTheClientsOwnWrites() {
        let server = Self.server()
        var reader = Connection(server, id: 1)
        var writer = Connection(server, id: 2)
        #expect(reader("HELLO", "3").hasPrefix("%7"))
        #expect(reader("CLIENT", "TRACKING", "on", "NOLOOP") == "+OK\r\n")
        #expect(reader("MGET", "a", "b") == "*2\r\n_\r\n_\r\n")
        #expect(reader("SET", "a", "mine") == "+OK\r\n")  // own write: nothing
        #expect(reader.queued() == [])
        #expect(writer("SET", "b", "theirs") == "+OK\r\n")
        #expect(reader.queued() == [.invalidate(.keys([Array("b".utf8)]), redirected: false)])
        // A key that expires during the client's own write command was not written by it: it is reported.
        #expect(writer("SET", "src", "v", "PX", "20") == "+OK\r\n")
        #expect(reader("GET", "src") == "$1\r\nv\r\n")
        #expect(reader.queued() == [])
        let expired = ContinuousClock.now + .milliseconds(40)
        while ContinuousClock.now < expired {}  // without touching the key (a lookup would remove it)
        // (The push follows the reply of the command during which it was queued.)
        #expect(reader("COPY", "src", "dst") == ":0\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nsrc\r\n")
    }

    @Test func optInTracksOnlyTheCommandAfterCachingYes() {
        let server = Self.server()
        var reader = Connection(server, id: 1)
        #expect(reader("CLIENT", "TRACKING", "on", "OPTIN") == "+OK\r\n")
        #expect(reader("PROBE", "k") == ":0\r\n")
        #expect(reader("CLIENT", "CACHING", "yes") == "+OK\r\n")
        #expect(reader("CLIENT", "GETREDIR") == ":0\r\n")  // any CLIENT subcommand keeps the mark
        #expect(reader("PROBE", "k") == ":1\r\n")
        #expect(reader("PROBE", "j") == ":0\r\n")
    }

    @Test func closingTheLastTrackingClientStopsTheObserver() {
        let server = Self.server()
        var reader = Connection(server, id: 1)
        #expect(server.keyspace.withLock { $0.observer == nil })
        #expect(reader("CLIENT", "TRACKING", "on") == "+OK\r\n")
        #expect(reader("GET", "k") == "$-1\r\n")
        #expect(server.keyspace.withLock { $0.observer != nil })
        #expect(reader("RESET") == "+RESET\r\n")
        #expect(server.keyspace.withLock { $0.observer == nil })
        #expect(server.tracking.table.withLock { $0.keyCount } == 0)
    }

    /// Through the real connection handler on embedded channels, whose queued tasks never run unless asked: an
    /// invalidation queued for a connection before its next command goes out before that command's reply, even when
    /// the task that would write it has not run yet (NIO serves a loop's I/O before its tasks).
    @Test func aQueuedInvalidationPrecedesTheNextReply() throws {
        let server = Self.server()
        func connect() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(handler: ConnectionHandler(server: server))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            return channel
        }
        func send(_ channel: EmbeddedChannel, _ command: String) throws -> String {
            try channel.writeInbound(ByteBuffer(string: command + "\r\n"))
            var output = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += String(buffer: buffer) }
            return output
        }
        let reader = try connect()
        let writer = try connect()
        _ = try send(reader, "HELLO 3")
        #expect(try send(reader, "CLIENT TRACKING on") == "+OK\r\n")
        #expect(try send(reader, "GET k") == "_\r\n")
        #expect(try send(writer, "SET k v") == "+OK\r\n")
        #expect(try send(reader, "PING") == ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n")
        _ = try reader.finish()
        _ = try writer.finish()
    }
}
