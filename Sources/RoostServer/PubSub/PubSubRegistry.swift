import NIOCore
import RoostCore
import Synchronization

/// The server's pub/sub subscriptions: which connections listen to which channel (`SUBSCRIBE`), pattern
/// (`PSUBSCRIBE`) and shard channel (`SSUBSCRIBE`), and the fan-out of a published message to them.
///
/// One mutex guards the three tables; `PUBLISH` holds it only to collect the receivers (each channel subscriber,
/// then each matching pattern subscription, in Redis's order) and queues the messages after releasing it. A message
/// goes to each receiver's ``ClientSession/enqueue(_:)``, which the receiver's own event loop writes after its
/// current command, so a message never lands inside another reply.
///
/// Pattern matching is linear in the number of distinct patterns, as in Redis.
final class PubSubRegistry: Sendable {
    /// The channel client tracking publishes invalidations on for RESP2 redirect targets.
    static let invalidationChannel: [UInt8] = Array("__redis__:invalidate".utf8)

    /// Which table a subscription lives in.
    enum Kind: Sendable, Hashable {
        /// `SUBSCRIBE` channels.
        case channel
        /// `PSUBSCRIBE` glob patterns.
        case pattern
        /// `SSUBSCRIBE` shard channels.
        case shardChannel
    }

    private struct State {
        var channels: [[UInt8]: [UInt64: ClientSession]] = [:]
        var patterns: [[UInt8]: [UInt64: ClientSession]] = [:]
        var shardChannels: [[UInt8]: [UInt64: ClientSession]] = [:]

        subscript(kind: Kind) -> [[UInt8]: [UInt64: ClientSession]] {
            get {
                switch kind {
                case .channel: channels
                case .pattern: patterns
                case .shardChannel: shardChannels
                }
            }
            set {
                switch kind {
                case .channel: channels = newValue
                case .pattern: patterns = newValue
                case .shardChannel: shardChannels = newValue
                }
            }
        }
    }

    private let state = Mutex(State())

    /// Adds `session` to the subscribers of `name` in the `kind` table.
    func subscribe(_ kind: Kind, _ name: [UInt8], _ session: ClientSession) {
        state.withLock { $0[kind][name, default: [:]][session.id] = session }
    }

    /// Removes client `id` from the subscribers of `name` in the `kind` table.
    func unsubscribe(_ kind: Kind, _ name: [UInt8], id: UInt64) {
        state.withLock { state in
            state[kind][name]?[id] = nil
            if state[kind][name]?.isEmpty == true { state[kind][name] = nil }
        }
    }

    /// The connections subscribed to `channel` (not counting patterns).
    func subscribers(of channel: [UInt8]) -> [ClientSession] {
        state.withLock { $0.channels[channel].map { Array($0.values) } ?? [] }
    }

    /// Queues `message` for every subscriber of `channel` and every subscription to a pattern matching it (a
    /// connection subscribed to the channel and to two matching patterns receives it three times, as in Redis);
    /// returns the number of receivers, and the messages for the publishing connection `publisher` itself, which
    /// are not queued: the caller writes them before its reply, where Redis puts them.
    func publish(
        channel: ByteBuffer, message: ByteBuffer, publisher: UInt64 = 0
    ) -> (receivers: Int, own: [PendingPush]) {
        let channelBytes = Array(channel.readableBytesView)
        let channel = Self.compact(channel)
        let message = Self.compact(message)
        let receivers = state.withLock { state -> [(ClientSession, PendingPush)] in
            var receivers: [(ClientSession, PendingPush)] = []
            if let sessions = state.channels[channelBytes] {
                for session in sessions.values {
                    receivers.append((session, .message(.message, pattern: nil, channel: channel, payload: message)))
                }
            }
            for (pattern, sessions) in state.patterns
            where Glob.matches(pattern: pattern, channel.readableBytesView) {
                let patternBuffer = ByteBuffer(bytes: pattern)
                for session in sessions.values {
                    receivers.append(
                        (session, .message(.pmessage, pattern: patternBuffer, channel: channel, payload: message)))
                }
            }
            return receivers
        }
        var own: [PendingPush] = []
        for (session, push) in receivers {
            if session.id == publisher { own.append(push) } else { session.enqueue(push) }
        }
        return (receivers.count, own)
    }

    /// The message's own copy: the arguments are slices of the publisher's receive buffer, and a slice queued for a
    /// slow subscriber would keep that whole buffer (a pipeline's worth) alive.
    private static func compact(_ buffer: ByteBuffer) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        copy.writeImmutableBuffer(buffer)
        return copy
    }

    /// Queues `message` for every subscriber of shard channel `channel`; returns the number of receivers and the
    /// message for `publisher` itself, if it subscribes (see ``publish(channel:message:publisher:)``).
    func publishToShard(
        channel: ByteBuffer, message: ByteBuffer, publisher: UInt64 = 0
    ) -> (receivers: Int, own: [PendingPush]) {
        let channelBytes = Array(channel.readableBytesView)
        let channel = Self.compact(channel)
        let message = Self.compact(message)
        let sessions = state.withLock { $0.shardChannels[channelBytes].map { Array($0.values) } ?? [] }
        var own: [PendingPush] = []
        for session in sessions {
            let push = PendingPush.message(.smessage, pattern: nil, channel: channel, payload: message)
            if session.id == publisher { own.append(push) } else { session.enqueue(push) }
        }
        return (sessions.count, own)
    }

    /// The names in the `kind` table with at least one subscriber that match `pattern` (all when nil), sorted
    /// (`PUBSUB CHANNELS`, `PUBSUB SHARDCHANNELS`).
    func names(_ kind: Kind, matching pattern: [UInt8]?) -> [[UInt8]] {
        let names = state.withLock { Array($0[kind].keys) }
        let matching = pattern.map { pattern in names.filter { Glob.matches(pattern: pattern, $0) } } ?? names
        return matching.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The number of subscribers of `name` in the `kind` table (`PUBSUB NUMSUB`, `PUBSUB SHARDNUMSUB`).
    func subscriberCount(_ kind: Kind, _ name: [UInt8]) -> Int {
        state.withLock { $0[kind][name]?.count ?? 0 }
    }

    /// Distinct names with at least one subscriber in the `kind` table (`INFO` `pubsub_channels`,
    /// `pubsub_patterns`, `pubsubshard_channels`; `PUBSUB NUMPAT`).
    func count(_ kind: Kind) -> Int { state.withLock { $0[kind].count } }

    /// Channels with at least one subscriber (`INFO` `pubsub_channels`).
    var channelCount: Int { count(.channel) }
}
