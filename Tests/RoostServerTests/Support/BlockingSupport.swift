import NIOCore
import NIOEmbedded
import RoostProtocol
import Synchronization
import Testing

@testable import RoostServer

/// Blocking commands through the real dispatcher (`ListCommandsTests`, `SortedSetAlgebraAndBlockingTests`): extra
/// connections, a command that must block, and the reply its future completed with.
enum BlockingSupport {
    /// A second connection on `server`, with its own id.
    static func connection(_ server: ServerState, id: UInt64) -> CommandContext {
        CommandContext(
            server: server, session: ClientSession(id: id, channel: EmbeddedChannel(), now: 0), out: ByteBuffer(),
            authenticated: true)
    }

    /// Runs a command that is expected to block: no reply, a future to wait on.
    static func block(_ context: inout CommandContext, _ arguments: String...) -> EventLoopFuture<
        BlockedOutcome
    >? {
        context.arguments = arguments.map { ByteBuffer(string: $0) }
        Dispatcher.beginBatch(&context)
        Dispatcher.execute(&context)
        defer { context.blocked = nil }
        #expect(context.out.readableBytes == 0, "a blocked command replies nothing yet")
        return context.blocked
    }

    /// The reply a blocked command's future completed with (nil while it has not).
    static func outcome(_ future: EventLoopFuture<BlockedOutcome>?) -> Reply? {
        let reply = Mutex<Reply?>(nil)
        future?.whenSuccess { outcome in
            guard case .reply(var bytes) = outcome else { return }
            var parser = RESPValueParser()
            let value = try? parser.parse(&bytes)
            reply.withLock { $0 = value.map(Reply.init) ?? .error("empty") }
        }
        return reply.withLock { $0 }
    }
}
