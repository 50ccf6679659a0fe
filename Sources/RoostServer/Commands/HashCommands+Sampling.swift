import NIOCore
import RoostCore
import RoostProtocol

// HRANDFIELD and HSCAN.

extension HashCommands {
    /// `HRANDFIELD key [count [WITHVALUES]]`, as Redis 7 answers it: without a count one random field (null for a
    /// missing key); a count of 0 an empty array; a negative count that many independent draws (repeats allowed); a
    /// count at least the hash's size the whole hash in its order; a smaller positive count that many distinct
    /// fields (in the hash's order for a listpack, in draw order for a hashtable). With `WITHVALUES` each field is
    /// followed by its value (a two-element array per field in RESP3).
    static func hrandfield(_ context: inout CommandContext) throws(CommandError) {
        guard context.count >= 3 else {
            let version = context.respVersion
            try context.withHash(reading: true) { hash, out throws(CommandError) in
                guard let hash, !hash.isEmpty else {
                    out.writeRESPNull(version)
                    return
                }
                hash.fields[Int.random(in: 0..<hash.count)].withName { out.writeRESPBulkString($0) }
            }
            return
        }
        let requested = try context.integer(2)
        guard requested != Int64.min else {
            throw CommandError(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        guard context.count <= 4, context.count == 3 || context.argument(3, is: "WITHVALUES") else { throw .syntax }
        let withValues = context.count == 4
        if withValues && (requested < -(Int64.max / 2) || requested > Int64.max / 2) {
            throw CommandError("ERR value is out of range")
        }
        let resp3 = context.respVersion == .resp3
        try context.withHash(reading: true) { hash, out throws(CommandError) in
            guard let hash, requested != 0 else {
                out.writeRESPArrayHeader(0)
                return
            }
            func write(_ position: Int) {
                let field = hash.fields[position]
                if withValues && resp3 { out.writeRESPArrayHeader(2) }
                field.withName { out.writeRESPBulkString($0) }
                if withValues { field.withValue { out.writeRESPBulkString($0) } }
            }
            let perField = withValues && !resp3 ? 2 : 1
            if requested < 0 {
                let draws = Int(requested.magnitude)
                out.writeRESPArrayHeader(draws * perField)
                for _ in 0..<draws { write(Int.random(in: 0..<hash.count)) }
                return
            }
            let wanted = Int(requested)
            if wanted >= hash.count {
                out.writeRESPArrayHeader(hash.count * perField)
                for position in hash.fields.indices { write(position) }
                return
            }
            out.writeRESPArrayHeader(wanted * perField)
            if !hash.isHashtable {
                // Selection sampling keeps the listpack's order, as Redis's lpRandomPairsUnique does.
                var needed = wanted
                for position in hash.fields.indices where needed > 0 {
                    if Int.random(in: 0..<(hash.count - position)) < needed {
                        write(position)
                        needed -= 1
                    }
                }
                return
            }
            var chosen = Set<Int>(minimumCapacity: wanted)
            while chosen.count < wanted {
                let position = Int.random(in: 0..<hash.count)
                if chosen.insert(position).inserted { write(position) }
            }
        }
    }

    /// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]`: a listpack is returned whole with cursor 0 (as
    /// Redis does); a hashtable is walked `count` fields a step with ``HashValue/scan(cursor:count:)``'s guarantee.
    /// A missing key is an empty, finished scan.
    static func hscan(_ context: inout CommandContext) throws(CommandError) {
        let (cursor, count, pattern, withValues) = try KeyCommands.aggregateScanOptions(
            &context, allowsNoValues: true)
        try context.withHash(reading: true) { hash, out throws(CommandError) in
            out.writeRESPArrayHeader(2)
            guard let hash else {
                out.writeRESPBulkString("0")
                out.writeRESPArrayHeader(0)
                return
            }
            let step = hash.scan(cursor: cursor, count: count)
            let matching = step.positions.filter { position in
                guard let pattern else { return true }
                return Glob.matches(pattern: pattern, Array(hash.fields[position].name))
            }
            out.writeRESPBulkString(String(step.next))
            out.writeRESPArrayHeader(matching.count * (withValues ? 2 : 1))
            for position in matching {
                hash.fields[position].withName { out.writeRESPBulkString($0) }
                if withValues { hash.fields[position].withValue { out.writeRESPBulkString($0) } }
            }
        }
    }
}
