import NIOCore
import RoostCore
import RoostProtocol

/// Hash commands: `HSET`, `HGET` and the rest of Redis's hash family (per-field expiry in
/// `HashCommands+Expiry.swift`, `HRANDFIELD` and `HSCAN` in `HashCommands+Sampling.swift`).
///
/// Each command runs on the keyspace's hash in place (``Keyspace/withHash(_:now:countingStatistics:wrongType:_:)``),
/// in one critical section, writing its reply while the lock is held (no copies of fields or values).
enum HashCommands {
    private static let keyRange = Command.KeyPositions.single

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "hset", arity: -4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Creates or modifies the value of a field in a hash.",
                complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs.",
                handler: { context throws(CommandError) in try hset(&context, name: "hset") }),
            Command(
                "hmset", arity: -4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Sets the values of multiple fields.", complexity: "O(N) where N is the number of fields.",
                handler: { context throws(CommandError) in try hset(&context, name: "hmset") }),
            Command(
                "hsetnx", arity: 4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Sets the value of a field in a hash only when the field doesn't exist.", handler: hsetnx),
            Command(
                "hget", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns the value of a field in a hash.", handler: hget),
            Command(
                "hmget", arity: -3, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns the values of all fields in a hash.",
                complexity: "O(N) where N is the number of fields being requested.", handler: hmget),
            Command(
                "hgetall", arity: 2, flags: [.readonly], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns all fields and values in a hash.",
                complexity: "O(N) where N is the size of the hash.",
                handler: { context throws(CommandError) in try listing(&context, fields: true, values: true) }),
            Command(
                "hkeys", arity: 2, flags: [.readonly], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns all fields in a hash.", complexity: "O(N) where N is the size of the hash.",
                handler: { context throws(CommandError) in try listing(&context, fields: true, values: false) }),
            Command(
                "hvals", arity: 2, flags: [.readonly], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns all values in a hash.", complexity: "O(N) where N is the size of the hash.",
                handler: { context throws(CommandError) in try listing(&context, fields: false, values: true) }),
            Command(
                "hdel", arity: -3, flags: [.write, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields "
                    + "remain.",
                complexity: "O(N) where N is the number of fields to be removed.", handler: hdel),
            Command(
                "hexists", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Determines whether a field exists in a hash.", handler: hexists),
            Command(
                "hlen", arity: 2, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Returns the number of fields in a hash.", handler: hlen),
            Command(
                "hstrlen", arity: 3, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "3.2.0",
                summary: "Returns the length of the value of a field.", handler: hstrlen),
            Command(
                "hincrby", arity: 4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .hash, since: "2.0.0",
                summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if "
                    + "the field doesn't exist.",
                handler: hincrby),
            Command(
                "hincrbyfloat", arity: 4, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .hash,
                since: "2.6.0",
                summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the "
                    + "field doesn't exist.",
                handler: hincrbyfloat),
            Command(
                "hrandfield", arity: -2, flags: [.readonly], keys: keyRange, group: .hash, since: "6.2.0",
                summary: "Returns one or more random fields from a hash.",
                complexity: "O(N) where N is the number of fields returned", handler: hrandfield),
            Command(
                "hscan", arity: -3, flags: [.readonly], keys: keyRange, group: .hash, since: "2.8.0",
                summary: "Iterates over fields and values of a hash.",
                complexity: "O(1) for every call. O(N) for a complete iteration.", handler: hscan),
        ] + expiryCommands + [
            Command(
                "hashstate", arity: -6, flags: [.write, .noScript], keys: keyRange, group: .server, since: "roost",
                summary: "Internal: a hash's whole state (expiry, then field, value and field expiry triples; "
                    + "expiries in ms, 0 for none) in the replication stream; refused from clients.",
                handler: hashState)
        ]
    }

    // MARK: Handlers

    /// `HSET key field value [field value …]` (replies the number of fields created) and `HMSET` (replies `OK`).
    static func hset(_ context: inout CommandContext, name: String) throws(CommandError) {
        guard context.count % 2 == 0 else { throw .wrongArity(name) }
        let arguments = context.arguments
        let created: Int = try context.withHash(reading: false) { hash, _ throws(CommandError) in
            if hash == nil { hash = HashValue() }
            var created = 0
            for index in stride(from: 2, to: arguments.count, by: 2) {
                let inserted = arguments[index].withUnsafeReadableBytes { name in
                    arguments[index + 1].withUnsafeReadableBytes { hash!.set(name, $0) }
                }
                if inserted { created += 1 }
            }
            return created
        }
        if name == "hmset" { context.replyOK() } else { context.replyInteger(created) }
    }

    static func hsetnx(_ context: inout CommandContext) throws(CommandError) {
        let (field, value) = (context.arguments[2], context.arguments[3])
        let created: Bool = try context.withHash(reading: false) { hash, _ throws(CommandError) in
            let exists = field.withUnsafeReadableBytes { name in hash?.position(of: name) != nil }
            if exists { return false }
            if hash == nil { hash = HashValue() }
            field.withUnsafeReadableBytes { name in value.withUnsafeReadableBytes { _ = hash!.set(name, $0) } }
            return true
        }
        context.replyInteger(created ? 1 : 0)
    }

    static func hget(_ context: inout CommandContext) throws(CommandError) {
        let field = context.arguments[2]
        let version = context.respVersion
        try context.withHash(reading: true) { hash, out throws(CommandError) in
            guard let hash, let position = field.withUnsafeReadableBytes({ hash.position(of: $0) }) else {
                out.writeRESPNull(version)
                return
            }
            hash.fields[position].withValue { out.writeRESPBulkString($0) }
        }
    }

    static func hmget(_ context: inout CommandContext) throws(CommandError) {
        let arguments = context.arguments
        let version = context.respVersion
        try context.withHash(reading: true) { hash, out throws(CommandError) in
            out.writeRESPArrayHeader(arguments.count - 2)
            for index in 2..<arguments.count {
                if let hash, let position = arguments[index].withUnsafeReadableBytes({ hash.position(of: $0) }) {
                    hash.fields[position].withValue { out.writeRESPBulkString($0) }
                } else {
                    out.writeRESPNull(version)
                }
            }
        }
    }

    /// `HGETALL` (a map in RESP3), `HKEYS`, `HVALS`: in listpack order for a small hash.
    static func listing(_ context: inout CommandContext, fields: Bool, values: Bool) throws(CommandError) {
        let version = context.respVersion
        try context.withHash(reading: true) { hash, out throws(CommandError) in
            let count = hash?.count ?? 0
            if fields && values {
                out.writeRESPMapHeader(count, version)
            } else {
                out.writeRESPArrayHeader(count)
            }
            guard let hash else { return }
            for field in hash.fields {
                if fields { field.withName { out.writeRESPBulkString($0) } }
                if values { field.withValue { out.writeRESPBulkString($0) } }
            }
        }
    }

    static func hdel(_ context: inout CommandContext) throws(CommandError) {
        let arguments = context.arguments
        let removed: Int = try context.withHash(reading: false) { hash, _ throws(CommandError) in
            guard hash != nil else { return 0 }
            var removed = 0
            for index in 2..<arguments.count where arguments[index].withUnsafeReadableBytes({ hash!.remove($0) }) {
                removed += 1
            }
            return removed
        }
        context.replyInteger(removed)
    }

    static func hexists(_ context: inout CommandContext) throws(CommandError) {
        let field = context.arguments[2]
        let exists: Bool = try context.withHash(reading: true) { hash, _ throws(CommandError) in
            guard let hash else { return false }
            return field.withUnsafeReadableBytes { hash.position(of: $0) != nil }
        }
        context.replyInteger(exists ? 1 : 0)
    }

    static func hlen(_ context: inout CommandContext) throws(CommandError) {
        let count: Int = try context.withHash(reading: true) { hash, _ throws(CommandError) in hash?.count ?? 0 }
        context.replyInteger(count)
    }

    static func hstrlen(_ context: inout CommandContext) throws(CommandError) {
        let field = context.arguments[2]
        let length: Int = try context.withHash(reading: true) { hash, _ throws(CommandError) in
            guard let hash, let position = field.withUnsafeReadableBytes({ hash.position(of: $0) }) else { return 0 }
            return hash.fields[position].value.count
        }
        context.replyInteger(length)
    }

    /// `HINCRBY key field increment`: the field's value parsed as Redis's `string2ll` does; keeps the field's
    /// time to live (it changes the value in place).
    static func hincrby(_ context: inout CommandContext) throws(CommandError) {
        let increment = try context.integer(3)
        let field = context.arguments[2]
        let result: Int64 = try context.withHash(reading: false) { hash, _ throws(CommandError) in
            var current: Int64 = 0
            if let hash, let position = field.withUnsafeReadableBytes({ hash.position(of: $0) }) {
                guard let parsed = hash.fields[position].withValue({ RedisNumber.parseInteger($0) }) else {
                    throw CommandError("ERR hash value is not an integer")
                }
                current = parsed
            }
            let (sum, overflow) = current.addingReportingOverflow(increment)
            guard !overflow else { throw .overflow }
            if hash == nil { hash = HashValue() }
            let digits = RedisNumber.format(sum)
            field.withUnsafeReadableBytes { name in
                digits.withUnsafeBytes { _ = hash!.set(name, $0, keepExpiry: true) }
            }
            return sum
        }
        context.out.writeRESPInteger(result)
    }

    /// `HINCRBYFLOAT key field increment`: long-double arithmetic and Redis's human-friendly formatting, as
    /// `INCRBYFLOAT`; keeps the field's time to live.
    static func hincrbyfloat(_ context: inout CommandContext) throws(CommandError) {
        guard let increment = context.withArgument(3, { RedisNumber.parseLongDouble($0) }) else { throw .notFloat }
        guard increment.isFinite else { throw CommandError("ERR value is NaN or Infinity") }
        let field = context.arguments[2]
        let bytes: [UInt8] = try context.withHash(reading: false) { hash, _ throws(CommandError) in
            var current: Float80 = 0
            if let hash, let position = field.withUnsafeReadableBytes({ hash.position(of: $0) }) {
                guard let parsed = hash.fields[position].withValue({ RedisNumber.parseLongDouble($0) }) else {
                    throw CommandError("ERR hash value is not a float")
                }
                current = parsed
            }
            let sum = current + increment
            guard sum.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
            let bytes = RedisNumber.formatHumanFriendly(sum)
            if hash == nil { hash = HashValue() }
            field.withUnsafeReadableBytes { name in
                bytes.withUnsafeBytes { _ = hash!.set(name, $0, keepExpiry: true) }
            }
            return bytes
        }
        context.replyBulk(bytes)
    }

    /// `HASHSTATE key expireAt field value fieldExpireAt […]`: a hash's whole state from the replication stream
    /// (see ``ChangeLog/appendHash(_:key:_:expireAt:)``). Only the link to the primary may send it; to anyone
    /// else it is an unknown command.
    static func hashState(_ context: inout CommandContext) throws(CommandError) {
        guard context.fromPrimary else { throw Dispatcher.unknownCommandError(context) }
        guard (context.count - 3) % 3 == 0 else { throw .syntax }
        let expireAt = try context.integer(2)
        var hash = HashValue()
        for index in stride(from: 3, to: context.count, by: 3) {
            let fieldExpiry = try context.integer(index + 2)
            context.withArgument(index) { name in
                context.withArgument(index + 1) { value in _ = hash.set(name, value) }
                if fieldExpiry != 0, let position = hash.position(of: name) {
                    hash.setExpiry(at: position, fieldExpiry)
                }
            }
        }
        let now = context.now
        context.withArgument(1) { key in
            context.server.keyspace.withLock { keyspace in
                keyspace.storeHash(key, hash, expireAt: expireAt == 0 ? Entry.noExpiry : expireAt, now: now)
            }
        }
        context.replyOK()
    }
}

extension CommandContext {
    /// Runs `body` on the hash at the key in argument `index` (nil when absent) with the reply buffer, in one
    /// critical section (see ``Keyspace/withHash(_:now:countingStatistics:wrongType:_:)``): `WRONGTYPE` when the key
    /// holds another type. `reading` counts a keyspace hit or miss, as a read command's lookup does. `body` must
    /// throw before it writes a reply.
    @discardableResult
    mutating func withHash<Result: Sendable>(
        _ index: Int = 1,
        reading: Bool,
        _ body: (inout HashValue?, inout ByteBuffer) throws(CommandError) -> Result
    ) throws(CommandError) -> Result {
        let now = self.now
        let outcome: Swift.Result<Result, CommandError> = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in
                Swift.Result { () throws(CommandError) -> Result in
                    try keyspace.withHash(
                        key, now: now, countingStatistics: reading, wrongType: CommandError.wrongType
                    ) { hash throws(CommandError) in try body(&hash, &out) }
                }
            }
        }
        return try outcome.get()
    }
}
