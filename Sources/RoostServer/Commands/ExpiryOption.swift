import RoostCore

/// The expiry options shared by `SET` and `GETEX`: `EX`, `PX`, `EXAT`, `PXAT`, `KEEPTTL` and `PERSIST`.
enum ExpiryOption: Equatable {
    enum Unit { case seconds, milliseconds }

    case none
    case keepTTL
    case persist
    case relative(Int64, unit: Unit)
    case absolute(Int64, unit: Unit)

    /// Parses the option at `index` (advancing past it and its argument), or returns nil if the argument is not
    /// an expiry option. Two expiry options together are a syntax error, as in Redis.
    static func parse(
        _ index: inout Int,
        _ context: CommandContext,
        current: ExpiryOption,
        allowPersist: Bool
    ) throws(CommandError) -> ExpiryOption? {
        let timed: (Bool, Unit)?
        if context.argument(index, is: "EX") {
            timed = (false, .seconds)
        } else if context.argument(index, is: "PX") {
            timed = (false, .milliseconds)
        } else if context.argument(index, is: "EXAT") {
            timed = (true, .seconds)
        } else if context.argument(index, is: "PXAT") {
            timed = (true, .milliseconds)
        } else if !allowPersist && context.argument(index, is: "KEEPTTL") {
            guard current == .none || current == .keepTTL else { throw .syntax }
            index += 1
            return .keepTTL
        } else if allowPersist && context.argument(index, is: "PERSIST") {
            guard current == .none || current == .persist else { throw .syntax }
            index += 1
            return .persist
        } else {
            return nil
        }
        guard let (absolute, unit) = timed, index + 1 < context.count else { throw .syntax }
        // Repeating the same option is allowed (the last value wins); mixing different ones is not.
        switch current {
        case .none: break
        case .relative(_, let u) where !absolute && u == unit: break
        case .absolute(_, let u) where absolute && u == unit: break
        default: throw .syntax
        }
        let amount = try context.integer(index + 1)
        index += 2
        return absolute ? .absolute(amount, unit: unit) : .relative(amount, unit: unit)
    }

    /// The absolute expiry in Unix milliseconds for a timed option, nil for the others; rejects non-positive and
    /// overflowing times with Redis's "invalid expire time" error.
    func absolute(now: Int64, command: String) throws(CommandError) -> Int64? {
        let amount: Int64
        let unit: Unit
        let isAbsolute: Bool
        switch self {
        case .none, .keepTTL, .persist: return nil
        case .relative(let value, let u): (amount, unit, isAbsolute) = (value, u, false)
        case .absolute(let value, let u): (amount, unit, isAbsolute) = (value, u, true)
        }
        guard amount > 0 else { throw .invalidExpire(command) }
        var milliseconds = amount
        if unit == .seconds {
            guard amount <= Int64.max / 1000 else { throw .invalidExpire(command) }
            milliseconds = amount * 1000
        }
        if !isAbsolute {
            guard milliseconds <= Int64.max - now else { throw .invalidExpire(command) }
            milliseconds += now
        }
        return milliseconds
    }
}
