import NIOCore
import RoostCore
import RoostProtocol

// SPOP, SRANDMEMBER and SSCAN.

extension SetCommands {
    static var samplingCommands: [Command] {
        [
            Command(
                "spop", arity: -2, flags: [.write, .fast], keys: .single, group: .set, since: "1.0.0",
                summary: "Returns one or more random members from a set after removing them. Deletes the set if the "
                    + "last member was popped.",
                complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
                handler: spop),
            Command(
                "srandmember", arity: -2, flags: [.readonly], keys: .single, group: .set, since: "1.0.0",
                summary: "Get one or multiple random members from a set",
                complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
                    + "passed count.",
                handler: srandmember),
            Command(
                "sscan", arity: -3, flags: [.readonly], keys: .single, group: .set, since: "2.8.0",
                summary: "Iterates over members of a set.",
                complexity: "O(1) for every call. O(N) for a complete iteration.", handler: sscan),
        ]
    }

    /// `SPOP key [count]`: without a count one random member (null for a missing key); with one, a RESP3 set of up
    /// to `count` distinct members (the whole set, in its order, when `count` is at least its size).
    static func spop(_ context: inout CommandContext) throws(CommandError) {
        let version = context.respVersion
        guard context.count >= 3 else {
            try context.withSet(reading: false) { set, out throws(CommandError) in
                guard set != nil else {
                    out.writeRESPNull(version)
                    return
                }
                let position = Int.random(in: 0..<set!.count)
                set!.withMember(at: position) { out.writeRESPBulkString($0) }
                set!.remove(at: position)
            }
            return
        }
        guard context.count == 3 else { throw .syntax }
        // Redis's getPositiveLongFromObjectOrReply: one message for "not a number" and "negative".
        guard let requested = context.withArgument(2, { RedisNumber.parseInteger($0) }), requested >= 0 else {
            throw CommandError("ERR value is out of range, must be positive")
        }
        try context.withSet(reading: false) { set, out throws(CommandError) in
            guard set != nil, requested > 0 else {
                out.writeRESPSetHeader(0, version)
                return
            }
            if requested >= set!.count {
                SetCommands.writeMembers(set, to: &out, version)
                set = nil
                return
            }
            let wanted = Int(requested)
            out.writeRESPSetHeader(wanted, version)
            for _ in 0..<wanted {
                let position = Int.random(in: 0..<set!.count)
                set!.withMember(at: position) { out.writeRESPBulkString($0) }
                set!.remove(at: position)
            }
        }
    }

    /// `SRANDMEMBER key [count]`, as Redis 7.0 answers it: without a count one random member (null for a missing
    /// key); a count of 0 an empty array; a negative count that many independent draws; a count at least the set's
    /// size the whole set in its order; a smaller positive count that many distinct members.
    static func srandmember(_ context: inout CommandContext) throws(CommandError) {
        let version = context.respVersion
        guard context.count >= 3 else {
            try context.withSet(reading: true) { set, out throws(CommandError) in
                guard let set else {
                    out.writeRESPNull(version)
                    return
                }
                set.withMember(at: Int.random(in: 0..<set.count)) { out.writeRESPBulkString($0) }
            }
            return
        }
        guard context.count == 3 else { throw .syntax }
        let requested = try context.integer(2)
        guard requested != Int64.min else {
            throw CommandError(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        try context.withSet(reading: true) { set, out throws(CommandError) in
            guard let set, requested != 0 else {
                out.writeRESPArrayHeader(0)
                return
            }
            if requested < 0 {
                let draws = Int(requested.magnitude)
                out.writeRESPArrayHeader(draws)
                for _ in 0..<draws {
                    set.withMember(at: Int.random(in: 0..<set.count)) { out.writeRESPBulkString($0) }
                }
                return
            }
            let wanted = Int(min(requested, Int64(set.count)))
            out.writeRESPArrayHeader(wanted)
            if wanted == set.count {
                for position in 0..<set.count { set.withMember(at: position) { out.writeRESPBulkString($0) } }
                return
            }
            var chosen = Set<Int>(minimumCapacity: wanted)
            while chosen.count < wanted {
                let position = Int.random(in: 0..<set.count)
                if chosen.insert(position).inserted { set.withMember(at: position) { out.writeRESPBulkString($0) } }
            }
        }
    }

    /// `SSCAN key cursor [MATCH pattern] [COUNT count]`: an intset is returned whole with cursor 0 (as Redis does);
    /// a hashtable is walked `count` members a step with ``SetValue/scan(cursor:count:)``'s guarantee.
    static func sscan(_ context: inout CommandContext) throws(CommandError) {
        let (cursor, count, pattern, _) = try KeyCommands.aggregateScanOptions(&context)
        try context.withSet(reading: true) { set, out throws(CommandError) in
            out.writeRESPArrayHeader(2)
            guard let set else {
                out.writeRESPBulkString("0")
                out.writeRESPArrayHeader(0)
                return
            }
            let step = set.scan(cursor: cursor, count: count)
            let matching = step.positions.compactMap { position -> [UInt8]? in
                let member = set.member(at: position)
                guard let pattern else { return member }
                return Glob.matches(pattern: pattern, member) ? member : nil
            }
            out.writeRESPBulkString(String(step.next))
            out.writeRESPArrayHeader(matching.count)
            for member in matching { out.writeRESPBulkString(member) }
        }
    }
}
