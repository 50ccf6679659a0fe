import NIOCore
import RoostCore
import RoostProtocol

// ZUNION, ZINTER, ZDIFF and their STORE forms, with WEIGHTS and AGGREGATE.

extension SortedSetCommands {
    /// How `ZUNION`/`ZINTER` combine the scores a member has in several inputs.
    enum Aggregate {
        case sum, min, max

        /// `target` combined with `value`: a sum that is NaN (`inf + -inf`) is 0, as in Redis; `min`/`max` keep
        /// `target` when `value` is NaN.
        func combine(_ target: Double, _ value: Double) -> Double {
            switch self {
            case .sum:
                let sum = target + value
                return sum.isNaN ? 0 : sum
            case .min: return value < target ? value : target
            case .max: return value > target ? value : target
            }
        }
    }

    /// One input of the algebra: a sorted set, a plain set (every member scores 1) or a missing key (empty).
    enum Source {
        case missing
        case sortedSet(SortedSetValue)
        case set(SetValue)

        var count: Int {
            switch self {
            case .missing: return 0
            case .sortedSet(let set): return set.count
            case .set(let set): return set.count
            }
        }

        /// The score of `member`, or nil.
        func score(of member: [UInt8]) -> Double? {
            switch self {
            case .missing: return nil
            case .sortedSet(let set): return set.score(of: member)
            case .set(let set): return member.withUnsafeBytes { set.contains($0) } ? 1 : nil
            }
        }

        /// Calls `body` with every member and its score.
        func eachElement(_ body: ([UInt8], Double) -> Void) {
            switch self {
            case .missing: return
            case .sortedSet(let set):
                for rank in 0..<set.count {
                    let element = set.element(at: rank)
                    body(element.member, element.score)
                }
            case .set(let set):
                for position in 0..<set.count { set.withMember(at: position) { body(Array($0), 1) } }
            }
        }
    }

    /// Key positions of the `numkeys` commands: the table's fixed positions name the destination of a STORE form
    /// (`1, 1, 1`, as Redis's legacy triple) or the first source key (`2, 2, 1`); see docs/COMMANDS.md.
    private static let storeKeys = Command.KeyPositions.single
    private static let firstSourceKey = Command.KeyPositions(first: 2, last: 2, step: 1)

    static var algebraCommands: [Command] {
        let union =
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the "
            + "number of elements in the resulting sorted set."
        let intersection =
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
            + "number of input sorted sets and M being the number of elements in the resulting sorted set."
        let difference =
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "
            + "is the size of the first set, and K is the size of the result set."
        return [
            Command(
                "zunionstore", arity: -4, flags: [.write, .denyOOM], keys: storeKeys, numkeys: 2, group: .sortedSet,
                since: "2.0.0", summary: "Stores the union of multiple sorted sets in a key.", complexity: union,
                handler: { context throws(CommandError) in try algebra(&context, .union, storing: true) }),
            Command(
                "zinterstore", arity: -4, flags: [.write, .denyOOM], keys: storeKeys, numkeys: 2, group: .sortedSet,
                since: "2.0.0", summary: "Stores the intersect of multiple sorted sets in a key.",
                complexity: intersection,
                handler: { context throws(CommandError) in try algebra(&context, .intersection, storing: true) }),
            Command(
                "zdiffstore", arity: -4, flags: [.write, .denyOOM], keys: storeKeys, numkeys: 2, group: .sortedSet,
                since: "6.2.0", summary: "Stores the difference of multiple sorted sets in a key.",
                complexity: difference,
                handler: { context throws(CommandError) in try algebra(&context, .difference, storing: true) }),
            Command(
                "zunion", arity: -3, flags: [.readonly], keys: firstSourceKey, numkeys: 1, group: .sortedSet,
                since: "6.2.0",
                summary: "Returns the union of multiple sorted sets.", complexity: union,
                handler: { context throws(CommandError) in try algebra(&context, .union, storing: false) }),
            Command(
                "zinter", arity: -3, flags: [.readonly], keys: firstSourceKey, numkeys: 1, group: .sortedSet,
                since: "6.2.0",
                summary: "Returns the intersect of multiple sorted sets.", complexity: intersection,
                handler: { context throws(CommandError) in try algebra(&context, .intersection, storing: false) }),
            Command(
                "zdiff", arity: -3, flags: [.readonly], keys: firstSourceKey, numkeys: 1, group: .sortedSet,
                since: "6.2.0",
                summary: "Returns the difference between multiple sorted sets.", complexity: difference,
                handler: { context throws(CommandError) in try algebra(&context, .difference, storing: false) }),
        ]
    }

