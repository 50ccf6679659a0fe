public import NIOCore
import Synchronization

/// What the rest of the server may see of one connection: its identity, the fields `CLIENT LIST` prints, and a
/// way to close it. The connection's own hot state lives in its ``CommandContext``; this mirrors the few fields
/// other connections read, updated once per read batch.
public final class ClientSession: Sendable {
    /// Fields other connections read (`CLIENT LIST`, `CLIENT KILL`).
    public struct Visible: Sendable {
        /// `CLIENT SETNAME` name, empty when unset.
        public var name = ""
        /// Last command's full name (`client|list`).
        public var lastCommand = "NULL"
        /// Unix milliseconds of the last command.
        public var lastInteraction: Int64
        /// Protocol version in use.
        public var respVersion = 2
        /// Unread bytes in the query buffer.
        public var queryBufferBytes = 0
        /// The database index (always 0 in Roost).
        public var database = 0
        /// `normal`, `replica` (a replica's link to this primary) or `master` (this replica's link to its
        /// primary), as `CLIENT LIST TYPE` and `CLIENT KILL TYPE` filter.
        public var kind = "normal"
        /// Pub/sub channels subscribed to (`CLIENT LIST` `sub=`, flag `P`).
        public var subscriptions = 0
        /// Patterns subscribed to (`CLIENT LIST` `psub=`).
        public var patternSubscriptions = 0
        /// Shard channels subscribed to (`CLIENT LIST` `ssub=`).
        public var shardSubscriptions = 0
        /// Commands queued in an open `MULTI`, or -1 outside one (`CLIENT LIST` `multi=`, flag `x`).
        public var queuedCommands = -1
    }

    /// Unique, increasing connection id (`CLIENT ID`).
    public let id: UInt64
    /// Unix milliseconds when the connection was accepted.
    public let createdAt: Int64
    /// Peer address as `ip:port`.
    public let address: String
    /// Local address as `ip:port`.
    public let localAddress: String
    /// The file descriptor number for `CLIENT LIST` (`fd=`), or -1.
    public let descriptor: Int
    let channel: any Channel
    let visible: Mutex<Visible>
    /// Pushes queued by other threads, written by the connection's own loop (see ``enqueue(_:)``).
    let pushes = Mutex<[PendingPush]>([])
    /// Whether ``pushes`` holds anything (read without the lock after every command of a tracking connection).
    let hasPushes = Atomic<Bool>(false)

    init(id: UInt64, channel: any Channel, now: Int64) {
        self.id = id
        self.channel = channel
        self.createdAt = now
        self.address = channel.remoteAddress.map(ClientSession.format) ?? "?:0"
        self.localAddress = channel.localAddress.map(ClientSession.format) ?? "?:0"
        self.descriptor = -1
        self.visible = Mutex(Visible(lastInteraction: now))
    }

    static func format(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6: "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .unixDomainSocket: "\(address.pathname ?? ""):0"
        }
    }

    /// Closes the connection from any thread (after what was already written is flushed).
    func close() {
        let channel = self.channel
        channel.eventLoop.execute {
            channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
