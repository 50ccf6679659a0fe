import Synchronization

/// The server's pub/sub channels: which connections subscribe to which channel (`SUBSCRIBE`).
///
/// Small on purpose: client-side caching needs only the `__redis__:invalidate` channel (a RESP2 connection that
/// subscribes to it receives the invalidations of the clients that redirect to it, see ``Tracking``). `PUBLISH`,
/// patterns and shard channels can be added on top: a message for a channel goes to each subscriber's
/// ``ClientSession/enqueue(_:)``, which its own event loop writes.
final class PubSubRegistry: Sendable {
    /// The channel client tracking publishes invalidations on for RESP2 redirect targets.
    static let invalidationChannel: [UInt8] = Array("__redis__:invalidate".utf8)

    private let channels = Mutex<[[UInt8]: [UInt64: ClientSession]]>([:])

    /// Adds `session` to `channel`'s subscribers.
    func subscribe(_ channel: [UInt8], _ session: ClientSession) {
        channels.withLock { $0[channel, default: [:]][session.id] = session }
    }

    /// Removes client `id` from the subscribers of `channel`.
    func unsubscribe(_ channel: [UInt8], id: UInt64) {
        channels.withLock { channels in
            channels[channel]?[id] = nil
            if channels[channel]?.isEmpty == true { channels[channel] = nil }
        }
    }

    /// The connections subscribed to `channel`.
    func subscribers(of channel: [UInt8]) -> [ClientSession] {
        channels.withLock { $0[channel].map { Array($0.values) } ?? [] }
    }

    /// Channels with at least one subscriber (`INFO` `pubsub_channels`).
    var channelCount: Int { channels.withLock { $0.count } }
}