    /// `ZUNION|ZINTER|ZDIFF numkeys key [key …] [WEIGHTS w …] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` and the STORE
    /// forms (`destination numkeys key …`, no `WITHSCORES`), in Redis 7.0's order of checks: `numkeys`, the type of
    /// every source (sorted sets and plain sets, whose members score 1), then the options (`ZDIFF` takes neither
    /// `WEIGHTS` nor `AGGREGATE`). A STORE form replaces the destination whatever it held; an empty result deletes it.
    static func algebra(
        _ context: inout CommandContext, _ operation: SetCommands.Operation, storing: Bool
    ) throws(CommandError) {
        let numkeysIndex = storing ? 2 : 1
        guard let requested = context.withArgument(numkeysIndex, { RedisNumber.parseInteger($0) }) else {
            throw CommandError("ERR value is not an integer or out of range")
        }
        guard requested >= 1 else {
            throw CommandError("ERR at least 1 input key is needed for '\(context.string(0).lowercased())' command")
        }
        guard requested <= Int64(context.count - numkeysIndex - 1) else { throw .syntax }
        let keyCount = Int(requested)
        let firstKey = numkeysIndex + 1
        let now = context.now
        let arguments = context.arguments
        let version = context.respVersion
        let options = Array(arguments[(firstKey + keyCount)...])
        let stored: Int? = try context.server.keyspace.withLock { keyspace throws(CommandError) -> Int? in
            var sources: [Source] = []
            for index in firstKey..<(firstKey + keyCount) {
                sources.append(
                    try arguments[index].withUnsafeReadableBytes { key throws(CommandError) in
                        try readSource(key, &keyspace, now: now)
                    })
            }
            // Options are read after the types, as Redis reads them.
            var weights = [Double](repeating: 1, count: keyCount)
            var aggregate = Aggregate.sum
            var withScores = false
            var index = 0
            func option(_ name: String) -> Bool {
                options[index].withUnsafeReadableBytes { bytes in
                    bytes.count == name.utf8.count && zip(bytes, name.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
                }
            }
            while index < options.count {
                let remaining = options.count - index
                if operation != .difference && remaining >= keyCount + 1 && option("weights") {
                    for position in 0..<keyCount {
                        let weight = options[index + 1 + position].withUnsafeReadableBytes {
                            RedisNumber.parseDouble($0)
                        }
                        guard let weight, !weight.isNaN else { throw CommandError("ERR weight value is not a float") }
                        weights[position] = weight
                    }
                    index += keyCount + 1
                } else if operation != .difference && remaining >= 2 && option("aggregate") {
                    index += 1
                    if option("sum") {
                        aggregate = .sum
                    } else if option("min") {
                        aggregate = .min
                    } else if option("max") {
                        aggregate = .max
                    } else {
                        throw .syntax
                    }
                    index += 1
                } else if !storing && option("withscores") {
                    withScores = true
                    index += 1
                } else {
                    throw .syntax
                }
            }
            let result = combine(sources, weights: weights, operation, aggregate)
            guard storing else {
                writeElements(result, withScores: withScores, to: &context.out, version)
                return nil
            }
            var rebuilt = SortedSetValue(limits: keyspace.sortedSetLimits)
            for rank in 0..<result.count {
                let element = result.element(at: rank)
                rebuilt.set(element.member, score: element.score)
            }
            arguments[1].withUnsafeReadableBytes { destination in
                keyspace.storeSortedSet(destination, rebuilt, expireAt: Entry.noExpiry, now: now)
            }
            return rebuilt.count
        }
        if let stored {
            if stored > 0 { context.server.blocking.signal(context.bytes(1)) }
            context.replyInteger(stored)
        }
    }

    /// The sorted set, plain set or nothing at `key`; `WRONGTYPE` for any other type.
    static func readSource(_ key: UnsafeRawBufferPointer, _ keyspace: inout Keyspace, now: Int64) throws(CommandError)
        -> Source
    {
        do throws(CommandError) {
            let value = try keyspace.withSortedSet(
                key, now: now, countingStatistics: true, wrongType: CommandError.wrongType
            ) { set throws(CommandError) in set }
            return value.map { .sortedSet($0) } ?? .missing
        } catch {
            let set = try keyspace.readSet(key, now: now, countingStatistics: false, wrongType: CommandError.wrongType)
            return set.map { .set($0) } ?? .missing
        }
    }

    /// The result of `operation` over `sources` as Redis 7.0 computes it: union and intersection visit the inputs
    /// from the smallest (stable for ties), each score times its weight (a NaN product, `inf * 0`, is 0);
    /// difference keeps the first input's members found in no other. Built as a skiplist, so a `-0` score stays
    /// `-0` in a reply (storing rebuilds it with the keyspace's limits).
    static func combine(
        _ sources: [Source], weights: [Double], _ operation: SetCommands.Operation, _ aggregate: Aggregate
    ) -> SortedSetValue {
        var result = SortedSetValue(limits: SortedSetValue.Limits(maxListpackEntries: 0, maxListpackValue: 0))
        func weighted(_ score: Double, _ weight: Double) -> Double {
            let product = score * weight
            return product.isNaN ? 0 : product
        }
        let order = sources.indices.sorted { (sources[$0].count, $0) < (sources[$1].count, $1) }
        switch operation {
        case .union:
            var scores: [[UInt8]: Double] = [:]
            for position in order {
                sources[position].eachElement { member, score in
                    let value = weighted(score, weights[position])
                    scores[member] = scores[member].map { aggregate.combine($0, value) } ?? value
                }
            }
            for (member, score) in scores { result.set(member, score: score) }
        case .intersection:
            guard let smallest = order.first, sources[smallest].count > 0 else { return result }
            sources[smallest].eachElement { member, score in
                var total = weighted(score, weights[smallest])
                for position in order.dropFirst() {
                    guard let other = sources[position].score(of: member) else { return }
                    total = aggregate.combine(total, other * weights[position])
                }
                result.set(member, score: total)
            }
        case .difference:
            let others = sources.dropFirst()
            sources[0].eachElement { member, score in
                if !others.contains(where: { $0.score(of: member) != nil }) { result.set(member, score: score) }
            }
        }
        return result
    }

    /// Writes `set`'s members in ascending order, with their scores when asked (flat in RESP2, pairs in RESP3).
    static func writeElements(
        _ set: SortedSetValue, withScores: Bool, to out: inout ByteBuffer, _ version: RESPVersion
    ) {
        let pairs = withScores && version == .resp3
        out.writeRESPArrayHeader(withScores && !pairs ? set.count * 2 : set.count)
        for rank in 0..<set.count {
            let element = set.element(at: rank)
            if pairs { out.writeRESPArrayHeader(2) }
            out.writeRESPBulkString(element.member)
            if withScores { out.writeRESPDouble(element.score, version) }
        }
    }
}
