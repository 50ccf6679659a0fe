import NIOCore
import RoostProtocol

/// `SUBSCRIBE` and `UNSUBSCRIBE` over the server's ``PubSubRegistry``: enough for a RESP2 connection to receive
/// the tracking invalidations redirected to it on `__redis__:invalidate`. `PUBLISH` and patterns are not served
/// yet. While a RESP2 connection subscribes, it may only run the commands Redis allows (see
/// ``Dispatcher/runWithConnectionModes(_:_:)``).
enum PubSubCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "subscribe", arity: -2, flags: [.pubsub, .noScript, .loading, .stale], group: .pubsub,
                since: "2.0.0", summary: "Listens for messages published to channels.",
                complexity: "O(N) where N is the number of channels to subscribe to.", handler: subscribe),
            Command(
                "unsubscribe", arity: -1, flags: [.pubsub, .noScript, .loading, .stale], group: .pubsub,
                since: "2.0.0", summary: "Stops listening to messages posted to channels.",
                complexity: "O(N) where N is the number of channels to unsubscribe.", handler: unsubscribe),
        ]
    }

    /// `SUBSCRIBE channel [channel ...]`: one `subscribe` confirmation per channel with the connection's count.
    static func subscribe(_ context: inout CommandContext) throws(CommandError) {
        for index in 1..<context.count {
            let channel = context.bytes(index)
            if !context.subscribedChannels.contains(channel) {
                context.subscribedChannels.append(channel)
                context.server.pubsub.subscribe(channel, context.session)
            }
            writeConfirmation(&context, "subscribe", channel: channel)
        }
        published(&context)
    }

    /// `UNSUBSCRIBE [channel ...]`: from the given channels, or from all (one confirmation each; a null channel
    /// when there was none).
    static func unsubscribe(_ context: inout CommandContext) throws(CommandError) {
        let channels = context.count > 1 ? (1..<context.count).map { context.bytes($0) } : context.subscribedChannels
        if channels.isEmpty {
            context.out.writeRESPPushHeader(3, context.respVersion)
            context.out.writeRESPBulkString("unsubscribe")
            context.out.writeRESPNull(context.respVersion)
            context.out.writeRESPInteger(0)
        }
        for channel in channels {
            if let position = context.subscribedChannels.firstIndex(of: channel) {
                context.subscribedChannels.remove(at: position)
                context.server.pubsub.unsubscribe(channel, id: context.session.id)
            }
            writeConfirmation(&context, "unsubscribe", channel: channel)
        }
        published(&context)
    }

    /// Leaves every channel without replying (`RESET`, a closed connection).
    static func unsubscribeAll(_ context: inout CommandContext) {
        for channel in context.subscribedChannels {
            context.server.pubsub.unsubscribe(channel, id: context.session.id)
        }
        context.subscribedChannels = []
        published(&context)
    }

    private static func writeConfirmation(_ context: inout CommandContext, _ kind: String, channel: [UInt8]) {
        context.out.writeRESPPushHeader(3, context.respVersion)
        context.out.writeRESPBulkString(kind)
        context.out.writeRESPBulkString(channel)
        context.out.writeRESPInteger(context.subscribedChannels.count)
    }

    /// Publishes the subscription count to `CLIENT LIST` and the dispatcher's mode flag.
    private static func published(_ context: inout CommandContext) {
        let count = context.subscribedChannels.count
        context.session.visible.withLock { $0.subscriptions = count }
        context.refreshConnectionModes()
    }
}
