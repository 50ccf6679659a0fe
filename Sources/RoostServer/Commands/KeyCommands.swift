import NIOCore
import RoostCore
import RoostProtocol

/// The generic key commands (Redis's `@keyspace` group): deleting, testing, renaming and copying keys, their time
/// to live, iteration (`KEYS`, `SCAN`, `RANDOMKEY`) and `OBJECT` introspection.
///
/// Handlers live by concern in `KeyCommands+Lifetime.swift`, `KeyCommands+Expiry.swift`, `KeyCommands+Scan.swift`
/// and `KeyCommands+Object.swift`; this file holds the table and the lookups they share.
///
/// Lookups follow Redis's flags: read commands that must not change a key's access time (`EXISTS`, `TYPE`, `TTL`,
/// `OBJECT`, …; Redis's `LOOKUP_NOTOUCH`) peek but still count a keyspace hit or miss; write commands go through
/// ``Keyspace/update(_:now:_:)``, which touches the key and counts nothing, as Redis's `lookupKeyWrite` does.
enum KeyCommands {
    private static let allKeys = KeyPositions(first: 1, last: -1, step: 1)
    private static let sourceAndDestination = KeyPositions(first: 1, last: 2, step: 1)
    private static let objectKey = KeyPositions(first: 2, last: 2, step: 1)
    private typealias KeyPositions = Command.KeyPositions

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "del", arity: -2, flags: [.write], keys: allKeys, group: .generic, since: "1.0.0",
                summary: "Delete a key", complexity: "O(N) where N is the number of keys that will be removed.",
                handler: del),
            Command(
                "unlink", arity: -2, flags: [.write, .fast], keys: allKeys, group: .generic, since: "4.0.0",
                summary:
                    "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
                complexity: "O(1) for each key removed regardless of its size.", handler: del),
            Command(
                "exists", arity: -2, flags: [.readonly, .fast], keys: allKeys, group: .generic, since: "1.0.0",
                summary: "Determine if a key exists", complexity: "O(N) where N is the number of keys to check.",
                handler: exists),
            Command(
                "touch", arity: -2, flags: [.readonly, .fast], keys: allKeys, group: .generic, since: "3.2.1",
                summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
                complexity: "O(N) where N is the number of keys that will be touched.", handler: touch),
            Command(
                "type", arity: 2, flags: [.readonly, .fast], keys: .single, group: .generic, since: "1.0.0",
                summary: "Determine the type stored at key", handler: type),
            Command(
                "expire", arity: -3, flags: [.write, .fast], keys: .single, group: .generic, since: "1.0.0",
                summary: "Set a key's time to live in seconds",
                handler: { context throws(CommandError) in try expire(&context, .relativeSeconds) }),
            Command(
                "pexpire", arity: -3, flags: [.write, .fast], keys: .single, group: .generic, since: "2.6.0",
                summary: "Set a key's time to live in milliseconds",
                handler: { context throws(CommandError) in try expire(&context, .relativeMilliseconds) }),
            Command(
                "expireat", arity: -3, flags: [.write, .fast], keys: .single, group: .generic, since: "1.2.0",
                summary: "Set the expiration for a key as a UNIX timestamp",
                handler: { context throws(CommandError) in try expire(&context, .absoluteSeconds) }),
            Command(
                "pexpireat", arity: -3, flags: [.write, .fast], keys: .single, group: .generic, since: "2.6.0",
                summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
                handler: { context throws(CommandError) in try expire(&context, .absoluteMilliseconds) }),
            Command(
                "ttl", arity: 2, flags: [.readonly, .fast], keys: .single, group: .generic, since: "1.0.0",
                summary: "Get the time to live for a key in seconds",
                handler: { context in timeToLive(&context, .relativeSeconds) }),
            Command(
                "pttl", arity: 2, flags: [.readonly, .fast], keys: .single, group: .generic, since: "2.6.0",
                summary: "Get the time to live for a key in milliseconds",
                handler: { context in timeToLive(&context, .relativeMilliseconds) }),
            Command(
                "expiretime", arity: 2, flags: [.readonly, .fast], keys: .single, group: .generic, since: "7.0.0",
                summary: "Get the expiration Unix timestamp for a key",
                handler: { context in timeToLive(&context, .absoluteSeconds) }),
            Command(
                "pexpiretime", arity: 2, flags: [.readonly, .fast], keys: .single, group: .generic, since: "7.0.0",
                summary: "Get the expiration Unix timestamp for a key in milliseconds",
                handler: { context in timeToLive(&context, .absoluteMilliseconds) }),
            Command(
                "persist", arity: 2, flags: [.write, .fast], keys: .single, group: .generic, since: "2.2.0",
                summary: "Remove the expiration from a key", handler: persist),
            Command(
                "keys", arity: 2, flags: [.readonly], group: .generic, since: "1.0.0",
                summary: "Find all keys matching the given pattern",
                complexity: "O(N) with N being the number of keys in the database, under the assumption that the key "
                    + "names in the database and the given pattern have limited length.",
                handler: keys),
            Command(
                "scan", arity: -2, flags: [.readonly], group: .generic, since: "2.8.0",
                summary: "Incrementally iterate the keys space",
                complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
                    + "the cursor to return back to 0. N is the number of elements inside the collection.",
                handler: scan),
            Command(
                "randomkey", arity: 1, flags: [.readonly], group: .generic, since: "1.0.0",
                summary: "Return a random key from the keyspace", handler: randomkey),
            Command(
                "rename", arity: 3, flags: [.write], keys: sourceAndDestination, group: .generic, since: "1.0.0",
                summary: "Rename a key",
                handler: { context throws(CommandError) in try rename(&context, onlyIfAbsent: false) }),
            Command(
                "renamenx", arity: 3, flags: [.write, .fast], keys: sourceAndDestination, group: .generic,
                since: "1.0.0", summary: "Rename a key, only if the new key does not exist",
                handler: { context throws(CommandError) in try rename(&context, onlyIfAbsent: true) }),
            Command(
                "copy", arity: -3, flags: [.write, .denyOOM], keys: sourceAndDestination, group: .generic,
                since: "6.2.0", summary: "Copy a key",
                complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string "
                    + "values.",
                handler: copy),
            Command(
                "object", arity: -2, group: .generic, since: "2.2.3",
                summary: "A container for object introspection commands", complexity: "Depends on subcommand.",
                subcommands: [
                    Command(
                        "encoding", parent: "object", arity: 3, flags: [.readonly], keys: objectKey, group: .generic,
                        since: "2.2.3", summary: "Inspect the internal encoding of a Redis object",
                        handler: objectEncoding),
                    Command(
                        "freq", parent: "object", arity: 3, flags: [.readonly], keys: objectKey, group: .generic,
                        since: "4.0.0", summary: "Get the logarithmic access frequency counter of a Redis object",
                        handler: objectFrequency),
                    Command(
                        "idletime", parent: "object", arity: 3, flags: [.readonly], keys: objectKey, group: .generic,
                        since: "2.2.3", summary: "Get the time since a Redis object was last accessed",
                        handler: objectIdleTime),
                    Command(
                        "refcount", parent: "object", arity: 3, flags: [.readonly], keys: objectKey, group: .generic,
                        since: "2.2.3", summary: "Get the number of references to the value of the key",
                        handler: objectReferenceCount),
                    Command(
                        "help", parent: "object", arity: 2, flags: [.loading, .stale], group: .generic, since: "6.2.0",
                        summary: "Show helpful text about the different subcommands", handler: objectHelp),
                ]),
        ]
    }

    // MARK: Shared lookups

    /// The entry of the key in argument `index` without touching its access time, counting a keyspace hit or miss
    /// (Redis's `lookupKeyReadWithFlags(…, LOOKUP_NOTOUCH)`, used by `EXISTS`, `TYPE`, `TTL` and `OBJECT`).
    static func peekCountingStatistics(_ context: CommandContext, _ index: Int) -> Entry? {
        let now = context.now
        return context.withArgument(index) { key in
            context.server.keyspace.withLock { keyspace in
                let entry = keyspace.peek(key, now: now)
                if entry == nil {
                    keyspace.statistics.keyspaceMisses += 1
                } else {
                    keyspace.statistics.keyspaceHits += 1
                }
                return entry
            }
        }
    }
}
