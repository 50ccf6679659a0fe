import RoostCore

extension ServerConfiguration {
    /// `CONFIG GET pattern [pattern...]`, as Redis 7 answers it.
    ///
    /// A pattern without `*`, `?` or `[` is a direct, case-insensitive lookup and the reply uses the name as the
    /// client spelled it (`CONFIG GET PORT` answers `PORT`); other patterns are globs (``Glob``, case-insensitive)
    /// over canonical names and aliases. Each directive appears once even if several patterns match it. Order: by
    /// pattern, then in table order (Redis's order is its hash table's).
    ///
    /// - Parameter patterns: The patterns.
    /// - Returns: Name and rendered value of each matching directive.
    public func configGet(patterns: [String]) -> [(name: String, value: String)] {
        var seen = Set<String>()
        var result: [(name: String, value: String)] = []
        for pattern in patterns {
            if !pattern.utf8.contains(where: Self.isGlobCharacter) {
                if let directive = Self.directive(named: pattern), seen.insert(directive.name).inserted {
                    result.append((pattern, directive.value(in: self)))
                }
                continue
            }
            for directive in Self.directives where !seen.contains(directive.name) {
                let names = [directive.name] + directive.aliases
                if let name = names.first(where: { Glob.matches(pattern: pattern, $0, caseInsensitive: true) }) {
                    seen.insert(directive.name)
                    result.append((name, directive.value(in: self)))
                }
            }
        }
        return result
    }

    /// `CONFIG SET name value [name value...]`, as Redis 7 does it: all pairs are applied or none is.
    ///
    /// Checks run in Redis's order, and the first failure is reported with Redis's exact reply text:
    /// 1. every name must be known — `ERR Unknown option or number of arguments for CONFIG SET - 'foo'`;
    /// 2. none may be fixed after start or named twice — `ERR CONFIG SET failed (possibly related to argument
    ///    'port') - can't set immutable config` / `... - duplicate parameter` (with the name as given);
    /// 3. each value must be valid — `ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument
    ///    must be a memory value` (with the canonical name).
    ///
    /// Values of multi-word directives (`save`) are split at single spaces, as Redis does.
    ///
    /// - Parameter pairs: Directive names and new values.
    /// - Throws: ``ConfigurationError`` whose ``ConfigurationError/message`` is the Redis error reply.
    public mutating func configSet(_ pairs: [(String, String)]) throws(ConfigurationError) {
        guard !pairs.isEmpty else {
            throw ConfigurationError(.wrongNumberOfArguments, "ERR wrong number of arguments for 'config|set' command")
        }
        var directives: [ConfigurationDirective] = []
        var firstProblem: ConfigurationError?
        for (name, _) in pairs {
            guard let directive = Self.directive(named: name) else {
                firstProblem =
                    firstProblem
                    ?? ConfigurationError(
                        .unknownDirective, "ERR Unknown option or number of arguments for CONFIG SET - '\(name)'"
                    )
                continue
            }
            guard firstProblem == nil else { continue }
            if !directive.isMutable {
                firstProblem = Self.setFailure(.immutable, name, "can't set immutable config")
            } else if directives.contains(where: { $0.name == directive.name }) {
                firstProblem = Self.setFailure(.duplicate, name, "duplicate parameter")
            }
            directives.append(directive)
        }
        if let firstProblem { throw firstProblem }

        var updated = self
        for (directive, (_, value)) in zip(directives, pairs) {
            let words: [String]
            switch directive.arity {
            case .one: words = [value]
            case .words:
                // Redis splits with sdssplitlen(value, " "): empty words are kept, an empty value has none.
                let split = value.split(separator: " ", omittingEmptySubsequences: false)
                words = value.isEmpty ? [] : split.map(String.init)
            }
            do {
                try directive.apply(words, &updated)
            } catch {
                throw Self.setFailure(.invalidValue, directive.name, error.reason)
            }
        }
        self = updated
    }

    /// The bytes that make `CONFIG GET` treat its argument as a pattern (Redis's `strpbrk(name, "[*?")`).
    private static func isGlobCharacter(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[")
    }

    private static func setFailure(_ code: ConfigurationError.Code, _ name: String, _ reason: String)
        -> ConfigurationError
    {
        ConfigurationError(code, "ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)")
    }
}
