import NIOCore
import RoostCore
import RoostProtocol

/// `COMMAND` and its subcommands, answered from the command table.
enum IntrospectionCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "command", arity: -1, flags: [.loading, .stale], group: .server, since: "2.8.13",
                summary: "Returns detailed information about all commands.",
                complexity: "O(N) where N is the total number of Redis commands",
                subcommands: [
                    Command(
                        "count", parent: "command", arity: 2, flags: [.loading, .stale], group: .server,
                        since: "2.8.13", summary: "Returns a count of commands.",
                        handler: { context throws(CommandError) in
                            context.replyInteger(context.server.commands.commands.count)
                        }),
                    Command(
                        "info", parent: "command", arity: -2, flags: [.loading, .stale], group: .server,
                        since: "2.8.13", summary: "Returns information about one, multiple or all commands.",
                        complexity: "O(N) where N is the number of commands to look up", handler: info),
                    Command(
                        "docs", parent: "command", arity: -2, flags: [.loading, .stale], group: .server,
                        since: "7.0.0", summary: "Returns documentary information about one, multiple or all commands.",
                        complexity: "O(N) where N is the number of commands to look up", handler: docs),
                    Command(
                        "list", parent: "command", arity: -2, flags: [.loading, .stale], group: .server,
                        since: "7.0.0", summary: "Returns a list of command names.",
                        complexity: "O(N) where N is the total number of Redis commands", handler: list),
                    Command(
                        "getkeys", parent: "command", arity: -3, flags: [.loading, .stale], group: .server,
                        since: "2.8.13", summary: "Extracts the key names from an arbitrary command.",
                        complexity: "O(N) where N is the number of arguments to the command", handler: getkeys),
                    Command(
                        "help", parent: "command", arity: 2, flags: [.loading, .stale], group: .server,
                        since: "5.0.0", summary: "Returns helpful text about the different subcommands.", handler: help),
                ],
                handler: { context throws(CommandError) in
                    let commands = context.server.commands.commands
                    context.out.writeRESPArrayHeader(commands.count)
                    for command in commands { writeInfo(command, &context) }
                })
        ]
    }

    /// The ACL categories Redis would list for a command of this shape.
    static func categories(_ command: Command) -> [String] {
        var result: [String] = []
        if command.flags.contains(.write) { result.append("@write") }
        if command.flags.contains(.readonly) { result.append("@read") }
        if command.flags.contains(.admin) { result += ["@admin", "@dangerous"] }
        switch command.group {
        case .string: result.append("@string")
        case .hash: result.append("@hash")
        case .list: result.append("@list")
        case .set: result.append("@set")
        case .sortedSet: result.append("@sortedset")
        case .generic: result.append("@keyspace")
        case .connection: result.append("@connection")
        case .pubsub: result.append("@pubsub")
        case .transactions: result.append("@transaction")
        case .server: break
        }
        result.append(command.flags.contains(.fast) ? "@fast" : "@slow")
        return result
    }

    static func writeInfo(_ command: Command, _ context: inout CommandContext) {
        let version = context.respVersion
        context.out.writeRESPArrayHeader(10)
        context.out.writeRESPBulkString(command.fullName)
        context.out.writeRESPInteger(command.arity)
        let flags = command.flags.names
        context.out.writeRESPSetHeader(flags.count, version)
        for flag in flags { context.out.writeRESPSimpleString(flag) }
        context.out.writeRESPInteger(command.keys.first)
        context.out.writeRESPInteger(command.keys.last)
        context.out.writeRESPInteger(command.keys.step)
        let categories = categories(command)
        context.out.writeRESPSetHeader(categories.count, version)
        for category in categories { context.out.writeRESPSimpleString(category) }
        context.out.writeRESPArrayHeader(0)
        if command.keys.first > 0 {
            context.out.writeRESPArrayHeader(1)
            context.out.writeRESPMapHeader(3, version)
            context.out.writeRESPBulkString("flags")
            let access = command.flags.contains(.write) ? ["RW", "UPDATE"] : ["RO", "ACCESS"]
            context.out.writeRESPSetHeader(access.count, version)
            for flag in access { context.out.writeRESPSimpleString(flag) }
            context.out.writeRESPBulkString("begin_search")
            context.out.writeRESPMapHeader(2, version)
            context.out.writeRESPBulkString("type")
            context.out.writeRESPBulkString("index")
            context.out.writeRESPBulkString("spec")
            context.out.writeRESPMapHeader(1, version)
            context.out.writeRESPBulkString("index")
            context.out.writeRESPInteger(command.keys.first)
            context.out.writeRESPBulkString("find_keys")
            context.out.writeRESPMapHeader(2, version)
            context.out.writeRESPBulkString("type")
            context.out.writeRESPBulkString("range")
            context.out.writeRESPBulkString("spec")
            context.out.writeRESPMapHeader(3, version)
            context.out.writeRESPBulkString("lastkey")
            context.out.writeRESPInteger(
                command.keys.last < 0 ? command.keys.last : command.keys.last - command.keys.first)
            context.out.writeRESPBulkString("keystep")
            context.out.writeRESPInteger(command.keys.step)
            context.out.writeRESPBulkString("limit")
            context.out.writeRESPInteger(0)
        } else {
            context.out.writeRESPArrayHeader(0)
        }
        context.out.writeRESPArrayHeader(command.subcommands.count)
        for sub in command.subcommands { writeInfo(sub, &context) }
    }

    static func info(_ context: inout CommandContext) throws(CommandError) {
        if context.count == 2 {
            let commands = context.server.commands.commands
            context.out.writeRESPArrayHeader(commands.count)
            for command in commands { writeInfo(command, &context) }
            return
        }
        context.out.writeRESPArrayHeader(context.count - 2)
        for index in 2..<context.count {
            if let command = resolve(context.string(index), context) {
                writeInfo(command, &context)
            } else {
                context.out.writeRESPNullArray(context.respVersion)
            }
        }
    }

    /// A command by name, `container|sub` names included.
    static func resolve(_ name: String, _ context: CommandContext) -> Command? {
        let parts = name.lowercased().split(separator: "|", maxSplits: 1).map(String.init)
        guard let top = context.server.commands.lookup(parts.first ?? "") else { return nil }
        guard parts.count == 2 else { return top }
        return top.subcommands.first { $0.name == parts[1] }
    }

    static func writeDocs(_ command: Command, _ context: inout CommandContext) {
        let version = context.respVersion
        context.out.writeRESPBulkString(command.fullName)
        context.out.writeRESPMapHeader(command.subcommands.isEmpty ? 4 : 5, version)
        context.out.writeRESPBulkString("summary")
        context.out.writeRESPBulkString(command.summary)
        context.out.writeRESPBulkString("since")
        context.out.writeRESPBulkString(command.since)
        context.out.writeRESPBulkString("group")
        context.out.writeRESPBulkString(command.group.rawValue)
        context.out.writeRESPBulkString("complexity")
        context.out.writeRESPBulkString(command.complexity)
        if !command.subcommands.isEmpty {
            context.out.writeRESPBulkString("subcommands")
            context.out.writeRESPMapHeader(command.subcommands.count, version)
            for sub in command.subcommands { writeDocs(sub, &context) }
        }
    }

    static func docs(_ context: inout CommandContext) throws(CommandError) {
        let commands: [Command]
        if context.count == 2 {
            commands = context.server.commands.commands
        } else {
            commands = (2..<context.count).compactMap { resolve(context.string($0), context) }
        }
        context.out.writeRESPMapHeader(commands.count, context.respVersion)
        for command in commands { writeDocs(command, &context) }
    }

    static func list(_ context: inout CommandContext) throws(CommandError) {
        var names = context.server.commands.commands.map(\.name)
        if context.count > 2 {
            guard context.count == 5, context.argument(2, is: "FILTERBY") else { throw .syntax }
            let value = context.string(4)
            if context.argument(3, is: "PATTERN") {
                names = names.filter { Glob.matches(pattern: value, $0, caseInsensitive: true) }
            } else if context.argument(3, is: "ACLCAT") {
                let category = "@" + value.lowercased()
                names = context.server.commands.commands.filter { categories($0).contains(category) }.map(\.name)
            } else if context.argument(3, is: "MODULE") {
                names = []
            } else {
                throw .syntax
            }
        }
        context.out.writeRESPArrayHeader(names.count)
        for name in names { context.out.writeRESPBulkString(name) }
    }

    static func getkeys(_ context: inout CommandContext) throws(CommandError) {
        guard let command = context.server.commands.lookup(context.arguments[2]) else {
            throw CommandError("ERR Invalid command specified")
        }
        let count = context.count - 2
        var target = command
        if !command.subcommands.isEmpty, count >= 2 {
            let name = context.string(3).lowercased()
            if let sub = command.subcommands.first(where: { $0.name == name }) { target = sub }
        }
        guard target.accepts(argumentCount: count) else {
            throw CommandError("ERR Invalid number of arguments specified for command")
        }
        let indexes = Array(target.keyIndexes(argumentCount: count, numkeys: { Int(context.string($0 + 2)) }))
        guard !indexes.isEmpty else { throw CommandError("ERR The command has no key arguments") }
        context.out.writeRESPArrayHeader(indexes.count)
        for index in indexes { context.out.writeRESPBulkString(context.arguments[index + 2].readableBytesView) }
    }

    static func help(_ context: inout CommandContext) throws(CommandError) {
        let lines = [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)", "    Return details about all commands.",
            "COUNT", "    Return the total number of commands in this server.",
            "LIST", "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]", "    Return details about multiple commands.",
            "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>", "    Return the keys from a full command.",
            "HELP", "    Print this help.",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
