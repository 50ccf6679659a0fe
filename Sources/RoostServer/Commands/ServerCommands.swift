import NIOCore
import RoostCore
import RoostProtocol

/// Server commands: `INFO`, `DBSIZE`, `FLUSHDB`, `FLUSHALL`, `TIME`, `SHUTDOWN`, `CONFIG`.
enum ServerCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "info", arity: -1, flags: [.loading, .stale], group: .server, since: "1.0.0",
                summary: "Returns information and statistics about the server.", handler: info),
            Command(
                "dbsize", arity: 1, flags: [.readonly, .fast], group: .server, since: "1.0.0",
                summary: "Returns the number of keys in the database.",
                handler: { context throws(CommandError) in
                    context.replyInteger(context.server.keyspace.withLock { $0.count })
                }),
            Command(
                "flushdb", arity: -1, flags: [.write], group: .server, since: "1.0.0",
                summary: "Remove all keys from the current database.",
                complexity: "O(N) where N is the number of keys in the selected database", handler: flush),
            Command(
                "flushall", arity: -1, flags: [.write], group: .server, since: "1.0.0",
                summary: "Removes all keys from all databases.",
                complexity: "O(N) where N is the total number of keys in all databases", handler: flush),
            Command(
                "time", arity: 1, flags: [.loading, .stale, .fast], group: .server, since: "2.6.0",
                summary: "Returns the server time.", handler: time),
            Command(
                "shutdown", arity: -1, flags: [.admin, .noScript, .loading, .stale, .noMulti], group: .server,
                since: "1.0.0", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
                complexity:
                    "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
                handler: shutdown),
            ConfigCommands.command,
        ]
    }

    static func flush(_ context: inout CommandContext) throws(CommandError) {
        if context.count > 2 { throw .syntax }
        if context.count == 2 && !context.argument(1, is: "ASYNC") && !context.argument(1, is: "SYNC") {
            throw .syntax
        }
        context.server.keyspace.withLock { $0.removeAll() }
        context.replyOK()
    }

    static func time(_ context: inout CommandContext) throws(CommandError) {
        let micros = Clock.wallMicroseconds()
        context.out.writeRESPArrayHeader(2)
        context.out.writeRESPBulkString(String(micros / 1_000_000))
        context.out.writeRESPBulkString(String(micros % 1_000_000))
    }

    static func shutdown(_ context: inout CommandContext) throws(CommandError) {
        var abort = false
        for index in 1..<context.count {
            if context.argument(index, is: "ABORT") {
                abort = true
            } else if !(context.argument(index, is: "NOSAVE") || context.argument(index, is: "SAVE")
                || context.argument(index, is: "NOW") || context.argument(index, is: "FORCE"))
            {
                throw .syntax
            }
        }
        if abort {
            if context.count > 2 { throw .syntax }
            throw CommandError("ERR No shutdown in progress.")
        }
        context.server.logger.notice("shutdown requested by client", metadata: ["client.id": "\(context.session.id)"])
        context.server.shutdown.fire()
        // Like Redis, the client gets no reply: the connection closes as the server stops.
        context.closeAfterReply = true
    }

    static func info(_ context: inout CommandContext) throws(CommandError) {
        Dispatcher.flushStatistics(&context)  // this connection's own counts so far, e.g. an earlier INFO
        var sections: [String] = []
        for index in 1..<max(context.count, 1) { sections.append(context.string(index).lowercased()) }
        let text = InfoReport(server: context.server, session: context.session).render(sections: sections)
        context.out.writeRESPVerbatimString(format: "txt", text, context.respVersion)
    }
}
