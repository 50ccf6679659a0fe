public import RoostProtocol

/// One command's definition: the single place its name, arity, flags, key positions, documentation and handler
/// live. Dispatch, arity checks, `COMMAND` replies and cluster slot routing all read this.
///
/// A class so that dispatch hands out one reference, not a copy of every field.
public final class Command: Sendable {
    /// How a command reads or changes the server, as `COMMAND INFO` reports.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Modifies the keyspace.
        public static let write = Flags(rawValue: 1 << 0)
        /// Only reads the keyspace.
        public static let readonly = Flags(rawValue: 1 << 1)
        /// May grow memory use (rejected by `noeviction` when over the limit).
        public static let denyOOM = Flags(rawValue: 1 << 2)
        /// Administrative.
        public static let admin = Flags(rawValue: 1 << 3)
        /// Allowed before authentication.
        public static let noAuth = Flags(rawValue: 1 << 4)
        /// O(1) or O(log N).
        public static let fast = Flags(rawValue: 1 << 5)
        /// Allowed while the server is loading (kept for `COMMAND` fidelity).
        public static let loading = Flags(rawValue: 1 << 6)
        /// Allowed while the server is stale (kept for `COMMAND` fidelity).
        public static let stale = Flags(rawValue: 1 << 7)
        /// Not propagated to replicas or the slow log's argument view.
        public static let noScript = Flags(rawValue: 1 << 8)
        /// Does not count as activity for `CLIENT LIST` `cmd`.
        public static let noMulti = Flags(rawValue: 1 << 9)
        /// Touches no keys but must be routed to every node by cluster clients.
        public static let allowBusy = Flags(rawValue: 1 << 10)
        /// `ASKING` itself: does not clear the connection's asking state.
        public static let asking = Flags(rawValue: 1 << 11)
        /// A pub/sub command.
        public static let pubsub = Flags(rawValue: 1 << 12)

        /// The names `COMMAND INFO` prints, in Redis's order.
        public var names: [String] {
            let table: [(Flags, String)] = [
                (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"),
                (.pubsub, "pubsub"),
                (.noScript, "noscript"), (.loading, "loading"), (.stale, "stale"), (.noAuth, "no_auth"),
                (.fast, "fast"), (.noMulti, "no_multi"), (.allowBusy, "allow_busy"), (.asking, "asking"),
            ]
            return table.filter { contains($0.0) }.map(\.1)
        }
    }

    /// The documentation group `COMMAND DOCS` reports.
    public enum Group: String, Sendable {
        case string, hash, list, set, generic, connection, server, pubsub, transactions
        case sortedSet = "sorted-set"
    }

    /// Where a command's keys are: argument indexes `first...last` (negative `last` counts from the end) in steps
    /// of `step`. `first == 0` means the command takes no keys.
    public struct KeyPositions: Sendable, Hashable {
        public var first: Int
        public var last: Int
        public var step: Int
        /// A command without keys.
        public static let none = KeyPositions(first: 0, last: 0, step: 0)
        /// A single key at argument 1.
        public static let single = KeyPositions(first: 1, last: 1, step: 1)
        /// Creates key positions.
        public init(first: Int, last: Int, step: Int) {
            self.first = first
            self.last = last
            self.step = step
        }

        /// The argument indexes of the keys in a call with `argumentCount` arguments (command name included); for a
        /// command with a `numkeys` argument, only the keys the table declares (see ``Command/keyIndexes(argumentCount:numkeys:)``).
        public func indexes(argumentCount: Int) -> StrideThrough<Int> {
            guard first > 0, argumentCount > first else { return stride(from: 1, through: 0, by: 1) }
            let lastIndex = last < 0 ? argumentCount + last : min(last, argumentCount - 1)
            return stride(from: first, through: lastIndex, by: step)
        }
    }

    /// Every key argument index of a call with `argumentCount` arguments: the table's positions, then for a
    /// `numkeys` command the counted keys not already among them. `numkeys` reads the count at an argument index
    /// (nil when it is not a number: then only the declared positions, and the command's own check answers).
    public func keyIndexes(argumentCount: Int, numkeys: (Int) -> Int?) -> KeyIndexes {
        let declared = keys.indexes(argumentCount: argumentCount)
        var counted = 0..<0
        if numkeysIndex > 0, argumentCount > numkeysIndex, let count = numkeys(numkeysIndex), count > 0 {
            let first = max(numkeysIndex + 1, keys.last + 1)
            let end = min(argumentCount, numkeysIndex + 1 + count)
            if first < end { counted = first..<end }
        }
        return KeyIndexes(declared: declared.makeIterator(), counted: counted.makeIterator())
    }

    /// The key indexes of one call, without allocating.
    public struct KeyIndexes: Sequence, IteratorProtocol {
        var declared: StrideThroughIterator<Int>
        var counted: Range<Int>.Iterator
        /// The next key index.
        public mutating func next() -> Int? { declared.next() ?? counted.next() }
    }

    /// Runs the command; the reply is written to `context.out`, or an error is thrown.
    public typealias Handler = @Sendable (inout CommandContext) throws(CommandError) -> Void

    /// Lower-case name.
    public let name: String
    /// Redis arity: positive means exactly that many arguments (name included), negative means at least -arity.
    public let arity: Int
    /// Flags.
    public let flags: Flags
    /// Key positions.
    public let keys: KeyPositions
    /// The argument index of a `numkeys` count followed by that many keys (`ZUNIONSTORE dest numkeys key…`,
    /// `SINTERCARD numkeys key…`), which fixed positions cannot express; 0 for none.
    public let numkeysIndex: Int
    /// Documentation group.
    public let group: Group
    /// Version of Redis that introduced the command (as `COMMAND DOCS` reports it).
    public let since: String
    /// One-line summary.
    public let summary: String
    /// Time complexity.
    public let complexity: String
    /// Subcommands, for container commands such as `CLIENT` and `CONFIG`.
    public let subcommands: [Command]
    /// The container's name for a subcommand (`client` for `client|list`).
    public let parent: String?
    /// The handler (nil for a container whose subcommands do the work).
    public let handler: Handler?
    /// Call statistics for `INFO commandstats`.
    public let statistics = CommandStatistics()

    /// Creates a command.
    public init(
        _ name: String,
        parent: String? = nil,
        arity: Int,
        flags: Flags = [],
        keys: KeyPositions = .none,
        numkeys numkeysIndex: Int = 0,
        group: Group,
        since: String,
        summary: String,
        complexity: String = "O(1)",
        subcommands: [Command] = [],
        handler: Handler? = nil
    ) {
        self.name = name
        self.parent = parent
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.numkeysIndex = numkeysIndex
        self.group = group
        self.since = since
        self.summary = summary
        self.complexity = complexity
        self.handler = handler
        self.subcommands = subcommands
        precondition(subcommands.allSatisfy { $0.parent == name }, "subcommands of \(name) must name it as parent")
    }

    /// `container|name` for a subcommand, else the name (as `COMMAND` and `INFO commandstats` print it).
    public var fullName: String { parent.map { "\($0)|\(name)" } ?? name }

    /// Whether `count` arguments (name included) satisfy the arity.
    @inlinable public func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}
