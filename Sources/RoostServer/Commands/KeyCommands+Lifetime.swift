import NIOCore
import RoostCore
import RoostProtocol

// DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX and COPY.

extension KeyCommands {
    /// `DEL` and `UNLINK` (values are released inline either way: nothing in Roost is slow to free): the number
    /// of keys removed; a key named twice counts once.
    static func del(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        let arguments = context.arguments
        let removed = context.server.keyspace.withLock { keyspace in
            var removed = 0
            for index in 1..<arguments.count
            where arguments[index].withUnsafeReadableBytes({ keyspace.remove($0, now: now) }) {
                removed += 1
            }
            return removed
        }
        context.replyInteger(removed)
    }

    /// `EXISTS`: how many of the arguments name live keys; a key named twice counts twice. Does not touch.
    static func exists(_ context: inout CommandContext) throws(CommandError) {
        context.replyInteger(countLiveKeys(context, touching: false))
    }

    /// `TOUCH`: updates the access time of each key named; replies how many exist (duplicates count).
    static func touch(_ context: inout CommandContext) throws(CommandError) {
        context.replyInteger(countLiveKeys(context, touching: true))
    }

    /// Counts the arguments from index 1 on that name live keys, in one critical section, counting a keyspace hit
    /// or miss for each; `touching` also updates their access time.
    private static func countLiveKeys(_ context: CommandContext, touching: Bool) -> Int {
        let now = context.now
        let arguments = context.arguments
        return context.server.keyspace.withLock { keyspace in
            var found = 0
            for index in 1..<arguments.count {
                let live = arguments[index].withUnsafeReadableBytes { key in
                    touching ? keyspace.read(key, now: now) != nil : keyspace.peek(key, now: now) != nil
                }
                if live { found += 1 }
                if !touching {
                    // `read` counts for itself; `peek` does not.
                    if live { keyspace.statistics.keyspaceHits += 1 } else { keyspace.statistics.keyspaceMisses += 1 }
                }
            }
            return found
        }
    }

    /// `TYPE`: the value's type name as a simple string, `none` for a missing key.
    static func type(_ context: inout CommandContext) throws(CommandError) {
        let name = peekCountingStatistics(context, 1)?.value.typeName ?? "none"
        context.out.writeRESPSimpleString(name)
    }

    /// `RENAME` / `RENAMENX`: moves the entry (value, expiry and encoding) to the new name, replacing what was
    /// there (`RENAME`) or refusing to (`RENAMENX` replies 0). A missing source is an error even when both names
    /// are the same; renaming a key onto itself succeeds without change (`RENAMENX` replies 0).
    static func rename(_ context: inout CommandContext, onlyIfAbsent: Bool) throws(CommandError) {
        let now = context.now
        let source = context.bytes(1)
        let destination = context.bytes(2)
        let renamed: Bool = try context.server.keyspace.withLock {
            (keyspace: inout Keyspace) throws(CommandError) -> Bool in
            // Redis looks the source up for writing (which expires and touches it) before anything else.
            guard source.withUnsafeBytes({ keyspace.contains($0, now: now) }) else { throw .noSuchKey }
            if source == destination { return false }
            if onlyIfAbsent && destination.withUnsafeBytes({ keyspace.peek($0, now: now) }) != nil { return false }
            let moved: Entry? = keyspace.update(source, now: now) { entry in
                defer { entry = nil }
                return entry
            }
            guard let moved else { throw .noSuchKey }  // unreachable: the source was live a moment ago
            keyspace.set(destination, moved, now: now)
            return true
        }
        // A list or sorted set arriving under a key may serve clients blocked on it, as in Redis (the served
        // operation checks the type; a string there serves no one).
        if renamed { context.server.blocking.signal(destination) }
        if onlyIfAbsent {
            context.replyInteger(renamed ? 1 : 0)
        } else {
            context.replyOK()
        }
    }

    /// `COPY source destination [DB db] [REPLACE]`: copies the entry, expiry included, replying 1 if copied and
    /// 0 if the source is missing or the destination exists without `REPLACE`.
    ///
    /// Roost has one database: `DB 0` is accepted; any other index in `int` range fails as Redis fails for an
    /// index beyond `databases` ("DB index is out of range").
    static func copy(_ context: inout CommandContext) throws(CommandError) {
        var replace = false
        var index = 3
        while index < context.count {
            if context.argument(index, is: "REPLACE") {
                replace = true
            } else if context.argument(index, is: "DB"), index + 1 < context.count {
                let database = try context.integer(index + 1)
                guard database >= Int64(Int32.min), database <= Int64(Int32.max) else {
                    throw CommandError("ERR value is out of range, value must between -2147483648 and 2147483647")
                }
                guard database == 0 else { throw CommandError("ERR DB index is out of range") }
                index += 1
            } else {
                throw .syntax
            }
            index += 1
        }
        let source = context.bytes(1)
        let destination = context.bytes(2)
        guard source != destination else {
            throw CommandError("ERR source and destination objects are the same")
        }
        let now = context.now
        let copied = context.server.keyspace.withLock { keyspace -> Bool in
            guard let entry = keyspace.read(source, now: now) else { return false }
            if !replace && destination.withUnsafeBytes({ keyspace.peek($0, now: now) }) != nil { return false }
            keyspace.set(destination, entry, now: now)
            return true
        }
        if copied { context.server.blocking.signal(destination) }
        context.replyInteger(copied ? 1 : 0)
    }
}
