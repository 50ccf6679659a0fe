/// A command's error reply. `message` carries Redis's error prefix (`ERR`, `WRONGTYPE`, …) because clients parse it.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The full error line without the leading `-`.
    public var message: String

    /// Creates an error with its full message, prefix included.
    public init(_ message: String) { self.message = message }

    public var description: String { message }

    static let syntax = CommandError("ERR syntax error")
    static let notInteger = CommandError("ERR value is not an integer or out of range")
    static let notFloat = CommandError("ERR value is not a valid float")
    static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let noSuchKey = CommandError("ERR no such key")
    static let overflow = CommandError("ERR increment or decrement would overflow")
    static let stringTooLong = CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

    static func wrongArity(_ name: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(name)' command")
    }

    static func invalidExpire(_ name: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(name)' command")
    }
}
