import NIOCore
import RoostCore
import RoostProtocol

// Per-field expiry (Redis 7.4): HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME,
// HPERSIST.

extension HashCommands {
    /// Redis's `HFE_MAX_ABS_TIME_MSEC`: field expiries are kept below 2^46 ms (year 4199).
    static let maximumFieldExpiry: Int64 = (1 << 46) - 1

    /// The condition option of `HEXPIRE` and its family.
    enum FieldExpiryCondition {
        case always, ifNone, ifSome, ifLater, ifEarlier
    }

    private static let keyRange = Command.KeyPositions.single

    static var expiryCommands: [Command] {
        let setters: [(String, String, ExpiryOption.Unit, Bool)] = [
            ("hexpire", "Set expiry for hash field using relative time to expire (seconds)", .seconds, false),
            (
                "hpexpire", "Set expiry for hash field using relative time to expire (milliseconds)", .milliseconds,
                false
            ),
            ("hexpireat", "Set expiry for hash field using an absolute Unix timestamp (seconds)", .seconds, true),
            (
                "hpexpireat", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)",
                .milliseconds, true
            ),
        ]
        let readers: [(String, String, ExpiryOption.Unit, Bool)] = [
            ("httl", "Returns the TTL in seconds of a hash field.", .seconds, false),
            ("hpttl", "Returns the TTL in milliseconds of a hash field.", .milliseconds, false),
            (
                "hexpiretime", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", .seconds,
                true
            ),
            (
                "hpexpiretime", "Returns the expiration time of a hash field as a Unix timestamp, in msec.",
                .milliseconds, true
            ),
        ]
        let complexity = "O(N) where N is the number of specified fields"
        return setters.map { name, summary, unit, absolute in
            Command(
                name, arity: -6, flags: [.write, .fast], keys: keyRange, group: .hash, since: "7.4.0", summary: summary,
                complexity: complexity,
                handler: { context throws(CommandError) in
                    try setFieldExpiry(&context, name: name, unit: unit, absolute: absolute)
                })
        }
            + readers.map { name, summary, unit, absolute in
                Command(
                    name, arity: -5, flags: [.readonly, .fast], keys: keyRange, group: .hash, since: "7.4.0",
                    summary: summary, complexity: complexity,
                    handler: { context throws(CommandError) in
                        try readFieldExpiry(&context, unit: unit, absolute: absolute)
                    })
            } + [
                Command(
                    "hpersist", arity: -5, flags: [.write, .fast], keys: keyRange, group: .hash, since: "7.4.0",
                    summary: "Removes the expiration time for each specified field", complexity: complexity,
                    handler: hpersist)
            ]
    }

    /// Parses `FIELDS numfields field …` starting at argument `index` (the `FIELDS` keyword): the range of the
    /// field arguments, or Redis 7.4's errors.
    static func fieldArguments(_ context: CommandContext, from index: Int) throws(CommandError) -> Range<Int> {
        guard index < context.count, context.argument(index, is: "FIELDS") else {
            throw CommandError("ERR Mandatory argument FIELDS is missing or not at the right position")
        }
        let numberError = CommandError("ERR Parameter `numFields` should be greater than 0")
        guard index + 1 < context.count else { throw numberError }
        let count: Int64
        do { count = try context.integer(index + 1) } catch { throw numberError }
        guard count >= 1 else { throw numberError }
        guard count == Int64(context.count - index - 2) else {
            throw CommandError("ERR The `numfields` parameter must match the number of arguments")
        }
        return (index + 2)..<context.count
    }

    /// `HEXPIRE key seconds [NX|XX|GT|LT] FIELDS numfields field …` and its millisecond and absolute forms. Replies
    /// one code per field: -2 no such field (or no such key), 0 the condition was not met, 1 set, 2 deleted (the
    /// time is not in the future). A field without expiry counts as expiring never for `GT` and `LT`.
    static func setFieldExpiry(
        _ context: inout CommandContext, name: String, unit: ExpiryOption.Unit, absolute: Bool
    ) throws(CommandError) {
        // Redis looks the key up (and checks its type) before it parses anything.
        _ = try context.withHash(reading: false) { _, _ throws(CommandError) in () }
        var amount = try context.integer(2)
        guard amount >= 0 else { throw CommandError("ERR invalid expire time, must be >= 0") }
        let invalid = CommandError.invalidExpire(name)
        if unit == .seconds {
            guard amount <= maximumFieldExpiry / 1000 else { throw invalid }
            amount *= 1000
        }
        let base = absolute ? 0 : context.now
        guard amount <= maximumFieldExpiry - base else { throw invalid }
        let expireAt = amount + base
        var condition = FieldExpiryCondition.always
        var fieldsAt = 3
        if context.count > 3 {
            if context.argument(3, is: "NX") {
                condition = .ifNone
            } else if context.argument(3, is: "XX") {
                condition = .ifSome
            } else if context.argument(3, is: "GT") {
                condition = .ifLater
            } else if context.argument(3, is: "LT") {
                condition = .ifEarlier
            }
            if condition != .always { fieldsAt = 4 }
        }
        let fields = try fieldArguments(context, from: fieldsAt)
        let arguments = context.arguments
        let now = context.now
        try context.withHash(reading: false) { hash, out throws(CommandError) in
            out.writeRESPArrayHeader(fields.count)
            for index in fields {
                guard hash != nil, let position = arguments[index].withUnsafeReadableBytes({ hash!.position(of: $0) })
                else {
                    out.writeRESPInteger(-2)
                    continue
                }
                let current = hash!.fields[position].expireAt
                let allowed: Bool
                switch condition {
                case .always: allowed = true
                case .ifNone: allowed = current == Entry.noExpiry
                case .ifSome: allowed = current != Entry.noExpiry
                case .ifLater: allowed = current != Entry.noExpiry && expireAt > current
                case .ifEarlier: allowed = current == Entry.noExpiry || expireAt < current
                }
                guard allowed else {
                    out.writeRESPInteger(0)
                    continue
                }
                if expireAt <= now {
                    hash!.remove(at: position)
                    out.writeRESPInteger(2)
                } else {
                    hash!.setExpiry(at: position, expireAt)
                    out.writeRESPInteger(1)
                }
            }
        }
    }

    /// `HTTL`, `HPTTL`, `HEXPIRETIME`, `HPEXPIRETIME key FIELDS numfields field …`: per field -2 (no such field or
    /// key), -1 (no expiry), else the time left (seconds rounded up, as Redis does) or the absolute expiry.
    static func readFieldExpiry(
        _ context: inout CommandContext, unit: ExpiryOption.Unit, absolute: Bool
    ) throws(CommandError) {
        _ = try context.withHash(reading: true) { _, _ throws(CommandError) in () }
        let fields = try fieldArguments(context, from: 2)
        let arguments = context.arguments
        let base = absolute ? 0 : context.now
        try context.withHash(reading: false) { hash, out throws(CommandError) in
            out.writeRESPArrayHeader(fields.count)
            for index in fields {
                guard let hash, let position = arguments[index].withUnsafeReadableBytes({ hash.position(of: $0) })
                else {
                    out.writeRESPInteger(-2)
                    continue
                }
                let expireAt = hash.fields[position].expireAt
                if expireAt == Entry.noExpiry {
                    out.writeRESPInteger(-1)
                } else if unit == .seconds {
                    out.writeRESPInteger((expireAt + 999 - base) / 1000)
                } else {
                    out.writeRESPInteger(expireAt - base)
                }
            }
        }
    }

    /// `HPERSIST key FIELDS numfields field …`: per field -2 (no such field or key), -1 (no expiry), 1 (removed).
    static func hpersist(_ context: inout CommandContext) throws(CommandError) {
        _ = try context.withHash(reading: false) { _, _ throws(CommandError) in () }
        let fields = try fieldArguments(context, from: 2)
        let arguments = context.arguments
        try context.withHash(reading: false) { hash, out throws(CommandError) in
            out.writeRESPArrayHeader(fields.count)
            for index in fields {
                guard hash != nil, let position = arguments[index].withUnsafeReadableBytes({ hash!.position(of: $0) })
                else {
                    out.writeRESPInteger(-2)
                    continue
                }
                if hash!.fields[position].expireAt == Entry.noExpiry {
                    out.writeRESPInteger(-1)
                } else {
                    hash!.setExpiry(at: position, Entry.noExpiry)
                    out.writeRESPInteger(1)
                }
            }
        }
    }
}
