import NIOCore
import RoostCore
import RoostProtocol

// OBJECT ENCODING, FREQ, IDLETIME, REFCOUNT and HELP.

extension KeyCommands {
    /// Redis's `OBJ_SHARED_INTEGERS`: strings holding 0 to 9999 share one preallocated object.
    static let sharedIntegerLimit: Int64 = 10_000
    /// Redis's `OBJ_SHARED_REFCOUNT`, the reference count `OBJECT REFCOUNT` reports for a shared object.
    static let sharedReferenceCount = 2_147_483_647
    /// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
    static let embeddedStringLimit = 44
    /// Redis's LFU policies (they track no idle time).
    private static let lfuPolicies: Set<String> = ["allkeys-lfu", "volatile-lfu"]
    /// Policies whose per-key access counts `OBJECT FREQ` reports.
    private static let frequencyPolicies = lfuPolicies.union(["allkeys-tinylfu"])
    private static let lruOrLfuPolicies: Set<String> = ["allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu"]

    private static let policySwitchNote =
        "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."

    /// The encoding Redis would report for `entry`'s value (strings: see ``Entry/StringEncoding``).
    static func encodingName(_ entry: Entry) -> String {
        switch entry.value {
        case .string(let bytes):
            if entry.stringEncoding == .raw { return "raw" }
            if entry.stringEncoding == .automatic && RedisNumber.parseInteger(bytes) != nil { return "int" }
            return bytes.count <= embeddedStringLimit ? "embstr" : "raw"
        case .hash(let hash):
            return hash.encodingName
        case .list(let list):
            return list.encodingName
        case .set(let set):
            return set.encodingName
        case .sortedSet(let sortedSet):
            return sortedSet.encodingName
        }
    }

    /// `OBJECT ENCODING key`: the encoding name, or null for a missing key.
    static func objectEncoding(_ context: inout CommandContext) throws(CommandError) {
        guard let entry = peekCountingStatistics(context, 2) else { return context.replyNull() }
        context.out.writeRESPBulkString(encodingName(entry))
    }

    /// `OBJECT FREQ key`: null for a missing key, an error unless a policy that counts accesses is selected; the
    /// count is the policy's own (Redis's logarithmic LFU counter for the LFU policies, the sketch estimate for
    /// `allkeys-tinylfu`).
    static func objectFrequency(_ context: inout CommandContext) throws(CommandError) {
        guard peekCountingStatistics(context, 2) != nil else { return context.replyNull() }
        guard frequencyPolicies.contains(context.server.currentConfiguration.maxMemoryPolicy) else {
            throw CommandError(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " + policySwitchNote)
        }
        let frequency = context.withArgument(2) { key in
            context.server.keyspace.withLock { $0.accessFrequency(of: key) }
        }
        context.replyInteger(frequency ?? 0)
    }

    /// `OBJECT IDLETIME key`: whole seconds since the key was last accessed; null for a missing key; an error under
    /// an LFU policy.
    static func objectIdleTime(_ context: inout CommandContext) throws(CommandError) {
        guard let entry = peekCountingStatistics(context, 2) else { return context.replyNull() }
        guard !lfuPolicies.contains(context.server.currentConfiguration.maxMemoryPolicy) else {
            throw CommandError("ERR An LFU maxmemory policy is selected, idle time not tracked. " + policySwitchNote)
        }
        let idle = Keyspace.accessClock(context.now) &- entry.lastAccess
        context.replyInteger(Int(idle))
    }

    /// `OBJECT REFCOUNT key`: Redis's answer for the value. Roost shares no values, but Redis stores the integers 0
    /// to 9999 as shared objects (unless `maxmemory` is set with an LRU or LFU policy, which need per-key access
    /// data) and reports those as referenced 2147483647 times; everything else has one reference.
    static func objectReferenceCount(_ context: inout CommandContext) throws(CommandError) {
        guard let entry = peekCountingStatistics(context, 2) else { return context.replyNull() }
        let configuration = context.server.currentConfiguration
        let sharingAllowed =
            configuration.maxMemory == 0 || !lruOrLfuPolicies.contains(configuration.maxMemoryPolicy)
        var shared = false
        if sharingAllowed, encodingName(entry) == "int", case .string(let bytes) = entry.value,
            let integer = RedisNumber.parseInteger(bytes)
        {
            shared = integer >= 0 && integer < sharedIntegerLimit
        }
        context.replyInteger(shared ? sharedReferenceCount : 1)
    }

    /// `OBJECT HELP`, line for line as Redis 7.0 prints it (simple strings).
    static func objectHelp(_ context: inout CommandContext) throws(CommandError) {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
