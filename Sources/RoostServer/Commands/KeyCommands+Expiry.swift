import NIOCore
import RoostCore
import RoostProtocol

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.

extension KeyCommands {
    /// How a command states or reports a time: relative to now or absolute (Unix time), in seconds or milliseconds.
    enum TimeForm {
        case relativeSeconds, relativeMilliseconds, absoluteSeconds, absoluteMilliseconds

        var isSeconds: Bool { self == .relativeSeconds || self == .absoluteSeconds }
        var isAbsolute: Bool { self == .absoluteSeconds || self == .absoluteMilliseconds }

        /// The command's name, for Redis's "invalid expire time in '…' command" error.
        var expireCommandName: String {
            switch self {
            case .relativeSeconds: "expire"
            case .relativeMilliseconds: "pexpire"
            case .absoluteSeconds: "expireat"
            case .absoluteMilliseconds: "pexpireat"
            }
        }
    }

    /// The `NX` / `XX` / `GT` / `LT` conditions of the `EXPIRE` family (Redis 7.0).
    struct ExpireCondition: OptionSet {
        let rawValue: UInt8
        static let onlyWithoutExpiry = ExpireCondition(rawValue: 1 << 0)  // NX
        static let onlyWithExpiry = ExpireCondition(rawValue: 1 << 1)  // XX
        static let onlyIfLater = ExpireCondition(rawValue: 1 << 2)  // GT
        static let onlyIfEarlier = ExpireCondition(rawValue: 1 << 3)  // LT

        /// Parses the options from argument 3 on, with Redis's errors and their order: an unknown option first,
        /// then the incompatible pairs.
        static func parse(_ context: CommandContext) throws(CommandError) -> ExpireCondition {
            var condition: ExpireCondition = []
            for index in 3..<max(context.count, 3) {
                if context.argument(index, is: "NX") {
                    condition.insert(.onlyWithoutExpiry)
                } else if context.argument(index, is: "XX") {
                    condition.insert(.onlyWithExpiry)
                } else if context.argument(index, is: "GT") {
                    condition.insert(.onlyIfLater)
                } else if context.argument(index, is: "LT") {
                    condition.insert(.onlyIfEarlier)
                } else {
                    throw CommandError("ERR Unsupported option \(unsupportedOptionText(context.arguments[index]))")
                }
            }
            if condition.contains(.onlyWithoutExpiry) && condition.count > 1 {
                throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
            }
            if condition.contains([.onlyIfLater, .onlyIfEarlier]) {
                throw CommandError("ERR GT and LT options at the same time are not compatible")
            }
            return condition
        }

        private var count: Int { rawValue.nonzeroBitCount }

        /// Whether a key whose expiry is `current` (``Entry/noExpiry`` for none) may get the expiry `when`.
        /// A key without a time to live counts as expiring at infinity for `GT` and `LT`.
        func allows(current: Int64, when: Int64) -> Bool {
            let hasExpiry = current != Entry.noExpiry
            if contains(.onlyWithoutExpiry) && hasExpiry { return false }
            if contains(.onlyWithExpiry) && !hasExpiry { return false }
            if contains(.onlyIfLater) && (!hasExpiry || when <= current) { return false }
            if contains(.onlyIfEarlier) && hasExpiry && when >= current { return false }
            return true
        }
    }

    /// The option as Redis's `%s` prints it: the bytes up to the first NUL.
    private static func unsupportedOptionText(_ argument: ByteBuffer) -> String {
        let bytes = argument.readableBytesView
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT` and `PEXPIREAT`: 1 if the expiry was set (or the key deleted because the
    /// time is already past), 0 if the key is missing or a condition refused it. Negative times are allowed (they
    /// delete the key); overflow in unit conversion or when adding the current time is an error.
    static func expire(_ context: inout CommandContext, _ form: TimeForm) throws(CommandError) {
        let condition = try ExpireCondition.parse(context)
        var when = try context.integer(2)
        let invalid = CommandError.invalidExpire(form.expireCommandName)
        if form.isSeconds {
            guard when <= Int64.max / 1000, when >= Int64.min / 1000 else { throw invalid }
            when *= 1000
        }
        let now = context.now
        if !form.isAbsolute {
            guard when <= Int64.max - now else { throw invalid }
            when += now
        }
        let applied: Bool = try context.updateEntry(1) { entry throws(CommandError) in
            guard let current = entry?.expireAt else { return false }
            guard condition.allows(current: current, when: when) else { return false }
            if when <= now {
                entry = nil
            } else {
                entry!.expireAt = when
            }
            return true
        }
        context.replyInteger(applied ? 1 : 0)
    }

    /// `TTL`, `PTTL`, `EXPIRETIME` and `PEXPIRETIME`: -2 for a missing key, -1 for a key without expiry, else the
    /// remaining time (never negative) or the absolute expiry; seconds are rounded as Redis rounds them,
    /// `(ms + 500) / 1000`.
    static func timeToLive(_ context: inout CommandContext, _ form: TimeForm) {
        guard let entry = peekCountingStatistics(context, 1) else { return context.replyInteger(-2) }
        guard entry.hasExpiry else { return context.replyInteger(-1) }
        let milliseconds = form.isAbsolute ? entry.expireAt : max(entry.expireAt - context.now, 0)
        // `milliseconds` is never negative; split the rounding so an expiry near `Int64.max` cannot overflow (Redis
        // prints the mathematically rounded value there too).
        let seconds = milliseconds / 1000 + (milliseconds % 1000 + 500) / 1000
        context.out.writeRESPInteger(form.isSeconds ? seconds : milliseconds)
    }

    /// `PERSIST`: 1 if a time to live was removed, 0 if the key is missing or had none.
    static func persist(_ context: inout CommandContext) throws(CommandError) {
        let removed: Bool = try context.updateEntry(1) { entry throws(CommandError) in
            guard let current = entry, current.hasExpiry else { return false }
            entry!.expireAt = Entry.noExpiry
            return true
        }
        context.replyInteger(removed ? 1 : 0)
    }
}
