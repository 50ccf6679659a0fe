public import NIOCore

/// The one table of commands: dispatch looks names up here, and `COMMAND`, `INFO commandstats` and
/// `docs/COMMANDS.md` are generated from it.
public struct CommandTable: Sendable {
    /// Every top-level command, sorted by name.
    public let commands: [Command]
    private let byName: [String: Command]

    /// Builds a table; names must be unique.
    public init(_ commands: [Command]) {
        self.commands = commands.sorted { $0.name < $1.name }
        var byName: [String: Command] = [:]
        for command in commands {
            precondition(byName[command.name] == nil, "duplicate command \(command.name)")
            byName[command.name] = command
        }
        self.byName = byName
    }

    /// The table of every command Roost serves, with fresh command objects (and so fresh statistics) each time.
    public static var standard: CommandTable {
        CommandTable(
            ConnectionCommands.all + StringCommands.all + KeyCommands.all + ServerCommands.all
                + ClientCommands.all + IntrospectionCommands.all
        )
    }

    /// The command named by `name` (ASCII case-insensitive), without allocating for names of up to 15 bytes.
    public func lookup(_ name: ByteBuffer) -> Command? {
        guard name.readableBytes <= 32 else { return nil }
        let lowered = name.withUnsafeReadableBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { target in
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    target[index] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                }
                return bytes.count
            }
        }
        return byName[lowered]
    }

    /// The command named by a lower-case string.
    public func lookup(_ name: String) -> Command? { byName[name.lowercased()] }

    /// Every command and subcommand, for statistics.
    public var allIncludingSubcommands: [Command] {
        commands.flatMap { [$0] + $0.subcommands }
    }
}

extension Command {
    /// The subcommand named by argument 1 of `context`, ASCII case-insensitive.
    func subcommand(in context: CommandContext) -> Command? {
        let name = context.string(1).lowercased()
        return subcommands.first { $0.name == name }
    }
}
