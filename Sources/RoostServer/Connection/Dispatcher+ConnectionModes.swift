import RoostProtocol

extension Dispatcher {
    /// Commands a RESP2 connection may run while subscribed to a channel (Redis's list).
    static let allowedWhileSubscribed: Set<String> = [
        "ping", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "quit",
        "reset",
    ]

    /// Runs `command` on a connection that tracks keys or subscribes to channels:
    /// - a RESP2 subscriber may only run the pub/sub commands, `PING`, `QUIT` and `RESET` (Redis's error);
    /// - a tracking client's read-only command has its keys remembered *before* it runs (the ordering argument is
    ///   in ``Tracking``), unless OPTIN/OPTOUT and `CLIENT CACHING` say otherwise;
    /// - a NOLOOP client's write command runs as this thread's ``CurrentWriter``;
    /// - the `CLIENT CACHING` mark lasts for one command (any `CLIENT` subcommand keeps it, as in Redis);
    /// - pushes queued for the connection (its own invalidations among them) follow the command's reply.
    static func runWithConnectionModes(_ command: Command, _ context: inout CommandContext) {
        if context.pubsub.isSubscribed && context.respVersion == .resp2
            && !allowedWhileSubscribed.contains(command.parent ?? command.name)
        {
            command.statistics.recordRejection()
            reject(
                &context,
                CommandError(
                    "ERR Can't execute '\(command.fullName)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                        + "RESET are allowed in this context"))
            return
        }
        guard context.tracking.enabled else {
            runHandler(command, &context)
            context.writePendingPushes()
            return
        }
        let id = context.session.id
        let options = context.tracking.options
        if command.flags.contains(.readonly), command.keys.first > 0,
            TrackingTable.remembersRead(options, cachingGiven: context.tracking.cachingGiven)
        {
            var keys: [[UInt8]] = []
            for index in command.keyIndexes(argumentCount: context.count, numkeys: { Int(context.string($0)) }) {
                keys.append(context.bytes(index))
            }
            context.server.tracking.remember(keys, for: id, server: context.server)
        }
        if options.noLoop && command.flags.contains(.write) {
            CurrentWriter.withWriter(id) { runHandler(command, &context) }
        } else {
            runHandler(command, &context)
        }
        if command.parent != "client" { context.tracking.cachingGiven = false }
        context.writePendingPushes()
    }
}
