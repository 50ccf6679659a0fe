import NIOCore
import RoostCore
import RoostProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// KEYS, SCAN and RANDOMKEY.

extension KeyCommands {
    /// `KEYS pattern`: every live key matching the glob (Redis's `stringmatchlen`; `*` alone matches every key,
    /// the empty one included). Expired keys are skipped but not reclaimed, as in Redis 7.0.
    static func keys(_ context: inout CommandContext) throws(CommandError) {
        let pattern = context.bytes(1)
        let matchesAll = pattern == [UInt8(ascii: "*")]
        let now = context.now
        let keys = context.server.keyspace.withLock { keyspace in
            var keys: [[UInt8]] = []
            keyspace.forEach(now: now) { key, _ in
                if matchesAll || Glob.matches(pattern: pattern, key) { keys.append(key) }
            }
            return keys
        }
        context.out.writeRESPArrayHeader(keys.count)
        for key in keys { context.out.writeRESPBulkString(key) }
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    ///
    /// One step of ``Keyspace/scan(cursor:count:_:)`` (a hash-order cursor: every key present for the whole
    /// iteration is returned at least once, however the table grows or shrinks in between), then Redis's filters in
    /// Redis's order: pattern, type (case-insensitive; a lookup that counts a hit or miss), expiry. Expired keys met
    /// are reclaimed and never returned. Replies `[next cursor as a bulk string, [keys]]`.
    static func scan(_ context: inout CommandContext) throws(CommandError) {
        guard let cursor = context.withArgument(1, { parseCursor($0) }) else {
            throw CommandError("ERR invalid cursor")
        }
        var count = 10
        var pattern: [UInt8]? = nil
        var typeName: String? = nil
        var index = 2
        while index < context.count {
            let hasValue = index + 1 < context.count
            if context.argument(index, is: "COUNT"), hasValue {
                let requested = try context.integer(index + 1)
                guard requested >= 1 else { throw .syntax }
                // The scan visits up to ten buckets per requested key; cap so that budget cannot overflow.
                count = Int(min(requested, Int64(Int.max / 16)))
            } else if context.argument(index, is: "MATCH"), hasValue {
                let bytes = context.bytes(index + 1)
                pattern = bytes == [UInt8(ascii: "*")] ? nil : bytes
            } else if context.argument(index, is: "TYPE"), hasValue {
                typeName = context.string(index + 1).lowercased()
            } else {
                throw .syntax
            }
            index += 2
        }
        let now = context.now
        let (next, keys) = context.server.keyspace.withLock { keyspace -> (UInt64, [[UInt8]]) in
            var candidates: [([UInt8], Entry)] = []
            let next = keyspace.scan(cursor: cursor, count: count) { key, entry in candidates.append((key, entry)) }
            var keys: [[UInt8]] = []
            keys.reserveCapacity(candidates.count)
            for (key, entry) in candidates {
                if let pattern, !Glob.matches(pattern: pattern, key) { continue }
                let expired = entry.isExpired(at: now)
                if let typeName {
                    if expired {
                        keyspace.statistics.keyspaceMisses += 1
                    } else {
                        keyspace.statistics.keyspaceHits += 1
                    }
                    if !expired && entry.value.typeName != typeName { continue }
                }
                if expired {
                    keyspace.remove(key, now: now)  // counts the expiry
                    continue
                }
                keys.append(key)
            }
            return (next, keys)
        }
        context.out.writeRESPArrayHeader(2)
        context.out.writeRESPBulkString(String(next))
        context.out.writeRESPArrayHeader(keys.count)
        for key in keys { context.out.writeRESPBulkString(key) }
    }

    /// Parses a `SCAN` cursor as Redis's `parseScanCursorOrReply` does with C's `strtoul`: the text up to the first
    /// NUL, no leading white space, an optional sign (a `-` negates modulo 2^64), decimal digits, nothing after
    /// them, no overflow. The empty string is cursor 0.
    static func parseCursor(_ argument: UnsafeRawBufferPointer) -> UInt64? {
        let text = argument.prefix { $0 != 0 }
        guard let first = text.first else { return 0 }
        if isspace(Int32(first)) != 0 { return nil }
        var digits = text[...]
        var negative = false
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return negative ? 0 &- value : value
    }

    /// `RANDOMKEY`: a random live key, or null when the keyspace is empty.
    static func randomkey(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        let key = context.server.keyspace.withLock { keyspace in
            var generator = SystemRandomNumberGenerator()
            return keyspace.randomKey(now: now, using: &generator)
        }
        context.replyBulk(key)
    }

    /// The options of `HSCAN`/`SSCAN`/`ZSCAN key cursor [MATCH pattern] [COUNT count]` (and `HSCAN`'s `NOVALUES` when
    /// `allowsNoValues`), with Redis's errors: the cursor, the count (at least 1), the pattern (nil for none or
    /// `*`), and whether values are wanted.
    static func aggregateScanOptions(_ context: inout CommandContext, allowsNoValues: Bool = false)
        throws(CommandError) -> (cursor: UInt64, count: Int, pattern: [UInt8]?, withValues: Bool)
    {
        guard let cursor = context.withArgument(2, { KeyCommands.parseCursor($0) }) else {
            throw CommandError("ERR invalid cursor")
        }
        var count = 10
        var pattern: [UInt8]? = nil
        var withValues = true
        var index = 3
        while index < context.count {
            let hasValue = index + 1 < context.count
            if context.argument(index, is: "COUNT"), hasValue {
                let requested = try context.integer(index + 1)
                guard requested >= 1 else { throw .syntax }
                count = Int(min(requested, Int64(Int.max / 16)))
                index += 2
            } else if context.argument(index, is: "MATCH"), hasValue {
                let bytes = context.bytes(index + 1)
                pattern = bytes == [UInt8(ascii: "*")] ? nil : bytes
                index += 2
            } else if allowsNoValues, context.argument(index, is: "NOVALUES") {
                withValues = false
                index += 1
            } else {
                throw .syntax
            }
        }
        return (cursor, count, pattern, withValues)
    }
}
