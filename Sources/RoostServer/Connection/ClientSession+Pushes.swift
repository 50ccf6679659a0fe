import NIOCore

/// Out-of-band data for a connection, produced by other connections or threads: tracking invalidations and
/// pub/sub messages. They are queued on the target's ``ClientSession`` and written by the target's own event loop
/// (``CommandContext/writePendingPushes()``), in the connection's reply stream, after every reply already produced
/// (see ``Tracking`` for why that order matters).
enum PendingPush: Sendable, Hashable {
    /// An invalidation; `redirected` when it comes from another client's `CLIENT TRACKING on REDIRECT`, which is
    /// what lets a RESP2 subscriber receive it as a `__redis__:invalidate` message.
    case invalidate(TrackingTable.Invalidation, redirected: Bool)
    /// The client this connection redirects its invalidations to is gone (RESP3 `tracking-redir-broken`).
    case redirectBroken(UInt64)
    /// A published message: `message channel payload`, `pmessage pattern channel payload` or
    /// `smessage channel payload` (a RESP3 push, a RESP2 array).
    case message(MessageKind, pattern: ByteBuffer?, channel: ByteBuffer, payload: ByteBuffer)

    /// The first element of a published message's frame.
    enum MessageKind: String, Sendable, Hashable {
        /// A channel subscription's message (`SUBSCRIBE`).
        case message
        /// A pattern subscription's message (`PSUBSCRIBE`).
        case pmessage
        /// A shard channel subscription's message (`SSUBSCRIBE`).
        case smessage
    }
}

/// A user event asking the connection's handler to write its pending pushes.
struct PendingPushesEvent: Sendable {}

extension ClientSession {
    /// Queues `push` for this connection from any thread; the first push of a batch asks the connection's event
    /// loop to write them (always as a queued task: never in the middle of a command that runs on that loop).
    func enqueue(_ push: PendingPush) {
        let wake = pushes.withLock { queue in
            queue.append(push)
            return !hasPushes.exchange(true, ordering: .acquiringAndReleasing)
        }
        guard wake else { return }
        let channel = self.channel
        channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(PendingPushesEvent()) }
    }

    /// Takes the queued pushes (on the connection's loop).
    func takePushes() -> [PendingPush] {
        pushes.withLock { queue in
            hasPushes.store(false, ordering: .releasing)
            defer { queue.removeAll() }
            return queue
        }
    }
}
