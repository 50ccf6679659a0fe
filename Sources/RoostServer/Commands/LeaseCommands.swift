import NIOCore
import RoostCore
import RoostProtocol

/// Roost's lease commands: memcached's meta-protocol leases (`mg … N/R`, `ms`, `md … I`) over RESP, with the same
/// rules (``ItemLease``) on the same items, so a RESP client and a memcached client contend for one lease. They let
/// clients load a value single-flight across processes: one caller recomputes a missing, stale or expiring value
/// while the others wait briefly or serve the old one. See docs/LEASES.md.
enum LeaseCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "lease.get", arity: -3, flags: [.write, .fast], keys: .single, group: .string, since: "roost",
                summary: "Returns the value of a key with its lease status, creating a placeholder and handing the "
                    + "lease to one caller when the key is missing, stale or (with RECACHE) about to expire.",
                handler: leaseGet),
            Command(
                "lease.set", arity: -3, flags: [.write, .denyOOM], keys: .single, group: .string, since: "roost",
                summary: "Stores the value a lease holder computed (only if the CAS still matches, with CAS), clearing "
                    + "the lease marks.",
                handler: leaseSet),
            Command(
                "lease.invalidate", arity: -2, flags: [.write, .fast], keys: .single, group: .string, since: "roost",
                summary: "Marks a key's value stale instead of deleting it: it is still served, and one reader gets "
                    + "the lease to recompute it.",
                handler: leaseInvalidate),
        ]
    }

    static let notPositive = CommandError("ERR value is out of range, must be positive")

    /// `LEASE.GET key lease-ms [RECACHE seconds]`: replies `[value, status, cas, ttl-ms]` (see
    /// ``ItemLease/Status``); value is null for `win` and `wait`, ttl-ms is -1 for a key without expiry.
    static func leaseGet(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        let lease = try context.integer(2)
        guard lease > 0, lease <= Int64.max - now else { throw .invalidExpire("lease.get") }
        var recacheThreshold: Int64?
        var index = 3
        while index < context.count {
            guard context.argument(index, is: "RECACHE"), index + 1 < context.count else { throw .syntax }
            let seconds = try context.integer(index + 1)
            guard seconds > 0 else { throw notPositive }
            recacheThreshold = seconds <= (Int64.max - now) / 1000 ? now + seconds * 1000 : Int64.max
            index += 2
        }
        let (server, key, version) = (context.server, context.arguments[1], context.respVersion)
        _ = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace in
                keyspace.leaseRead(rawKey, now: now, touch: true, vivifyExpireAt: now + lease) {
                    value, expireAt, metadata, created in
                    let recacheDue = recacheThreshold.map { ItemLease.isRecacheDue(expireAt: expireAt, threshold: $0) }
                    let won = ItemLease.wins(metadata, created: created, recacheDue: recacheDue ?? false)
                    let status = ItemLease.status(metadata, won: won)
                    context.out.writeRESPArrayHeader(4)
                    if status.hasValue {
                        context.out.writeRESPBulkString(value)
                    } else {
                        context.out.writeRESPNull(version)
                    }
                    context.out.writeRESPBulkString(status.rawValue)
                    context.out.writeRESPInteger(Int64(truncatingIfNeeded: metadata.cas))
                    context.out.writeRESPInteger(expireAt == Entry.noExpiry ? -1 : expireAt - now)
                    return ((), expireAt, won)
                }
            }
        }
    }

    /// `LEASE.SET key value [EX seconds | PX milliseconds | EXAT … | PXAT …] [CAS cas]`: stores the value (client
    /// flags 0, no expiry unless given) with fresh metadata and replies its new CAS; with `CAS`, only when the key
    /// exists with that CAS, else replies null.
    static func leaseSet(_ context: inout CommandContext) throws(CommandError) {
        var expiry = ExpiryOption.none
        var compareCAS: UInt64?
        var index = 3
        while index < context.count {
            if context.argument(index, is: "CAS"), index + 1 < context.count {
                let cas = try context.integer(index + 1)
                guard cas >= 0 else { throw .notInteger }
                compareCAS = UInt64(cas)
                index += 2
            } else if let parsed = try ExpiryOption.parse(&index, context, current: expiry, allowPersist: false),
                parsed != .keepTTL
            {
                expiry = parsed
            } else {
                throw .syntax
            }
        }
        let now = context.now
        let expireAt = try expiry.absolute(now: now, command: "lease.set") ?? Entry.noExpiry
        let (server, key, value) = (context.server, context.arguments[1], context.arguments[2])
        let cas: UInt64? = key.withUnsafeReadableBytes { rawKey in
            value.withUnsafeReadableBytes { rawValue in
                server.keyspace.withLock { keyspace -> UInt64? in
                    if let compareCAS {
                        let current = keyspace.withItem(rawKey, now: now, touch: false) { $2.cas }
                        guard current == compareCAS else { return nil }
                    }
                    return keyspace.storeItem(rawKey, value: rawValue, expireAt: expireAt, clientFlags: 0, now: now)
                }
            }
        }
        if let cas {
            context.out.writeRESPInteger(Int64(truncatingIfNeeded: cas))
        } else {
            context.replyNull()
        }
    }

    /// `LEASE.INVALIDATE key [TTL seconds]`: marks the item stale (new CAS, lease available again, and that TTL
    /// when given); replies 1, or 0 when the key does not exist.
    static func leaseInvalidate(_ context: inout CommandContext) throws(CommandError) {
        let now = context.now
        var newExpiry: Int64?
        var index = 2
        while index < context.count {
            guard context.argument(index, is: "TTL"), index + 1 < context.count else { throw .syntax }
            let seconds = try context.integer(index + 1)
            let ttl = ExpiryOption.relative(seconds, unit: .seconds)
            newExpiry = try ttl.absolute(now: now, command: "lease.invalidate")
            index += 2
        }
        let (server, key) = (context.server, context.arguments[1])
        let outcome = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { $0.invalidateItem(rawKey, now: now, expireAt: newExpiry) }
        }
        context.replyInteger(outcome == .invalidated ? 1 : 0)
    }
}
