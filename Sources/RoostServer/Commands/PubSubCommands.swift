import NIOCore
import RoostProtocol

/// One connection's pub/sub subscriptions, in subscription order (as `UNSUBSCRIBE` without arguments answers).
struct PubSubSubscriptions {
    var channels: [[UInt8]] = []
    var patterns: [[UInt8]] = []
    var shardChannels: [[UInt8]] = []

    /// The connection subscribes to anything: RESP2 restricts its commands, its output counts against the
    /// `pubsub` class of `client-output-buffer-limit`.
    var isSubscribed: Bool { !channels.isEmpty || !patterns.isEmpty || !shardChannels.isEmpty }

    /// The list `kind` keeps.
    subscript(kind: PubSubRegistry.Kind) -> [[UInt8]] {
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

    /// The count a confirmation of `kind` carries: channels and patterns together, shard channels apart (Redis
    /// 7.0's `clientSubscriptionsCount` and `clientShardSubscriptionsCount`).
    func confirmationCount(_ kind: PubSubRegistry.Kind) -> Int {
        kind == .shardChannel ? shardChannels.count : channels.count + patterns.count
    }
}

/// Pub/sub: `SUBSCRIBE`/`UNSUBSCRIBE`, `PSUBSCRIBE`/`PUNSUBSCRIBE` (glob patterns), `SSUBSCRIBE`/`SUNSUBSCRIBE` and
/// `SPUBLISH` (shard channels, routed by the channel's hash slot in cluster mode), `PUBLISH` and `PUBSUB`.
///
/// Messages are queued on each receiver's session and written by the receiver's own event loop (see
/// ``PubSubRegistry``). While a RESP2 connection subscribes, it may only run the commands Redis allows (see
/// ``Dispatcher/runWithConnectionModes(_:_:)``); a RESP3 connection runs anything and gets messages as pushes.
/// In cluster mode `PUBLISH` also goes to every other node over the cluster bus, and `SPUBLISH` to this node's
/// replicas over the replication stream (as `PUBLISH` does without cluster mode).
enum PubSubCommands {
    private static let subscribeFlags: Command.Flags = [.pubsub, .noScript, .loading, .stale]

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "subscribe", arity: -2, flags: subscribeFlags, group: .pubsub,
                since: "2.0.0", summary: "Listens for messages published to channels.",
                complexity: "O(N) where N is the number of channels to subscribe to.",
                handler: { context throws(CommandError) in subscribe(&context, .channel) }),
            Command(
                "unsubscribe", arity: -1, flags: subscribeFlags, group: .pubsub,
                since: "2.0.0", summary: "Stops listening to messages posted to channels.",
                complexity: "O(N) where N is the number of channels to unsubscribe.",
                handler: { context throws(CommandError) in unsubscribe(&context, .channel) }),
            Command(
                "psubscribe", arity: -2, flags: subscribeFlags, group: .pubsub,
                since: "2.0.0", summary: "Listens for messages published to channels that match one or more patterns.",
                complexity: "O(N) where N is the number of patterns to subscribe to.",
                handler: { context throws(CommandError) in subscribe(&context, .pattern) }),
            Command(
                "punsubscribe", arity: -1, flags: subscribeFlags, group: .pubsub,
                since: "2.0.0",
                summary: "Stops listening to messages published to channels that match one or more patterns.",
                complexity: "O(N) where N is the number of patterns to unsubscribe.",
                handler: { context throws(CommandError) in unsubscribe(&context, .pattern) }),
            Command(
                "ssubscribe", arity: -2, flags: subscribeFlags, keys: Command.KeyPositions(first: 1, last: -1, step: 1),
                group: .pubsub, since: "7.0.0", summary: "Listens for messages published to shard channels.",
                complexity: "O(N) where N is the number of shard channels to subscribe to.",
                handler: { context throws(CommandError) in subscribe(&context, .shardChannel) }),
            Command(
                "sunsubscribe", arity: -1, flags: subscribeFlags,
                keys: Command.KeyPositions(first: 1, last: -1, step: 1),
                group: .pubsub, since: "7.0.0", summary: "Stops listening to messages posted to shard channels.",
                complexity: "O(N) where N is the number of shard channels to unsubscribe.",
                handler: { context throws(CommandError) in unsubscribe(&context, .shardChannel) }),
            Command(
                "publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast], group: .pubsub, since: "2.0.0",
                summary: "Posts a message to a channel.",
                complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
                    + "the total number of subscribed patterns (by any client).", handler: publish),
            Command(
                "spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast], keys: .single, group: .pubsub,
                since: "7.0.0", summary: "Post a message to a shard channel",
                complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
                handler: spublish),
            Command(
                "pubsub", arity: -2, group: .pubsub, since: "2.8.0", summary: "A container for Pub/Sub commands.",
                complexity: "Depends on subcommand.",
                subcommands: [
                    sub("channels", arity: -2, "Returns the active channels.", handler: channels),
                    sub("numsub", arity: -2, "Returns a count of subscribers to channels.", handler: numsub),
                    sub("numpat", arity: 2, "Returns a count of unique pattern subscriptions.", handler: numpat),
                    sub("shardchannels", arity: -2, "Returns the active shard channels.", handler: shardchannels),
                    sub(
                        "shardnumsub", arity: -2, "Returns the count of subscribers of shard channels.",
                        handler: shardnumsub),
                    sub("help", arity: 2, "Returns helpful text about the different subcommands.", handler: help),
                ]),
        ]
    }

    private static func sub(
        _ name: String, arity: Int, _ summary: String, handler: @escaping Command.Handler
    ) -> Command {
        Command(
            name, parent: "pubsub", arity: arity, flags: [.pubsub, .loading, .stale], group: .pubsub,
            since: name.hasPrefix("shard") ? "7.0.0" : "2.8.0", summary: summary,
            complexity: name == "numpat" || name == "help" ? "O(1)" : "O(N)", handler: handler)
    }

    // MARK: Subscribing

    private static func confirmationName(_ kind: PubSubRegistry.Kind, subscribing: Bool) -> String {
        let base =
            switch kind {
            case .channel: "subscribe"
            case .pattern: "psubscribe"
            case .shardChannel: "ssubscribe"
            }
        guard !subscribing else { return base }
        return kind == .channel ? "unsubscribe" : base.prefix(1) + "un" + base.dropFirst()
    }

    /// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`: one confirmation per name with the connection's count.
    static func subscribe(_ context: inout CommandContext, _ kind: PubSubRegistry.Kind) {
        for index in 1..<context.count {
            let name = context.bytes(index)
            if !context.pubsub[kind].contains(name) {
                context.pubsub[kind].append(name)
                context.server.pubsub.subscribe(kind, name, context.session)
            }
            writeConfirmation(&context, confirmationName(kind, subscribing: true), name: name, kind: kind)
        }
        published(&context)
    }

    /// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`: from the given names, or from all (one confirmation each; a
    /// null name when there was none).
    static func unsubscribe(_ context: inout CommandContext, _ kind: PubSubRegistry.Kind) {
        let names = context.count > 1 ? (1..<context.count).map { context.bytes($0) } : context.pubsub[kind]
        let confirmation = confirmationName(kind, subscribing: false)
        if names.isEmpty {
            context.out.writeRESPPushHeader(3, context.respVersion)
            context.out.writeRESPBulkString(confirmation)
            context.out.writeRESPNull(context.respVersion)
            context.out.writeRESPInteger(context.pubsub.confirmationCount(kind))
        }
        for name in names {
            if let position = context.pubsub[kind].firstIndex(of: name) {
                context.pubsub[kind].remove(at: position)
                context.server.pubsub.unsubscribe(kind, name, id: context.session.id)
            }
            writeConfirmation(&context, confirmation, name: name, kind: kind)
        }
        published(&context)
    }

    /// Leaves every channel, pattern and shard channel without replying (`RESET`, a closed connection).
    static func unsubscribeAll(_ context: inout CommandContext) {
        for kind in [PubSubRegistry.Kind.channel, .pattern, .shardChannel] {
            for name in context.pubsub[kind] { context.server.pubsub.unsubscribe(kind, name, id: context.session.id) }
        }
        context.pubsub = PubSubSubscriptions()
        published(&context)
    }

    private static func writeConfirmation(
        _ context: inout CommandContext, _ confirmation: String, name: [UInt8], kind: PubSubRegistry.Kind
    ) {
        context.out.writeRESPPushHeader(3, context.respVersion)
        context.out.writeRESPBulkString(confirmation)
        context.out.writeRESPBulkString(name)
        context.out.writeRESPInteger(context.pubsub.confirmationCount(kind))
    }

    /// Publishes the subscription counts to `CLIENT LIST` and the dispatcher's mode flag.
    private static func published(_ context: inout CommandContext) {
        let subscriptions = context.pubsub
        context.session.visible.withLock {
            $0.subscriptions = subscriptions.channels.count
            $0.patternSubscriptions = subscriptions.patterns.count
            $0.shardSubscriptions = subscriptions.shardChannels.count
        }
        context.refreshConnectionModes()
    }

    // MARK: Publishing

    /// `PUBLISH channel message`: the number of receivers on this node. In cluster mode the message also goes to
    /// every other node over the bus; otherwise it enters the replication stream, so a replica's subscribers get it.
    static func publish(_ context: inout CommandContext) throws(CommandError) {
        let channel = context.arguments[1]
        let message = context.arguments[2]
        if let cluster = context.server.cluster {
            try cluster.broadcastPublish(channel: channel, message: message)
        } else {
            context.server.replication.propagatePublish(context.server, command: "PUBLISH", channel, message)
        }
        let published = context.server.pubsub.publish(
            channel: channel, message: message, publisher: context.session.id)
        for push in published.own { context.writePush(push) }
        context.replyInteger(published.receivers)
    }

    /// `SPUBLISH shardchannel message`: the number of receivers on this node; the message enters the replication
    /// stream, which carries it to the shard's replicas.
    static func spublish(_ context: inout CommandContext) throws(CommandError) {
        let channel = context.arguments[1]
        let message = context.arguments[2]
        context.server.replication.propagatePublish(context.server, command: "SPUBLISH", channel, message)
        let published = context.server.pubsub.publishToShard(
            channel: channel, message: message, publisher: context.session.id)
        for push in published.own { context.writePush(push) }
        context.replyInteger(published.receivers)
    }

    // MARK: Introspection

    /// `PUBSUB CHANNELS [pattern]`.
    static func channels(_ context: inout CommandContext) throws(CommandError) {
        try listNames(&context, .channel)
    }

    /// `PUBSUB SHARDCHANNELS [pattern]`.
    static func shardchannels(_ context: inout CommandContext) throws(CommandError) {
        try listNames(&context, .shardChannel)
    }

    private static func listNames(_ context: inout CommandContext, _ kind: PubSubRegistry.Kind) throws(CommandError) {
        guard context.count <= 3 else {
            throw CommandError(
                "ERR unknown subcommand or wrong number of arguments for '\(context.string(1))'. Try PUBSUB HELP.")
        }
        let names = context.server.pubsub.names(kind, matching: context.count == 3 ? context.bytes(2) : nil)
        context.out.writeRESPArrayHeader(names.count)
        for name in names { context.out.writeRESPBulkString(name) }
    }

    /// `PUBSUB NUMSUB [channel ...]`.
    static func numsub(_ context: inout CommandContext) throws(CommandError) {
        countSubscribers(&context, .channel)
    }

    /// `PUBSUB SHARDNUMSUB [shardchannel ...]`.
    static func shardnumsub(_ context: inout CommandContext) throws(CommandError) {
        countSubscribers(&context, .shardChannel)
    }

    private static func countSubscribers(_ context: inout CommandContext, _ kind: PubSubRegistry.Kind) {
        let names = (2..<max(2, context.count)).map { context.bytes($0) }
        context.out.writeRESPArrayHeader(names.count * 2)  // a flat array in RESP3 too (Redis 7.0)
        for name in names {
            context.out.writeRESPBulkString(name)
            context.out.writeRESPInteger(context.server.pubsub.subscriberCount(kind, name))
        }
    }

    /// `PUBSUB NUMPAT`: distinct patterns with a subscriber.
    static func numpat(_ context: inout CommandContext) throws(CommandError) {
        context.replyInteger(context.server.pubsub.count(.pattern))
    }

    static func help(_ context: inout CommandContext) throws(CommandError) {
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Print this help.",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
