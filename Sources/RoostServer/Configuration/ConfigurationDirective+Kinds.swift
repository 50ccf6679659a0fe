/// Builders for the common directive kinds, with Redis 7's parsing rules and error wording.
extension ConfigurationDirective {
    /// A `yes`/`no` directive (case-insensitive, as Redis's `yesnotoi`).
    static func boolean(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, Bool> & Sendable,
        mutable: Bool = true
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration throws(ValueError) in
                configuration[keyPath: keyPath] = try ValueParser.boolean(arguments[0])
            },
            render: { $0[keyPath: keyPath] ? "yes" : "no" }
        )
    }

    /// A plain integer directive (Redis's `string2ll` syntax), bounded by `range`; `clampedTo` then clamps the
    /// accepted value (Redis does that for `hz`).
    static func integer(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, Int> & Sendable,
        range: ClosedRange<Int>,
        clampedTo clamp: ClosedRange<Int>? = nil,
        mutable: Bool = true
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration throws(ValueError) in
                let value = try ValueParser.integer(arguments[0], in: range)
                configuration[keyPath: keyPath] = clamp.map { min(max(value, $0.lowerBound), $0.upperBound) } ?? value
            },
            render: { String($0[keyPath: keyPath]) }
        )
    }

    /// A byte-size directive: a plain number or one with a unit (`1k`, `1kb`, `1m`, `1mb`, `1g`, `1gb`, as Redis's
    /// `memtoull`), bounded by `range`; rendered in bytes.
    static func memory(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, Int> & Sendable,
        range: ClosedRange<Int>,
        mutable: Bool = true
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration throws(ValueError) in
                configuration[keyPath: keyPath] = try ValueParser.memory(arguments[0], in: range)
            },
            render: { String($0[keyPath: keyPath]) }
        )
    }

    /// A free-text directive.
    static func text(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, String> & Sendable,
        mutable: Bool = true
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration in configuration[keyPath: keyPath] = arguments[0] },
            render: { $0[keyPath: keyPath] }
        )
    }

    /// A directive whose value is one of `choices` (case-insensitive), stored in canonical spelling.
    static func choice(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, String> & Sendable,
        among choices: [String],
        mutable: Bool = true
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration throws(ValueError) in
                configuration[keyPath: keyPath] = try ValueParser.choice(arguments[0], among: choices)
            },
            render: { $0[keyPath: keyPath] }
        )
    }

    /// A directive whose only accepted value is `accepted` (case-insensitive, like `daemonize no`); anything else
    /// that would otherwise be valid is refused with `unsupported`.
    static func fixedBoolean(
        _ name: String,
        _ keyPath: any WritableKeyPath<ServerConfiguration, Bool> & Sendable,
        accepted: Bool,
        unsupported: String,
        mutable: Bool
    ) -> Self {
        Self(
            name: name,
            aliases: [],
            arity: .one,
            isMutable: mutable,
            accumulatesWhileLoading: false,
            apply: { arguments, configuration throws(ValueError) in
                guard try ValueParser.boolean(arguments[0]) == accepted else { throw ValueError(reason: unsupported) }
                configuration[keyPath: keyPath] = accepted
            },
            render: { $0[keyPath: keyPath] ? "yes" : "no" }
        )
    }
}
