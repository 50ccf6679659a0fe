import NIOCore
import RoostCore
import RoostProtocol

// ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), its older forms, and ZCOUNT.

extension SortedSetCommands {
    /// How a range's bounds are read.
    enum RangeKind {
        case rank, score, lex
    }

    /// A parsed `ZRANGE`-family request.
    struct RangeRequest {
        var kind = RangeKind.rank
        var reverse = false
        var withScores = false
        var limit: (offset: Int64, count: Int64)? = nil
    }

    static var rangeCommands: [Command] {
        let single = Command.KeyPositions.single
        let logN =
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            + "returned."
        return [
            Command(
                "zrange", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "1.2.0",
                summary: "Returns members in a sorted set within a range of indexes.", complexity: logN,
                handler: { context throws(CommandError) in try range(&context, preset: nil) }),
            Command(
                "zrangestore", arity: -5, flags: [.write, .denyOOM],
                keys: Command.KeyPositions(first: 1, last: 2, step: 1),
                group: .sortedSet, since: "6.2.0", summary: "Stores a range of members from sorted set in a key.",
                complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    + "elements stored into the destination key.",
                handler: { context throws(CommandError) in try range(&context, preset: nil, storing: true) }),
            Command(
                "zrevrange", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "1.2.0",
                summary: "Returns members in a sorted set within a range of indexes in reverse order.",
                complexity: logN,
                handler: { context throws(CommandError) in
                    try range(&context, preset: RangeRequest(kind: .rank, reverse: true))
                }),
            Command(
                "zrangebyscore", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "1.0.5",
                summary: "Returns members in a sorted set within a range of scores.", complexity: logN,
                handler: { context throws(CommandError) in
                    try range(&context, preset: RangeRequest(kind: .score))
                }),
            Command(
                "zrevrangebyscore", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "2.2.0",
                summary: "Returns members in a sorted set within a range of scores in reverse order.",
                complexity: logN,
                handler: { context throws(CommandError) in
                    try range(&context, preset: RangeRequest(kind: .score, reverse: true))
                }),
            Command(
                "zrangebylex", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "2.8.9",
                summary: "Returns members in a sorted set within a lexicographical range.", complexity: logN,
                handler: { context throws(CommandError) in try range(&context, preset: RangeRequest(kind: .lex)) }),
            Command(
                "zrevrangebylex", arity: -4, flags: [.readonly], keys: single, group: .sortedSet, since: "2.8.9",
                summary: "Returns members in a sorted set within a lexicographical range in reverse order.",
                complexity: logN,
                handler: { context throws(CommandError) in
                    try range(&context, preset: RangeRequest(kind: .lex, reverse: true))
                }),
            Command(
                "zcount", arity: 4, flags: [.readonly, .fast], keys: single, group: .sortedSet, since: "2.0.0",
                summary: "Returns the count of members in a sorted set that have scores within a range.",
                complexity: "O(log(N)) with N being the number of elements in the sorted set.", handler: zcount),
            Command(
                "zlexcount", arity: 4, flags: [.readonly, .fast], keys: single, group: .sortedSet, since: "2.8.9",
                summary: "Returns the number of members in a sorted set within a lexicographical range.",
                complexity: "O(log(N)) with N being the number of elements in the sorted set.", handler: zlexcount),
        ]
    }

    // MARK: Bounds

    /// A score bound: `(` makes it exclusive; the rest is read as Redis's `zslParseRange` reads it (plain `strtod`:
    /// leading spaces and an empty string, which is 0, are accepted; NaN is not).
    static func scoreBound(_ context: CommandContext, _ index: Int) throws(CommandError) -> (Double, exclusive: Bool) {
        let parsed: (Double, Bool)? = context.withArgument(index) { bytes in
            if bytes.first == UInt8(ascii: "(") {
                return RedisNumber.parseRangeDouble(UnsafeRawBufferPointer(rebasing: bytes[1...])).map { ($0, true) }
            }
            return RedisNumber.parseRangeDouble(bytes).map { ($0, false) }
        }
        guard let parsed else { throw CommandError("ERR min or max is not a float") }
        return parsed
    }

    /// A lexicographic bound: `-` and `+` (the ends), `[` inclusive, `(` exclusive.
    enum LexBound {
        case minimum, maximum
        case value([UInt8], exclusive: Bool)
    }

