/// Applies directives from config files and command-line flags to a configuration, in order, as Redis's
/// `loadServerConfigFromString` does (later occurrences win, except that `save` adds up within one load).
struct ConfigurationLoader {
    /// Where a directive came from, for error messages.
    enum Source {
        /// Line `line` (1-based) of the config file at `path`.
        case file(path: String, line: Int)
        /// A `--name value...` flag.
        case commandLine

        var prefix: String {
            switch self {
            case .file(let path, let line): return "\(path):\(line): "
            case .commandLine: return "command line: "
            }
        }
    }

    /// The configuration built so far.
    var configuration: ServerConfiguration

    /// Words given so far to directives that add up while loading (`save`), by directive name.
    private var accumulated: [String: [String]] = [:]

    init(_ configuration: ServerConfiguration = ServerConfiguration()) {
        self.configuration = configuration
    }

    /// Applies every directive in the text of a redis.conf-style file: one directive per line, `#` comments and
    /// blank lines skipped, words split by Redis's quoting rules, directive names in any case.
    mutating func applyFile(_ text: String, path: String) throws(ConfigurationError) {
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Self.trimmed(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let source = Source.file(path: path, line: lineNumber)
            guard let words = ConfigLineSplitter.split(line) else {
                throw ConfigurationError(.syntax, source.prefix + "Unbalanced quotes in configuration line")
            }
            guard let name = words.first else { continue }
            try apply(name: name, arguments: Array(words.dropFirst()), from: source)
        }
    }

    /// Applies one directive.
    mutating func apply(name: String, arguments: [String], from source: Source) throws(ConfigurationError) {
        let shownName = if case .commandLine = source { "--" + name } else { name }
        if name.lowercased() == "include" {
            throw ConfigurationError(
                .unknownDirective, source.prefix + "'include' is not supported; put all directives in one file"
            )
        }
        guard let directive = ServerConfiguration.directive(named: name) else {
            throw ConfigurationError(.unknownDirective, source.prefix + "unknown directive '\(shownName)'")
        }
        var words = arguments
        switch directive.arity {
        case .one:
            guard arguments.count == 1 else {
                throw ConfigurationError(
                    .wrongNumberOfArguments, source.prefix + "wrong number of arguments for '\(shownName)'"
                )
            }
        case .words:
            if arguments.count == 1 {
                // As Redis: one argument is split into words (`--save "3600 1"`), and a lone "" means none.
                guard let split = ConfigLineSplitter.split(arguments[0]) else {
                    throw ConfigurationError(.syntax, source.prefix + "Unbalanced quotes in '\(shownName)' value")
                }
                words = split
            }
            if directive.accumulatesWhileLoading {
                words = words.isEmpty ? [] : accumulated[directive.name, default: []] + words
                accumulated[directive.name] = words
            }
        }
        do {
            try directive.apply(words, &configuration)
        } catch {
            let value = arguments.joined(separator: " ")
            throw ConfigurationError(
                .invalidValue, source.prefix + "invalid value '\(value)' for '\(shownName)': \(error.reason)"
            )
        }
    }

    /// Redis's `sdstrim(line, " \t\r\n")`, on bytes (a `Character` would fold CR LF into one).
    private static func trimmed(_ line: Substring.UTF8View) -> String {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        guard let first = line.firstIndex(where: { !blank($0) }), let last = line.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(Substring(line[first...last]))
    }
}
