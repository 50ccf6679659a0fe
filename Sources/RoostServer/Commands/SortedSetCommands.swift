import NIOCore
import RoostCore
import RoostProtocol

/// Sorted-set commands: `ZADD`, `ZSCORE`, `ZRANK` and the rest of the core of Redis's sorted-set family (the range
/// queries in `SortedSetCommands+Range.swift`).
///
/// Each command runs on the keyspace's sorted set in place
/// (``Keyspace/withSortedSet(_:now:countingStatistics:wrongType:_:)``), in one critical section. Scores are written
/// as Redis 7.0 writes them (``RESPDoubleFormatting``: `%.17g`, a RESP3 double, a bulk string in RESP2).
enum SortedSetCommands {
    private static let keyRange = Command.KeyPositions.single
    static let notFloat = CommandError("ERR value is not a valid float")
    static let nanResult = CommandError("ERR resulting score is not a number (NaN)")

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "zadd", arity: -4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .sortedSet,
                since: "1.2.0",
                summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it "
                    + "doesn't exist.",
                complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
                handler: zadd),
            Command(
                "zincrby", arity: 4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .sortedSet,
                since: "1.2.0", summary: "Increments the score of a member in a sorted set.",
                complexity: "O(log(N)) where N is the number of elements in the sorted set.", handler: zincrby),
            Command(
                "zrem", arity: -3, flags: [.write, .fast], keys: keyRange, group: .sortedSet, since: "1.2.0",
                summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were "
                    + "removed.",
                complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
                    + "elements to be removed.",
                handler: zrem),
            Command(
                "zscore", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .sortedSet, since: "1.2.0",
                summary: "Returns the score of a member in a sorted set.", handler: zscore),
            Command(
                "zmscore", arity: -3, flags: [.readonly, .fast], keys: keyRange, group: .sortedSet, since: "6.2.0",
                summary: "Returns the score of one or more members in a sorted set.",
                complexity: "O(N) where N is the number of members being requested.", handler: zmscore),
            Command(
                "zcard", arity: 2, flags: [.readonly, .fast], keys: keyRange, group: .sortedSet, since: "1.2.0",
                summary: "Returns the number of members in a sorted set.", handler: zcard),
            Command(
                "zrank", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .sortedSet, since: "2.0.0",
                summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
                complexity: "O(log(N))",
                handler: { context throws(CommandError) in try zrank(&context, reverse: false) }),
            Command(
                "zrevrank", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .sortedSet, since: "2.0.0",
                summary: "Returns the index of a member in a sorted set ordered by descending scores.",
                complexity: "O(log(N))",
                handler: { context throws(CommandError) in try zrank(&context, reverse: true) }),
            Command(
                "zpopmin", arity: -2, flags: [.write, .fast], keys: keyRange, group: .sortedSet, since: "5.0.0",
                summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the "
                    + "sorted set if the last member was popped.",
                complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
                    + "number of elements popped.",
                handler: { context throws(CommandError) in try zpop(&context, highest: false) }),
            Command(
                "zpopmax", arity: -2, flags: [.write, .fast], keys: keyRange, group: .sortedSet, since: "5.0.0",
                summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the "
                    + "sorted set if the last member was popped.",
                complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
                    + "number of elements popped.",
                handler: { context throws(CommandError) in try zpop(&context, highest: true) }),
            Command(
                "zscan", arity: -3, flags: [.readonly], keys: keyRange, group: .sortedSet, since: "2.8.0",
                summary: "Iterates over members and scores of a sorted set.",
                complexity: "O(1) for every call. O(N) for a complete iteration.", handler: zscan),
        ] + rangeCommands + removalCommands + algebraCommands + blockingCommands + [
            Command(
                "zsetstate", arity: -3, flags: [.write, .noScript], keys: keyRange, group: .server, since: "roost",
                summary: "Internal: a sorted set's whole state (expiry in ms, 0 for none, then member and score "
                    + "bit-pattern pairs) in the replication stream; refused from clients.",
                handler: zsetState)
        ]
    }

    // MARK: Handlers

    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member …]`, with Redis 7.0's checks in its order.
    static func zadd(_ context: inout CommandContext) throws(CommandError) {
        var (nx, xx, gt, lt, ch, incr) = (false, false, false, false, false, false)
        var index = 2
        while index < context.count {
            if context.argument(index, is: "NX") {
                nx = true
            } else if context.argument(index, is: "XX") {
                xx = true
            } else if context.argument(index, is: "GT") {
                gt = true
            } else if context.argument(index, is: "LT") {
                lt = true
            } else if context.argument(index, is: "CH") {
                ch = true
            } else if context.argument(index, is: "INCR") {
                incr = true
            } else {
                break
            }
            index += 1
        }
        let elements = context.count - index
        guard elements > 0, elements % 2 == 0 else { throw .syntax }
        guard !(nx && xx) else { throw CommandError("ERR XX and NX options at the same time are not compatible") }
        guard !((gt && nx) || (lt && nx) || (gt && lt)) else {
            throw CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        guard !incr || elements == 2 else {
            throw CommandError("ERR INCR option supports a single increment-element pair")
        }
        var pairs: [(score: Double, member: [UInt8])] = []
        for position in stride(from: index, to: context.count, by: 2) {
            guard let score = context.withArgument(position, { RedisNumber.parseDouble($0) }) else { throw notFloat }
            pairs.append((score, context.bytes(position + 1)))
        }
        let outcome: (changed: Int, processed: Int, score: Double) = try context.withSortedSet(reading: false) {
            set, _ throws(CommandError) in
            if set == nil {
                if xx { return (0, 0, 0) }
                set = SortedSetValue()
            }
            var (added, updated, processed) = (0, 0, 0)
            var lastScore = 0.0
            for (score, member) in pairs {
                if let current = set!.score(of: member) {
                    if nx { continue }
                    var newScore = score
                    if incr {
                        newScore = current + score
                        guard !newScore.isNaN else { throw nanResult }
                    }
                    if (lt && newScore >= current) || (gt && newScore <= current) { continue }
                    processed += 1
                    lastScore = newScore
                    if newScore != current {
                        set!.set(member, score: newScore)
                        updated += 1
                    }
                } else {
                    if xx { continue }
                    set!.set(member, score: score)
                    added += 1
                    processed += 1
                    lastScore = score
                }
            }
            return (ch ? added + updated : added, processed, lastScore)
        }
        if outcome.processed > 0 { context.server.blocking.signal(context.bytes(1)) }
        if incr {
            if outcome.processed > 0 {
                context.out.writeRESPDouble(outcome.score, context.respVersion)
            } else {
                context.replyNull()
            }
        } else {
            context.replyInteger(outcome.changed)
        }
    }

    /// `ZINCRBY key increment member`: the new score.
    static func zincrby(_ context: inout CommandContext) throws(CommandError) {
        guard let increment = context.withArgument(2, { RedisNumber.parseDouble($0) }) else { throw notFloat }
        let member = context.bytes(3)
        let score: Double = try context.withSortedSet(reading: false) { set, _ throws(CommandError) in
            let newScore = (set?.score(of: member) ?? 0) + increment
            guard !newScore.isNaN else { throw nanResult }
            if set == nil { set = SortedSetValue() }
            set!.set(member, score: newScore)
            return newScore
        }
        context.server.blocking.signal(context.bytes(1))
        context.out.writeRESPDouble(score, context.respVersion)
    }

    static func zrem(_ context: inout CommandContext) throws(CommandError) {
        let members = (2..<context.count).map { context.bytes($0) }
        let removed: Int = try context.withSortedSet(reading: false) { set, _ throws(CommandError) in
            guard set != nil else { return 0 }
            return members.reduce(0) { $0 + (set!.remove($1) ? 1 : 0) }
        }
        context.replyInteger(removed)
    }

    static func zscore(_ context: inout CommandContext) throws(CommandError) {
        let member = context.bytes(2)
        let version = context.respVersion
        try context.withSortedSet(reading: true) { set, out throws(CommandError) in
            if let score = set?.score(of: member) {
                out.writeRESPDouble(score, version)
            } else {
                out.writeRESPNull(version)
            }
        }
    }

    static func zmscore(_ context: inout CommandContext) throws(CommandError) {
        let members = (2..<context.count).map { context.bytes($0) }
        let version = context.respVersion
        try context.withSortedSet(reading: true) { set, out throws(CommandError) in
            out.writeRESPArrayHeader(members.count)
            for member in members {
                if let score = set?.score(of: member) {
                    out.writeRESPDouble(score, version)
                } else {
                    out.writeRESPNull(version)
                }
            }
        }
    }

    static func zcard(_ context: inout CommandContext) throws(CommandError) {
        let count: Int = try context.withSortedSet(reading: true) { set, _ throws(CommandError) in set?.count ?? 0 }
        context.replyInteger(count)
    }

    /// `ZRANK`/`ZREVRANK key member`: the 0-based rank, or null.
    static func zrank(_ context: inout CommandContext, reverse: Bool) throws(CommandError) {
        let member = context.bytes(2)
        let rank: Int? = try context.withSortedSet(reading: true) { set, _ throws(CommandError) in
            guard let set, let rank = set.rank(of: member) else { return nil }
            return reverse ? set.count - 1 - rank : rank
        }
        if let rank { context.replyInteger(rank) } else { context.replyNull() }
    }

    /// `ZPOPMIN`/`ZPOPMAX key [count]`: without a count one flat member–score pair; with one, RESP3 nests each pair.
    static func zpop(_ context: inout CommandContext, highest: Bool) throws(CommandError) {
        var requested = 1
        let counted = context.count >= 3
        if counted {
            guard context.count == 3 else { throw .syntax }
            guard let value = context.withArgument(2, { RedisNumber.parseInteger($0) }), value >= 0 else {
                throw CommandError("ERR value is out of range, must be positive")
            }
            requested = Int(min(value, Int64(Int.max / 2)))
        }
        let version = context.respVersion
        try context.withSortedSet(reading: false) { set, out throws(CommandError) in
            guard set != nil, requested > 0 else {
                out.writeRESPArrayHeader(0)
                return
            }
            let popped = min(requested, set!.count)
            let nested = counted && version == .resp3
            out.writeRESPArrayHeader(nested ? popped : popped * 2)
            for _ in 0..<popped {
                let element = set!.element(at: highest ? set!.count - 1 : 0)
                if nested { out.writeRESPArrayHeader(2) }
                out.writeRESPBulkString(element.member)
                out.writeRESPDouble(element.score, version)
                set!.remove(element.member)
            }
        }
    }

    /// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: a listpack whole with cursor 0, in order; a skiplist walked
    /// over its member index. Scores are bulk strings in both protocols, as Redis 7.0 stores them in a listpack
    /// (integral values as integers; used for a skiplist too).
    static func zscan(_ context: inout CommandContext) throws(CommandError) {
        let (cursor, count, pattern, _) = try KeyCommands.aggregateScanOptions(&context)
        try context.withSortedSet(reading: true) { set, out throws(CommandError) in
            out.writeRESPArrayHeader(2)
            guard let set else {
                out.writeRESPBulkString("0")
                out.writeRESPArrayHeader(0)
                return
            }
            let step = set.scan(cursor: cursor, count: count)
            let matching = step.elements.filter { element in
                guard let pattern else { return true }
                return Glob.matches(pattern: pattern, element.member)
            }
            out.writeRESPBulkString(String(step.next))
            out.writeRESPArrayHeader(matching.count * 2)
            for element in matching {
                out.writeRESPBulkString(element.member)
                if let text = RedisNumber.listpackScoreText(element.score) {
                    out.writeRESPBulkString(text)
                } else {
                    out.writeRESPDouble(element.score, .resp2)
                }
            }
        }
    }

    /// `ZSETSTATE key expireAt member scoreBits […]`: a sorted set's whole state from the replication stream (see
    /// ``ChangeLog/appendSortedSetState(_:key:_:expireAt:)``). Only the link to the primary may send it.
    static func zsetState(_ context: inout CommandContext) throws(CommandError) {
        guard context.fromPrimary else { throw Dispatcher.unknownCommandError(context) }
        guard (context.count - 3) % 2 == 0 else { throw .syntax }
        let expireAt = try context.integer(2)
        var set = SortedSetValue()
        for index in stride(from: 3, to: context.count, by: 2) {
            guard let bits = UInt64(context.string(index + 1), radix: 16) else { throw .syntax }
            let score = Double(bitPattern: bits)
            guard !score.isNaN else { throw .syntax }
            set.set(context.bytes(index), score: score)
        }
        let now = context.now
        context.withArgument(1) { key in
            context.server.keyspace.withLock { keyspace in
                keyspace.storeSortedSet(key, set, expireAt: expireAt == 0 ? Entry.noExpiry : expireAt, now: now)
            }
        }
        context.replyOK()
    }
}

extension CommandContext {
    /// Runs `body` on the sorted set at the key in argument `index` (nil when absent) with the reply buffer, in one
    /// critical section: `WRONGTYPE` when the key holds another type. `body` must throw before it writes a reply.
    @discardableResult
    mutating func withSortedSet<Result: Sendable>(
        _ index: Int = 1,
        reading: Bool,
        _ body: (inout SortedSetValue?, inout ByteBuffer) throws(CommandError) -> Result
    ) throws(CommandError) -> Result {
        let now = self.now
        let outcome: Swift.Result<Result, CommandError> = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in
                Swift.Result { () throws(CommandError) -> Result in
                    try keyspace.withSortedSet(
                        key, now: now, countingStatistics: reading, wrongType: CommandError.wrongType
                    ) { set throws(CommandError) in try body(&set, &out) }
                }
            }
        }
        return try outcome.get()
    }
}
