import NIOCore
import RoostCore
import RoostProtocol

// SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD.

extension SetCommands {
    /// The three operations of Redis's set algebra.
    enum Operation {
        case intersection, union, difference
    }

    private static let allKeys = Command.KeyPositions(first: 1, last: -1, step: 1)

    static var algebraCommands: [Command] {
        [
            Command(
                "sinter", arity: -2, flags: [.readonly], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Returns the intersect of multiple sets.",
                complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
                    + "of sets.",
                handler: { context throws(CommandError) in try algebra(&context, .intersection, storing: false) }),
            Command(
                "sinterstore", arity: -3, flags: [.write, .denyOOM], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Stores the intersect of multiple sets in a key.",
                complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
                    + "of sets.",
                handler: { context throws(CommandError) in try algebra(&context, .intersection, storing: true) }),
            Command(
                "sunion", arity: -2, flags: [.readonly], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Returns the union of multiple sets.",
                complexity: "O(N) where N is the total number of elements in all given sets.",
                handler: { context throws(CommandError) in try algebra(&context, .union, storing: false) }),
            Command(
                "sunionstore", arity: -3, flags: [.write, .denyOOM], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Stores the union of multiple sets in a key.",
                complexity: "O(N) where N is the total number of elements in all given sets.",
                handler: { context throws(CommandError) in try algebra(&context, .union, storing: true) }),
            Command(
                "sdiff", arity: -2, flags: [.readonly], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Returns the difference of multiple sets.",
                complexity: "O(N) where N is the total number of elements in all given sets.",
                handler: { context throws(CommandError) in try algebra(&context, .difference, storing: false) }),
            Command(
                "sdiffstore", arity: -3, flags: [.write, .denyOOM], keys: allKeys, group: .set, since: "1.0.0",
                summary: "Stores the difference of multiple sets in a key.",
                complexity: "O(N) where N is the total number of elements in all given sets.",
                handler: { context throws(CommandError) in try algebra(&context, .difference, storing: true) }),
            // Keys follow `numkeys`; the table's fixed positions name only the first (enough for slot routing of a
            // one-slot call).
            Command(
                "sintercard", arity: -3, flags: [.readonly], keys: Command.KeyPositions(first: 2, last: 2, step: 1),
                numkeys: 1,
                group: .set, since: "7.0.0",
                summary: "Returns the number of members of the intersect of multiple sets.",
                complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
                    + "of sets.",
                handler: sintercard),
        ]
    }

    /// `SINTER`/`SUNION`/`SDIFF key [key …]` (a RESP3 set) and their `STORE destination key [key …]` forms (the
    /// result's size; an empty result deletes the destination, whatever it held). A missing key is an empty set;
    /// every key is type-checked first. The result takes the encoding its content calls for, as Redis 7.0 builds
    /// it, so an all-integer result lists in ascending order.
    static func algebra(_ context: inout CommandContext, _ operation: Operation, storing: Bool) throws(CommandError) {
        let now = context.now
        let arguments = context.arguments
        let firstSource = storing ? 2 : 1
        let version = context.respVersion
        let stored: Int? = try context.server.keyspace.withLock { keyspace throws(CommandError) -> Int? in
            var sets: [SetValue?] = []
            for index in firstSource..<arguments.count {
                let set = try arguments[index].withUnsafeReadableBytes { key throws(CommandError) in
                    try keyspace.readSet(key, now: now, countingStatistics: true, wrongType: CommandError.wrongType)
                }
                sets.append(set)
            }
            let result = combine(sets, operation, limits: keyspace.setLimits)
            guard storing else {
                SetCommands.writeMembers(result, to: &context.out, version)
                return nil
            }
            arguments[1].withUnsafeReadableBytes { destination in
                keyspace.storeSet(destination, result, expireAt: Entry.noExpiry, now: now)
            }
            return result.count
        }
        if let stored { context.replyInteger(stored) }
    }

    /// `SINTERCARD numkeys key [key …] [LIMIT limit]`: the size of the intersection, counting stops at `limit`
    /// (0: no limit).
    static func sintercard(_ context: inout CommandContext) throws(CommandError) {
        let numkeysError = CommandError("ERR numkeys should be greater than 0")
        guard let keyCount = context.withArgument(1, { RedisNumber.parseInteger($0) }), keyCount >= 1 else {
            throw numkeysError
        }
        guard keyCount <= Int64(context.count - 2) else {
            throw CommandError("ERR Number of keys can't be greater than number of args")
        }
        let lastKey = 1 + Int(keyCount)
        var limit = 0
        var index = lastKey + 1
        while index < context.count {
            guard context.argument(index, is: "LIMIT"), index + 1 < context.count else { throw .syntax }
            guard let value = context.withArgument(index + 1, { RedisNumber.parseInteger($0) }), value >= 0 else {
                throw CommandError("ERR LIMIT can't be negative")
            }
            limit = Int(value)
            index += 2
        }
        let now = context.now
        let arguments = context.arguments
        let cardinality: Int = try context.server.keyspace.withLock { keyspace throws(CommandError) -> Int in
            var sets: [SetValue?] = []
            for index in 2...lastKey {
                let set = try arguments[index].withUnsafeReadableBytes { key throws(CommandError) in
                    try keyspace.readSet(key, now: now, countingStatistics: true, wrongType: CommandError.wrongType)
                }
                sets.append(set)
            }
            return intersectionCount(sets, limit: limit)
        }
        context.replyInteger(cardinality)
    }

    // MARK: Algebra

    /// The result of `operation` over `sets` (nil: a missing key, an empty set), built with `limits`.
    static func combine(_ sets: [SetValue?], _ operation: Operation, limits: SetValue.Limits) -> SetValue {
        var result = SetValue(limits: limits)
        switch operation {
        case .intersection:
            guard let present = present(sets) else { return result }
            let smallest = present.min { $0.count < $1.count }!
            for position in 0..<smallest.count {
                smallest.withMember(at: position) { member in
                    if present.allSatisfy({ $0.contains(member) }) { result.insert(member) }
                }
            }
        case .union:
            for case let set? in sets {
                for position in 0..<set.count { set.withMember(at: position) { _ = result.insert($0) } }
            }
        case .difference:
            guard let first = sets.first, let first else { return result }
            let others = sets.dropFirst().compactMap { $0 }
            for position in 0..<first.count {
                first.withMember(at: position) { member in
                    if !others.contains(where: { $0.contains(member) }) { result.insert(member) }
                }
            }
        }
        return result
    }

    /// How many members all `sets` share, stopping at `limit` (0: no limit).
    static func intersectionCount(_ sets: [SetValue?], limit: Int) -> Int {
        guard let present = present(sets) else { return 0 }
        let smallest = present.min { $0.count < $1.count }!
        var count = 0
        for position in 0..<smallest.count {
            let shared = smallest.withMember(at: position) { member in present.allSatisfy { $0.contains(member) } }
            if shared {
                count += 1
                if count == limit { break }
            }
        }
        return count
    }

    /// The sets when every key exists, else nil (an intersection with a missing key is empty).
    private static func present(_ sets: [SetValue?]) -> [SetValue]? {
        var present: [SetValue] = []
        for case let set? in sets { present.append(set) }
        return present.count == sets.count ? present : nil
    }
}
