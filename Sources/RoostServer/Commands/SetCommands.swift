import NIOCore
import RoostCore
import RoostProtocol

/// Set commands: `SADD`, `SREM`, `SISMEMBER` and the rest of Redis's set family (`SPOP`, `SRANDMEMBER` and `SSCAN`
/// in `SetCommands+Sampling.swift`, the multi-key algebra in `SetCommands+Algebra.swift`).
///
/// Each command runs on the keyspace's set in place (``Keyspace/withSet(_:now:countingStatistics:wrongType:_:)``),
/// in one critical section, writing its reply while the lock is held. Replies follow Redis 7.0 byte for byte,
/// including its RESP3 types (a set `~` for `SMEMBERS`, `SPOP` with a count and the algebra, an array for
/// `SRANDMEMBER` with a count).
enum SetCommands {
    private static let keyRange = Command.KeyPositions.single
    private static let allKeys = Command.KeyPositions(first: 1, last: -1, step: 1)
    private static let sourceAndDestination = Command.KeyPositions(first: 1, last: 2, step: 1)

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "sadd", arity: -3, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .set, since: "1.0.0",
                summary: "Adds one or more members to a set. Creates the key if it doesn't exist.",
                complexity: "O(1) for each element added, so O(N) to add N elements.", handler: sadd),
            Command(
                "srem", arity: -3, flags: [.write, .fast], keys: keyRange, group: .set, since: "1.0.0",
                summary: "Removes one or more members from a set. Deletes the set if the last member was removed.",
                complexity: "O(N) where N is the number of members to be removed.", handler: srem),
            Command(
                "sismember", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .set, since: "1.0.0",
                summary: "Determines whether a member belongs to a set.", handler: sismember),
            Command(
                "smismember", arity: -3, flags: [.readonly, .fast], keys: keyRange, group: .set, since: "6.2.0",
                summary: "Determines whether multiple members belong to a set.",
                complexity: "O(N) where N is the number of elements being checked for membership",
                handler: smismember),
            Command(
                "smembers", arity: 2, flags: [.readonly], keys: keyRange, group: .set, since: "1.0.0",
                summary: "Returns all members of a set.", complexity: "O(N) where N is the set cardinality.",
                handler: smembers),
            Command(
                "scard", arity: 2, flags: [.readonly, .fast], keys: keyRange, group: .set, since: "1.0.0",
                summary: "Returns the number of members in a set.", handler: scard),
            Command(
                "smove", arity: 4, flags: [.write, .fast], keys: sourceAndDestination, group: .set, since: "1.0.0",
                summary: "Moves a member from one set to another.", handler: smove),
        ] + samplingCommands + algebraCommands + [
            Command(
                "setstate", arity: -4, flags: [.write, .noScript], keys: keyRange, group: .server, since: "roost",
                summary: "Internal: a set's whole state (expiry in ms, 0 for none, then the members) in the "
                    + "replication stream; refused from clients.",
                handler: setState)
        ]
    }

    // MARK: Handlers

    /// `SADD key member [member …]`: the number of members added.
    static func sadd(_ context: inout CommandContext) throws(CommandError) {
        let arguments = context.arguments
        let added: Int = try context.withSet(reading: false) { set, _ throws(CommandError) in
            if set == nil { set = SetValue() }
            var added = 0
            for index in 2..<arguments.count where arguments[index].withUnsafeReadableBytes({ set!.insert($0) }) {
                added += 1
            }
            return added
        }
        context.replyInteger(added)
    }

    /// `SREM key member [member …]`: the number of members removed.
    static func srem(_ context: inout CommandContext) throws(CommandError) {
        let arguments = context.arguments
        let removed: Int = try context.withSet(reading: false) { set, _ throws(CommandError) in
            guard set != nil else { return 0 }
            var removed = 0
            for index in 2..<arguments.count where arguments[index].withUnsafeReadableBytes({ set!.remove($0) }) {
                removed += 1
            }
            return removed
        }
        context.replyInteger(removed)
    }

    static func sismember(_ context: inout CommandContext) throws(CommandError) {
        let member = context.arguments[2]
        let found: Bool = try context.withSet(reading: true) { set, _ throws(CommandError) in
            guard let set else { return false }
            return member.withUnsafeReadableBytes { set.contains($0) }
        }
        context.replyInteger(found ? 1 : 0)
    }

    static func smismember(_ context: inout CommandContext) throws(CommandError) {
        let arguments = context.arguments
        try context.withSet(reading: true) { set, out throws(CommandError) in
            out.writeRESPArrayHeader(arguments.count - 2)
            for index in 2..<arguments.count {
                let found = set.map { set in arguments[index].withUnsafeReadableBytes { set.contains($0) } } ?? false
                out.writeRESPInteger(found ? 1 : 0)
            }
        }
    }

    /// `SMEMBERS key`: ascending for an intset, table order for a hashtable (a RESP3 set).
    static func smembers(_ context: inout CommandContext) throws(CommandError) {
        let version = context.respVersion
        try context.withSet(reading: true) { set, out throws(CommandError) in
            writeMembers(set, to: &out, version)
        }
    }

    static func scard(_ context: inout CommandContext) throws(CommandError) {
        let count: Int = try context.withSet(reading: true) { set, _ throws(CommandError) in set?.count ?? 0 }
        context.replyInteger(count)
    }

    /// `SMOVE source destination member`, in Redis 7.0's order of checks: a missing source answers 0 before any
    /// type check; then both keys must hold sets; a source equal to the destination only answers membership.
    static func smove(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        let arguments = context.arguments
        let moved: Bool = try context.server.keyspace.withLock { keyspace throws(CommandError) -> Bool in
            try arguments[1].withUnsafeReadableBytes { source throws(CommandError) -> Bool in
                try arguments[2].withUnsafeReadableBytes { destination throws(CommandError) -> Bool in
                    try arguments[3].withUnsafeReadableBytes { member throws(CommandError) -> Bool in
                        guard let sourceType = keyspace.peek(source, now: now)?.value.typeName else { return false }
                        let destinationType = keyspace.peek(destination, now: now)?.value.typeName
                        guard sourceType == "set", destinationType == nil || destinationType == "set" else {
                            throw CommandError.wrongType
                        }
                        if source.elementsEqual(destination) {
                            return try keyspace.withSet(source, now: now, wrongType: CommandError.wrongType) {
                                (set: inout SetValue?) throws(CommandError) -> Bool in set?.contains(member) ?? false
                            }
                        }
                        let removed = try keyspace.withSet(source, now: now, wrongType: CommandError.wrongType) {
                            (set: inout SetValue?) throws(CommandError) -> Bool in set?.remove(member) ?? false
                        }
                        guard removed else { return false }
                        try keyspace.withSet(destination, now: now, wrongType: CommandError.wrongType) {
                            (set: inout SetValue?) throws(CommandError) in
                            if set == nil { set = SetValue() }
                            set!.insert(member)
                        }
                        return true
                    }
                }
            }
        }
        context.replyInteger(moved ? 1 : 0)
    }

    /// `SETSTATE key expireAt member […]`: a set's whole state from the replication stream (see
    /// ``ChangeLog/appendSetState(_:key:_:expireAt:)``). Only the link to the primary may send it; to anyone else it
    /// is an unknown command.
    static func setState(_ context: inout CommandContext) throws(CommandError) {
        guard context.fromPrimary else { throw Dispatcher.unknownCommandError(context) }
        let expireAt = try context.integer(2)
        var set = SetValue()
        for index in 3..<context.count { context.withArgument(index) { _ = set.insert($0) } }
        let now = context.now
        context.withArgument(1) { key in
            context.server.keyspace.withLock { keyspace in
                keyspace.storeSet(key, set, expireAt: expireAt == 0 ? Entry.noExpiry : expireAt, now: now)
            }
        }
        context.replyOK()
    }

    // MARK: Helpers

    /// Writes `set`'s members in its order as a RESP3 set (an array in RESP2); nil is the empty set.
    static func writeMembers(_ set: SetValue?, to out: inout ByteBuffer, _ version: RESPVersion) {
        out.writeRESPSetHeader(set?.count ?? 0, version)
        guard let set else { return }
        for position in 0..<set.count { set.withMember(at: position) { out.writeRESPBulkString($0) } }
    }
}

extension CommandContext {
    /// Runs `body` on the set at the key in argument `index` (nil when absent) with the reply buffer, in one
    /// critical section (see ``Keyspace/withSet(_:now:countingStatistics:wrongType:_:)``): `WRONGTYPE` when the key
    /// holds another type. `reading` counts a keyspace hit or miss. `body` must throw before it writes a reply.
    @discardableResult
    mutating func withSet<Result: Sendable>(
        _ index: Int = 1,
        reading: Bool,
        _ body: (inout SetValue?, inout ByteBuffer) throws(CommandError) -> Result
    ) throws(CommandError) -> Result {
        let now = self.now
        let outcome: Swift.Result<Result, CommandError> = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in
                Swift.Result { () throws(CommandError) -> Result in
                    try keyspace.withSet(
                        key, now: now, countingStatistics: reading, wrongType: CommandError.wrongType
                    ) { set throws(CommandError) in try body(&set, &out) }
                }
            }
        }
        return try outcome.get()
    }
}
