import NIOCore
import RoostProtocol

extension CommandContext {
    /// Appends the pushes queued for this connection to the reply buffer, after every reply already in it. Runs on
    /// the connection's event loop only (after a command, or from the handler's ``PendingPushesEvent``).
    /// Consecutive invalidations of keys are sent as one message. Published messages are written whatever the
    /// connection subscribes to now: one queued before an `UNSUBSCRIBE` still arrives after its confirmation.
    mutating func writePendingPushes() {
        guard session.hasPushes.load(ordering: .acquiring) else { return }
        let pushes = session.takePushes()
        var position = 0
        while position < pushes.count {
            switch pushes[position] {
            case .invalidate(.keys(var keys), let redirected):
                while position + 1 < pushes.count, case .invalidate(.keys(let more), redirected) = pushes[position + 1]
                {
                    keys += more
                    position += 1
                }
                writeInvalidation(.keys(keys), redirected: redirected)
            case .invalidate(.all, let redirected):
                writeInvalidation(.all, redirected: redirected)
            case .message:
                writePush(pushes[position])
            case .redirectBroken(let id):
                // Only RESP3 can carry it on the data connection (as in Redis).
                if respVersion == .resp3 {
                    out.writeRESPPushHeader(2, .resp3)
                    out.writeRESPBulkString("tracking-redir-broken")
                    out.writeRESPInteger(Int(id))
                }
            }
            position += 1
        }
    }

    /// Writes a published message (a RESP3 push, a RESP2 array) now, in the reply stream; other pushes are ignored.
    mutating func writePush(_ push: PendingPush) {
        guard case .message(let kind, let pattern, let channel, let payload) = push else { return }
        out.writeRESPPushHeader(pattern == nil ? 3 : 4, respVersion)
        out.writeRESPBulkString(kind.rawValue)
        if let pattern { out.writeRESPBulkString(pattern) }
        out.writeRESPBulkString(channel)
        out.writeRESPBulkString(payload)
    }

    /// `>2 invalidate payload` on RESP3; on RESP2 `message __redis__:invalidate payload` when the invalidation was
    /// redirected here and this connection subscribes (Redis checks pub/sub mode, not the channel); else nothing,
    /// since RESP2 cannot carry it. The payload is the array of keys, or null for a flush.
    private mutating func writeInvalidation(_ invalidation: TrackingTable.Invalidation, redirected: Bool) {
        if respVersion == .resp3 {
            out.writeRESPPushHeader(2, .resp3)
            out.writeRESPBulkString("invalidate")
        } else if redirected && pubsub.isSubscribed {
            out.writeRESPArrayHeader(3)
            out.writeRESPBulkString("message")
            out.writeRESPBulkString(PubSubRegistry.invalidationChannel)
        } else {
            return
        }
        switch invalidation {
        case .keys(let keys):
            out.writeRESPArrayHeader(keys.count)
            for key in keys { out.writeRESPBulkString(key) }
        case .all:
            out.writeRESPNull(respVersion)
        }
    }
}
