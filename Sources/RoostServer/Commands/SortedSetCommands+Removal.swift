import RoostCore
import RoostProtocol

// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.

extension SortedSetCommands {
    static var removalCommands: [Command] {
        let single = Command.KeyPositions.single
        let complexity =
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed "
            + "by the operation."
        return [
            Command(
                "zremrangebyrank", arity: 4, flags: [.write], keys: single, group: .sortedSet, since: "2.0.0",
                summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all "
                    + "members were removed.",
                complexity: complexity,
                handler: { context throws(CommandError) in try removeRange(&context, .rank) }),
            Command(
                "zremrangebyscore", arity: 4, flags: [.write], keys: single, group: .sortedSet, since: "1.2.0",
                summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all "
                    + "members were removed.",
                complexity: complexity,
                handler: { context throws(CommandError) in try removeRange(&context, .score) }),
            Command(
                "zremrangebylex", arity: 4, flags: [.write], keys: single, group: .sortedSet, since: "2.8.9",
                summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if "
                    + "all members were removed.",
                complexity: complexity,
                handler: { context throws(CommandError) in try removeRange(&context, .lex) }),
        ]
    }

    /// `ZREMRANGEBYRANK|ZREMRANGEBYSCORE|ZREMRANGEBYLEX key min max`: how many members were removed. The bounds are
    /// checked before the key's type, as in Redis; ranks are clamped as `ZRANGE`'s.
    static func removeRange(_ context: inout CommandContext, _ kind: RangeKind) throws(CommandError) {
        let selector = try rangeSelector(context, RangeRequest(kind: kind), start: 2)
        let removed: Int = try context.withSortedSet(reading: false) { set, _ throws(CommandError) in
            guard set != nil else { return 0 }
            let ranks = selector(set!)
            let members = ranks.map { set!.element(at: $0).member }
            for member in members { set!.remove(member) }
            return members.count
        }
        context.replyInteger(removed)
    }
}
