/// One configuration directive: its names, how to parse and apply its arguments, how `CONFIG GET` shows it, and
/// whether `CONFIG SET` may change it.
///
/// Every directive is defined once, in ``ServerConfiguration/directives``; file loading, flags, `CONFIG GET` and
/// `CONFIG SET` all go through that table.
public struct ConfigurationDirective: Sendable {
    /// How many arguments the directive takes.
    public enum Arity: Sendable, Hashable {
        /// Exactly one (`port 6379`).
        case one
        /// Any number of words (`bind 127.0.0.1 ::1`, `save 3600 1 300 100`). In a file a single argument is split
        /// into words (so `--save "3600 1"` works); `CONFIG SET` splits its value at spaces.
        case words
    }

    /// The canonical name, lower case, as `CONFIG GET` reports it.
    public let name: String

    /// Other accepted names, lower case (matched by lookups and by `CONFIG GET` patterns).
    public let aliases: [String]

    /// How many arguments the directive takes.
    public let arity: Arity

    /// Whether `CONFIG SET` may change the directive while the server runs.
    public let isMutable: Bool

    /// Whether values of several occurrences in one load add up instead of replacing each other (Redis's `save`).
    let accumulatesWhileLoading: Bool

    /// Parses `arguments` and stores the result in the configuration, or throws the reason (Redis's wording).
    let apply: @Sendable ([String], inout ServerConfiguration) throws(ConfigurationDirective.ValueError) -> Void

    /// The value as `CONFIG GET` prints it: `yes`/`no`, plain integers (bytes for memory), words joined by spaces.
    let render: @Sendable (ServerConfiguration) -> String

    /// Why a value was refused; `reason` uses Redis's wording where Redis has one.
    struct ValueError: Error {
        let reason: String
    }

    /// The value of this directive in `configuration`, as `CONFIG GET` prints it.
    /// - Parameter configuration: The configuration to read.
    /// - Returns: The rendered value.
    public func value(in configuration: ServerConfiguration) -> String {
        render(configuration)
    }

    /// Whether `name` (any case) names this directive.
    func isNamed(_ candidate: String) -> Bool {
        let lowered = candidate.lowercased()
        return lowered == name || aliases.contains(lowered)
    }
}
