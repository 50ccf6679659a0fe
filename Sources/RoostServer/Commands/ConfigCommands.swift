import NIOCore
import RoostProtocol

/// `CONFIG GET`, `CONFIG SET`, `CONFIG RESETSTAT`, answered from the configuration's directive table.
enum ConfigCommands {
    static var command: Command {
        Command(
            "config", arity: -2, group: .server, since: "2.0.0",
            summary: "A container for server configuration commands.",
            complexity: "Depends on subcommand.",
            subcommands: [
                Command(
                    "get", parent: "config", arity: -3, flags: [.admin, .noScript, .loading, .stale], group: .server,
                    since: "2.0.0", summary: "Returns the effective values of configuration parameters.",
                    complexity: "O(N) when N is the number of configuration parameters provided", handler: get),
                Command(
                    "set", parent: "config", arity: -4, flags: [.admin, .noScript, .loading, .stale], group: .server,
                    since: "2.0.0", summary: "Sets configuration parameters in-flight.",
                    complexity: "O(N) when N is the number of configuration parameters provided", handler: set),
                Command(
                    "resetstat", parent: "config", arity: 2, flags: [.admin, .noScript, .loading, .stale],
                    group: .server, since: "2.0.0", summary: "Resets the server's statistics.", handler: resetstat),
                Command(
                    "help", parent: "config", arity: 2, flags: [.loading, .stale], group: .server, since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", handler: help),
            ])
    }

    static func get(_ context: inout CommandContext) throws(CommandError) {
        let patterns = (2..<context.count).map { context.string($0) }
        let pairs = context.server.currentConfiguration.configGet(patterns: patterns)
        context.out.writeRESPMapHeader(pairs.count, context.respVersion)
        for pair in pairs {
            context.out.writeRESPBulkString(pair.name)
            context.out.writeRESPBulkString(pair.value)
        }
    }

    static func set(_ context: inout CommandContext) throws(CommandError) {
        guard context.count % 2 == 0 else { throw .wrongArity("config|set") }
        var pairs: [(String, String)] = []
        for index in stride(from: 2, to: context.count, by: 2) {
            pairs.append((context.string(index), context.string(index + 1)))
        }
        do {
            try context.server.updateConfiguration { (config: inout ServerConfiguration) throws(ConfigurationError) in
                try config.configSet(pairs)
            }
        } catch {
            throw CommandError(error.description)
        }
        context.replyOK()
    }

    static func resetstat(_ context: inout CommandContext) throws(CommandError) {
        context.server.statistics.reset()
        context.server.keyspace.withLock { $0.statistics = .init() }
        for command in context.server.commands.allIncludingSubcommands { command.statistics.reset() }
        context.replyOK()
    }

    static func help(_ context: inout CommandContext) throws(CommandError) {
        let lines = [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
            "RESETSTAT", "    Reset statistics reported by the INFO command.",
            "HELP", "    Print this help.",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
