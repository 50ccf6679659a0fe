import NIOCore
import RoostCore
import RoostProtocol

/// String commands: `GET`, `SET` and the rest of Redis's string family.
enum StringCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "get", arity: 2, flags: [.readonly, .fast], keys: .single, group: .string, since: "1.0.0",
                summary: "Returns the string value of a key.", handler: get),
            Command(
                "set", arity: -3, flags: [.write, .denyOOM], keys: .single, group: .string, since: "1.0.0",
                summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
                handler: set),
            Command(
                "setnx", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary: "Set the string value of a key only when the key doesn't exist.", handler: setnx),
            Command(
                "setex", arity: 4, flags: [.write, .denyOOM], keys: .single, group: .string, since: "2.0.0",
                summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
                handler: { context throws(CommandError) in try setWithExpiry(&context, unit: .seconds) }),
            Command(
                "psetex", arity: 4, flags: [.write, .denyOOM], keys: .single, group: .string, since: "2.6.0",
                summary: "Sets both string value and expiration time in milliseconds of a key.",
                handler: { context throws(CommandError) in try setWithExpiry(&context, unit: .milliseconds) }),
            Command(
                "getset", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary: "Returns the previous string value of a key after setting it to a new value.", handler: getset),
            Command(
                "getdel", arity: 2, flags: [.write, .fast], keys: .single, group: .string, since: "6.2.0",
                summary: "Returns the string value of a key after deleting the key.", handler: getdel),
            Command(
                "getex", arity: -2, flags: [.write, .fast], keys: .single, group: .string, since: "6.2.0",
                summary: "Returns the string value of a key after setting its expiration time.", handler: getex),
            Command(
                "mget", arity: -2, flags: [.readonly, .fast], keys: Command.KeyPositions(first: 1, last: -1, step: 1),
                group: .string, since: "1.0.0", summary: "Atomically returns the string values of one or more keys.",
                complexity: "O(N) where N is the number of keys to retrieve.", handler: mget),
            Command(
                "mset", arity: -3, flags: [.write, .denyOOM], keys: Command.KeyPositions(first: 1, last: -1, step: 2),
                group: .string, since: "1.0.1",
                summary: "Atomically creates or modifies the string values of one or more keys.",
                complexity: "O(N) where N is the number of keys to set.",
                handler: { context throws(CommandError) in try mset(&context, onlyIfNoneExist: false) }),
            Command(
                "msetnx", arity: -3, flags: [.write, .denyOOM], keys: Command.KeyPositions(first: 1, last: -1, step: 2),
                group: .string, since: "1.0.1",
                summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.",
                complexity: "O(N) where N is the number of keys to set.",
                handler: { context throws(CommandError) in try mset(&context, onlyIfNoneExist: true) }),
            Command(
                "append", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "2.0.0",
                summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", handler: append
            ),
            Command(
                "strlen", arity: 2, flags: [.readonly, .fast], keys: .single, group: .string, since: "2.2.0",
                summary: "Returns the length of a string value.", handler: strlen),
            Command(
                "incr", arity: 2, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary:
                    "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                handler: { context throws(CommandError) in try incrementBy(&context, 1) }),
            Command(
                "decr", arity: 2, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary:
                    "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                handler: { context throws(CommandError) in try incrementBy(&context, -1) }),
            Command(
                "incrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary:
                    "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                handler: { context throws(CommandError) in try incrementBy(&context, context.integer(2)) }),
            Command(
                "decrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string, since: "1.0.0",
                summary:
                    "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
                handler: decrby),
            Command(
                "incrbyfloat", arity: 3, flags: [.write, .denyOOM, .fast], keys: .single, group: .string,
                since: "2.6.0",
                summary:
                    "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                handler: incrbyfloat),
            Command(
                "getrange", arity: 4, flags: [.readonly], keys: .single, group: .string, since: "2.4.0",
                summary: "Returns a substring of the string stored at a key.",
                complexity: "O(N) where N is the length of the returned string.", handler: getrange),
            Command(
                "substr", arity: 4, flags: [.readonly], keys: .single, group: .string, since: "1.0.0",
                summary: "Returns a substring from string stored at key.",
                complexity: "O(N) where N is the length of the returned string.", handler: getrange),
            Command(
                "setrange", arity: 4, flags: [.write, .denyOOM], keys: .single, group: .string, since: "2.2.0",
                summary:
                    "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
                handler: setrange),
        ]
    }

    // MARK: Helpers

    /// The string held by `entry`, or `WRONGTYPE`.
    static func string(_ entry: Entry) throws(CommandError) -> [UInt8] {
        switch entry.value {
        case .string(let bytes): return bytes
        case .hash, .list, .set, .sortedSet: throw .wrongType
        }
    }

    // MARK: Handlers

    static func get(_ context: inout CommandContext) throws(CommandError) {
        if try context.withString(1, { out, value in out.writeRESPBulkString(value) }) == nil { context.replyNull() }
    }

    static func set(_ context: inout CommandContext) throws(CommandError) {
        var condition = SetCondition.always
        var returnOld = false
        var expiry = ExpiryOption.none
        var index = 3
        while index < context.count {
            if context.argument(index, is: "NX"), condition != .ifExists {
                condition = .ifNotExists
            } else if context.argument(index, is: "XX"), condition != .ifNotExists {
                condition = .ifExists
            } else if context.argument(index, is: "GET") {
                returnOld = true
            } else if let parsed = try ExpiryOption.parse(&index, context, current: expiry, allowPersist: false) {
                expiry = parsed
                continue
            } else {
                throw .syntax
            }
            index += 1
        }
        let expireAt = try expiry.absolute(now: context.now, command: "set")
        if condition == .always && !returnOld && expiry != .keepTTL {
            // Plain SET: copy the value straight from the request into the keyspace.
            let (key, value, now) = (context.arguments[1], context.arguments[2], context.now)
            context.withKeyspace { keyspace in
                key.withUnsafeReadableBytes { key in
                    value.withUnsafeReadableBytes {
                        keyspace.setString(key, $0, expireAt: expireAt ?? Entry.noExpiry, now: now)
                    }
                }
            }
            return context.replyOK()
        }
        let value = context.bytes(2)
        let (applied, old): (Bool, [UInt8]?) = try context.updateEntry(1) { entry throws(CommandError) in
            let previous = try entry.map { existing throws(CommandError) in try string(existing) }
            switch condition {
            case .ifNotExists where entry != nil, .ifExists where entry == nil:
                return (false, previous)
            default:
                break
            }
            let keepTTL = expiry == .keepTTL ? entry?.expireAt ?? Entry.noExpiry : Entry.noExpiry
            entry = Entry(value: .string(value), expireAt: expireAt ?? keepTTL)
            return (true, previous)
        }
        if returnOld {
            context.replyBulk(old)
        } else if applied {
            context.replyOK()
        } else {
            context.replyNull()
        }
    }

    static func setnx(_ context: inout CommandContext) throws(CommandError) {
        let value = context.bytes(2)
        let created: Bool = try context.updateEntry(1) { entry throws(CommandError) in
            guard entry == nil else { return false }
            entry = Entry(value: .string(value))
            return true
        }
        context.replyInteger(created ? 1 : 0)
    }

    static func setWithExpiry(_ context: inout CommandContext, unit: ExpiryOption.Unit) throws(CommandError) {
        let amount = try context.integer(2)
        let name = unit == .seconds ? "setex" : "psetex"
        guard let expireAt = try ExpiryOption.relative(amount, unit: unit).absolute(now: context.now, command: name)
        else { throw .invalidExpire(name) }
        let value = context.bytes(3)
        try context.updateEntry(1) { entry throws(CommandError) in
            entry = Entry(value: .string(value), expireAt: expireAt)
        }
        context.replyOK()
    }

    static func getset(_ context: inout CommandContext) throws(CommandError) {
        let value = context.bytes(2)
        let old: [UInt8]? = try context.updateEntry(1) { entry throws(CommandError) in
            let previous = try entry.map { existing throws(CommandError) in try string(existing) }
            entry = Entry(value: .string(value))
            return previous
        }
        context.replyBulk(old)
    }

    static func getdel(_ context: inout CommandContext) throws(CommandError) {
        let old: [UInt8]? = try context.updateEntry(1) { entry throws(CommandError) in
            guard let existing = entry else { return nil }
            let bytes = try string(existing)
            entry = nil
            return bytes
        }
        context.replyBulk(old)
    }

    static func getex(_ context: inout CommandContext) throws(CommandError) {
        var expiry = ExpiryOption.none
        var index = 2
        while index < context.count {
            guard let parsed = try ExpiryOption.parse(&index, context, current: expiry, allowPersist: true) else {
                throw .syntax
            }
            expiry = parsed
        }
        let expireAt = try expiry.absolute(now: context.now, command: "getex")
        let now = context.now
        let value: [UInt8]? = try context.updateEntry(1) { entry throws(CommandError) in
            guard let existing = entry else { return nil }
            let bytes = try string(existing)
            if let expireAt {
                if expireAt <= now {
                    entry = nil
                } else {
                    entry!.expireAt = expireAt
                }
            } else if expiry == .persist {
                entry!.expireAt = Entry.noExpiry
            }
            return bytes
        }
        if value != nil {
            context.server.keyspace.withLock { $0.statistics.keyspaceHits += 1 }
        } else {
            context.server.keyspace.withLock { $0.statistics.keyspaceMisses += 1 }
        }
        context.replyBulk(value)
    }

    /// All keys are read in one critical section, so MGET sees one state of the keyspace, as in Redis.
    static func mget(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        let arguments = context.arguments
        let version = context.respVersion
        context.out.writeRESPArrayHeader(arguments.count - 1)
        context.server.keyspace.withLock { keyspace in
            for index in 1..<arguments.count {
                let found = arguments[index].withUnsafeReadableBytes { key in
                    keyspace.withString(key, now: now) { context.out.writeRESPBulkString($0) }
                }
                if found == nil { context.out.writeRESPNull(version) }
            }
        }
    }

    static func mset(_ context: inout CommandContext, onlyIfNoneExist: Bool) throws(CommandError) {
        guard context.count % 2 == 1 else {
            throw .wrongArity(onlyIfNoneExist ? "msetnx" : "mset")
        }
        let now = context.now
        let arguments = context.arguments
        let stored: Bool = context.server.keyspace.withLock { keyspace in
            if onlyIfNoneExist {
                for index in stride(from: 1, to: arguments.count, by: 2)
                where arguments[index].withUnsafeReadableBytes({ keyspace.peek($0, now: now) }) != nil {
                    return false
                }
            }
            for index in stride(from: 1, to: arguments.count, by: 2) {
                arguments[index].withUnsafeReadableBytes { key in
                    arguments[index + 1].withUnsafeReadableBytes { keyspace.setString(key, $0, now: now) }
                }
            }
            return true
        }
        if onlyIfNoneExist { context.replyInteger(stored ? 1 : 0) } else { context.replyOK() }
    }

    static func append(_ context: inout CommandContext) throws(CommandError) {
        let suffix = context.arguments[2]
        let limit = context.server.currentConfiguration.protoMaxBulkLength
        let length: Int = try context.updateEntry(1) { entry throws(CommandError) in
            guard let existing = entry else {
                entry = Entry(value: .string(Array(suffix.readableBytesView)))
                return suffix.readableBytes
            }
            var bytes = try string(existing)
            guard bytes.count + suffix.readableBytes <= limit else { throw .stringTooLong }
            entry!.value = .string([])  // release the entry's reference so the append below does not copy
            bytes.append(contentsOf: suffix.readableBytesView)
            entry!.value = .string(bytes)
            entry!.stringEncoding = .raw
            return bytes.count
        }
        context.replyInteger(length)
    }

    static func strlen(_ context: inout CommandContext) throws(CommandError) {
        context.replyInteger(try context.withString(1) { _, value in value.count } ?? 0)
    }

    static func decrby(_ context: inout CommandContext) throws(CommandError) {
        let amount = try context.integer(2)
        guard amount != Int64.min else { throw CommandError("ERR decrement would overflow") }
        try incrementBy(&context, -amount)
    }

    static func incrementBy(_ context: inout CommandContext, _ amount: Int64) throws(CommandError) {
        // Read, add and write back in one lookup, parsing the stored digits in place and formatting the result
        // into a scratch buffer: no copies or arrays (this used to materialise the entry and two arrays per call).
        var result: Int64 = 0
        var failure: CommandError?
        try context.rewriteString(1, scratchCapacity: 24) { current, scratch in
            var value: Int64 = 0
            if let current {
                guard let parsed = RedisNumber.parseInteger(current) else {
                    failure = .notInteger
                    return nil
                }
                value = parsed
            }
            let (sum, overflow) = value.addingReportingOverflow(amount)
            guard !overflow else {
                failure = .overflow
                return nil
            }
            result = sum
            return RESPDecimalWriting.write(sum, into: scratch)
        }
        if let failure { throw failure }
        context.replyInteger(Int(result))
    }

    static func incrbyfloat(_ context: inout CommandContext) throws(CommandError) {
        guard let increment = context.withArgument(2, { RedisNumber.parseLongDouble($0) }) else {
            throw .notFloat
        }
        let bytes: [UInt8] = try context.updateEntry(1) { entry throws(CommandError) in
            var current: Float80 = 0
            if let existing = entry {
                let stored = try string(existing)
                guard let parsed = stored.withUnsafeBytes({ RedisNumber.parseLongDouble($0) }) else {
                    throw .notFloat
                }
                current = parsed
            }
            let sum = current + increment
            guard sum.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
            let bytes = RedisNumber.formatHumanFriendly(sum)
            if entry == nil {
                entry = Entry(value: .string(bytes), stringEncoding: .notInteger)
            } else {
                entry!.value = .string(bytes)
                entry!.stringEncoding = .notInteger
            }
            return bytes
        }
        context.replyBulk(bytes)
    }

    static func getrange(_ context: inout CommandContext) throws(CommandError) {
        var start = try context.integer(2)
        var end = try context.integer(3)
        let written = try context.withString(1) { out, bytes in
            let length = Int64(bytes.count)
            if start < 0 && end < 0 && start > end { return out.writeRESPBulkString([UInt8]()) }
            if start < 0 { start = length + start }
            if end < 0 { end = length + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= length { end = length - 1 }
            if start > end || length == 0 { return out.writeRESPBulkString([UInt8]()) }
            return out.writeRESPBulkString(UnsafeRawBufferPointer(rebasing: bytes[Int(start)...Int(end)]))
        }
        if written == nil { context.replyBulk([]) }
    }

    static func setrange(_ context: inout CommandContext) throws(CommandError) {
        let offset = try context.integer(2)
        guard offset >= 0 else { throw CommandError("ERR offset is out of range") }
        let patch = context.arguments[3]
        let limit = Int64(context.server.currentConfiguration.protoMaxBulkLength)
        let length: Int = try context.updateEntry(1) { entry throws(CommandError) in
            var bytes: [UInt8] = []
            if let existing = entry { bytes = try string(existing) }
            if patch.readableBytes == 0 { return bytes.count }
            guard offset <= limit - Int64(patch.readableBytes) else { throw .stringTooLong }
            let end = Int(offset) + patch.readableBytes
            if entry != nil { entry!.value = .string([]) }
            if bytes.count < end { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
            bytes.replaceSubrange(Int(offset)..<end, with: patch.readableBytesView)
            if entry == nil {
                entry = Entry(value: .string(bytes), stringEncoding: .raw)
            } else {
                entry!.value = .string(bytes)
                entry!.stringEncoding = .raw
            }
            return bytes.count
        }
        context.replyInteger(length)
    }
}

/// `SET`'s existence condition.
enum SetCondition {
    case always, ifNotExists, ifExists
}
