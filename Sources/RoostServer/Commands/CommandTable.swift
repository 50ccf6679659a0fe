public import NIOCore

/// The one table of commands: dispatch looks names up here, and `COMMAND`, `INFO commandstats` and
/// `docs/COMMANDS.md` are generated from it.
public struct CommandTable: Sendable {
    /// Every top-level command, sorted by name.
    public let commands: [Command]
    private let byName: [String: Command]
    private let byPackedName: PackedNameIndex

    /// Builds a table; names must be unique.
    public init(_ commands: [Command]) {
        self.commands = commands.sorted { $0.name < $1.name }
        var byName: [String: Command] = [:]
        for command in commands {
            precondition(byName[command.name] == nil, "duplicate command \(command.name)")
            byName[command.name] = command
        }
        self.byName = byName
        self.byPackedName = PackedNameIndex(self.commands)
    }

    /// The table of every command Roost serves, with fresh command objects (and so fresh statistics) each time.
    public static var standard: CommandTable {
        CommandTable(
            ConnectionCommands.all + StringCommands.all + KeyCommands.all + ServerCommands.all
                + ClientCommands.all + IntrospectionCommands.all + ClusterCommands.all + ReplicationCommands.all
                + DebugCommands.all + LeaseCommands.all + PubSubCommands.all + HashCommands.all
                + SetCommands.all + SortedSetCommands.all
                + TransactionCommands.all
                + ListCommands.all
        )
    }

    /// The command named by `name` (ASCII case-insensitive).
    public func lookup(_ name: ByteBuffer) -> Command? {
        find(name)?.takeUnretainedValue()
    }

    /// The command named by `name` (ASCII case-insensitive), unretained: dispatch runs it under
    /// `_withUnsafeGuaranteedRef`, so looking a command up costs no reference counting (the table owns every
    /// command for as long as the server lives).
    @inline(__always)
    func find(_ name: ByteBuffer) -> Unmanaged<Command>? {
        name.withUnsafeReadableBytes { byPackedName.find($0) }
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

/// Command names looked up from request bytes without building a `String` or running SipHash: a name (at most 32
/// bytes; Redis's longest is 21) is lower-cased into four 64-bit words, and the words index a small open-addressing
/// table built once per server. The names are fixed and known, so a cheap multiplicative hash is enough; a request
/// cannot add entries, and a miss stops at the first empty bucket of a table at most a quarter full.
struct PackedNameIndex: @unchecked Sendable {
    struct Key: Equatable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var length = 0

        /// The empty key (marks unused buckets; no command has an empty name).
        init() {}

        static func == (a: Key, b: Key) -> Bool {
            a.length == b.length && a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2
                && a.words.3 == b.words.3
        }

        /// The lower-cased, zero-padded name, or nil when it is longer than 32 bytes.
        @inline(__always)
        init?(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count <= 32 else { return nil }
            length = bytes.count
            withUnsafeMutableBytes(of: &words) { target in
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    target[index] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                }
            }
        }

        var bucketHash: Int {
            let mixed =
                (words.0 ^ words.1 &* 31 ^ words.2 &* 131 ^ words.3 &* 1031 ^ UInt64(length))
                &* 0x9E37_79B9_7F4A_7C15
            return Int(truncatingIfNeeded: mixed >> 32)
        }
    }

    private var keys: [Key]
    /// Unretained: the table's `commands` array owns them.
    private var values: [Unmanaged<Command>?]
    private let mask: Int

    init(_ commands: [Command]) {
        var size = 16
        while size < commands.count * 4 { size *= 2 }
        keys = Array(repeating: Key(), count: size)
        values = Array(repeating: nil, count: size)
        mask = size - 1
        for command in commands {
            let key = Array(command.name.utf8).withUnsafeBytes { Key($0)! }
            var bucket = key.bucketHash & mask
            while values[bucket] != nil { bucket = (bucket + 1) & mask }
            keys[bucket] = key
            values[bucket] = Unmanaged.passUnretained(command)
        }
    }

    @inline(__always)
    func find(_ name: UnsafeRawBufferPointer) -> Unmanaged<Command>? {
        guard let key = Key(name) else { return nil }
        var bucket = key.bucketHash & mask
        while let command = values[bucket] {
            if keys[bucket] == key { return command }
            bucket = (bucket + 1) & mask
        }
        return nil
    }
}