    static func lexBound(_ context: CommandContext, _ index: Int) throws(CommandError) -> LexBound {
        let bytes = context.bytes(index)
        switch bytes.first {
        case UInt8(ascii: "-") where bytes.count == 1: return .minimum
        case UInt8(ascii: "+") where bytes.count == 1: return .maximum
        case UInt8(ascii: "["): return .value(Array(bytes.dropFirst()), exclusive: false)
        case UInt8(ascii: "("): return .value(Array(bytes.dropFirst()), exclusive: true)
        default: throw CommandError("ERR min or max not valid string range item")
        }
    }

    /// Ascending ranks `lower..<upper` of the members between two score bounds.
    static func ranks(_ set: SortedSetValue, min: (Double, exclusive: Bool), max: (Double, exclusive: Bool)) -> Range<
        Int
    > {
        let lower = set.count(scoreBelow: min.0, inclusive: min.exclusive)
        let upper = set.count(scoreBelow: max.0, inclusive: !max.exclusive)
        return lower < upper ? lower..<upper : 0..<0
    }

    /// Ascending ranks of the members between two lexicographic bounds.
    static func ranks(_ set: SortedSetValue, min: LexBound, max: LexBound) -> Range<Int> {
        func position(_ bound: LexBound, upper: Bool) -> Int {
            switch bound {
            case .minimum: return 0
            case .maximum: return set.count
            case .value(let member, let exclusive):
                // A lower bound skips members before it (and it, when exclusive); an upper bound keeps members up to
                // it (not it, when exclusive).
                return set.count(memberBelow: member, inclusive: upper ? !exclusive : exclusive)
            }
        }
        let lower = position(min, upper: false)
        let upper = position(max, upper: true)
        return lower < upper ? lower..<upper : 0..<0
    }

