/// Why a configuration could not be loaded or changed.
///
/// ``message`` is what to show: for a config file it starts with `path:line:`, for flags with `command line:`; for
/// `CONFIG SET` it is the exact Redis error reply (starting with `ERR `), so the server can send it as is.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The kind of failure.
    public enum Code: Sendable, Hashable {
        /// A directive (or `CONFIG SET` option) that Roost does not know.
        case unknownDirective
        /// A directive with too few or too many arguments, or a stray command-line argument.
        case wrongNumberOfArguments
        /// A value that does not parse, is out of range, or asks for something Roost does not support.
        case invalidValue
        /// A config line that cannot be split into words (unbalanced quotes).
        case syntax
        /// The config file could not be read.
        case unreadableFile
        /// `CONFIG SET` of a directive that is fixed after start.
        case immutable
        /// `CONFIG SET` naming the same directive twice.
        case duplicate
    }

    /// The kind of failure.
    public var code: Code

    /// The human-readable message (see ``ConfigurationError``).
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: The human-readable message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