    // MARK: Handlers

    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]` and, with `preset`, its older
    /// forms (`ZREVRANGE`, `ZRANGEBYSCORE`, …), which accept only `WITHSCORES` and `LIMIT`. For a reverse score or
    /// lex range the first bound is the maximum, as in Redis. With `storing`, `ZRANGESTORE destination source …`
    /// (no `WITHSCORES`): the range replaces the destination whatever it held, an empty one deletes it.
    static func range(_ context: inout CommandContext, preset: RangeRequest?, storing: Bool = false)
        throws(CommandError)
    {
        let keyIndex = storing ? 2 : 1
        var request = preset ?? RangeRequest()
        // Redis accepts one BYSCORE/BYLEX and one REV, and only in ZRANGE itself.
        var kindGiven = preset != nil
        var reverseGiven = preset != nil
        var index = keyIndex + 3
        while index < context.count {
            if !storing && context.argument(index, is: "WITHSCORES") {
                request.withScores = true
            } else if context.argument(index, is: "LIMIT"), index + 2 < context.count {
                request.limit = (try context.integer(index + 1), try context.integer(index + 2))
                index += 2
            } else if !kindGiven && context.argument(index, is: "BYSCORE") {
                request.kind = .score
                kindGiven = true
            } else if !kindGiven && context.argument(index, is: "BYLEX") {
                request.kind = .lex
                kindGiven = true
            } else if !reverseGiven && context.argument(index, is: "REV") {
                request.reverse = true
                reverseGiven = true
            } else {
                throw .syntax
            }
            index += 1
        }
        if request.limit != nil && request.kind == .rank {
            throw CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if request.withScores && request.kind == .lex {
            throw CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        }
        let selector = try rangeSelector(context, request, start: keyIndex + 1)
        let version = context.respVersion
        guard storing else {
            try context.withSortedSet(keyIndex, reading: true) { set, out throws(CommandError) in
                guard let set else {
                    out.writeRESPArrayHeader(0)
                    return
                }
                let ranks = selected(set, request, selector)
                let pairs = request.withScores && version == .resp3
                out.writeRESPArrayHeader(request.withScores && !pairs ? ranks.count * 2 : ranks.count)
                for rank in ranks {
                    let element = set.element(at: rank)
                    if pairs { out.writeRESPArrayHeader(2) }
                    out.writeRESPBulkString(element.member)
                    if request.withScores { out.writeRESPDouble(element.score, version) }
                }
            }
            return
        }
        let now = context.now
        let arguments = context.arguments
        let stored: Int = try context.server.keyspace.withLock { keyspace throws(CommandError) -> Int in
            let source = try arguments[keyIndex].withUnsafeReadableBytes { key throws(CommandError) in
                try keyspace.withSortedSet(
                    key, now: now, countingStatistics: true, wrongType: CommandError.wrongType
                ) { set throws(CommandError) in set }
            }
            var result = SortedSetValue(limits: keyspace.sortedSetLimits)
            if let source {
                for rank in selected(source, request, selector) {
                    let element = source.element(at: rank)
                    result.set(element.member, score: element.score)
                }
            }
            arguments[1].withUnsafeReadableBytes { destination in
                keyspace.storeSortedSet(destination, result, expireAt: Entry.noExpiry, now: now)
            }
            return result.count
        }
        if stored > 0 { context.server.blocking.signal(context.bytes(1)) }
        context.replyInteger(stored)
    }

    /// The ascending ranks a parsed request selects, from its bounds at arguments `start` and `start + 1`.
    static func rangeSelector(
        _ context: CommandContext, _ request: RangeRequest, start: Int
    ) throws(CommandError) -> (SortedSetValue) -> Range<Int> {
        let (minIndex, maxIndex) = request.reverse && request.kind != .rank ? (start + 1, start) : (start, start + 1)
        switch request.kind {
        case .rank:
            let first = try context.integer(start)
            let last = try context.integer(start + 1)
            let reverse = request.reverse
            return { set in
                let ranks = rankRange(set.count, start: first, stop: last)
                // Ranks from the requested end: a reverse range counts from the highest.
                return reverse ? (set.count - ranks.upperBound)..<(set.count - ranks.lowerBound) : ranks
            }
        case .score:
            let min = try scoreBound(context, minIndex)
            let max = try scoreBound(context, maxIndex)
            return { ranks($0, min: min, max: max) }
        case .lex:
            let min = try lexBound(context, minIndex)
            let max = try lexBound(context, maxIndex)
            return { ranks($0, min: min, max: max) }
        }
    }

    /// Ranks `start...stop` of a set of `count` members, negative ones counting from the end, clamped as Redis does.
    static func rankRange(_ count: Int, start: Int64, stop: Int64) -> Range<Int> {
        let count = Int64(count)
        var (first, last) = (start < 0 ? start + count : start, stop < 0 ? stop + count : stop)
        if first < 0 { first = 0 }
        guard first <= last, first < count else { return 0..<0 }
        if last >= count { last = count - 1 }
        return Int(first)..<Int(last + 1)
    }

    /// The ranks a request returns, in reply order (descending for `REV`), after `LIMIT`.
    static func selected(
        _ set: SortedSetValue, _ request: RangeRequest, _ selector: (SortedSetValue) -> Range<Int>
    ) -> [Int] {
        var ranks = Array(selector(set))
        if request.reverse { ranks.reverse() }
        if let (offset, count) = request.limit {
            if offset < 0 || offset >= Int64(ranks.count) {
                ranks = []
            } else {
                ranks = Array(ranks.dropFirst(Int(offset)))
                if count >= 0 && count < Int64(ranks.count) { ranks = Array(ranks.prefix(Int(count))) }
            }
        }
        return ranks
    }

    /// `ZCOUNT key min max`.
    static func zcount(_ context: inout CommandContext) throws(CommandError) {
        let min = try scoreBound(context, 2)
        let max = try scoreBound(context, 3)
        let count: Int = try context.withSortedSet(reading: true) { set, _ throws(CommandError) in
            guard let set else { return 0 }
            return ranks(set, min: min, max: max).count
        }
        context.replyInteger(count)
    }

    /// `ZLEXCOUNT key min max`.
    static func zlexcount(_ context: inout CommandContext) throws(CommandError) {
        let min = try lexBound(context, 2)
        let max = try lexBound(context, 3)
        let count: Int = try context.withSortedSet(reading: true) { set, _ throws(CommandError) in
            guard let set else { return 0 }
            return ranks(set, min: min, max: max).count
        }
        context.replyInteger(count)
    }
}
