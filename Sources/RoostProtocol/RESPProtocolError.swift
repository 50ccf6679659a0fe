/// A malformed or over-limit request or reply.
///
/// `message` is exactly the text Redis 7.0 sends after `-ERR ` for the same input, for example
/// `Protocol error: invalid multibulk length`, so a server replies with `-ERR \(message)` and closes the
/// connection, as Redis does.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error text without the `ERR ` prefix.
    public var message: String

    /// Creates an error with the given text (without the `ERR ` prefix).
    public init(message: String) {
        self.message = message
    }

    /// The error text, as it appears in a reply after `ERR `.
    public var description: String { self.message }
}

extension RESPProtocolError {
    /// `*<count>` is not a valid integer or exceeds the multibulk length limit.
    public static let invalidMultibulkLength = Self(message: "Protocol error: invalid multibulk length")
    /// `$<length>` is not a valid integer, is negative or exceeds the bulk length limit.
    public static let invalidBulkLength = Self(message: "Protocol error: invalid bulk length")
    /// A multibulk count above the pre-authentication limit (10) on a connection that has not authenticated.
    public static let unauthenticatedMultibulkLength = Self(message: "Protocol error: unauthenticated multibulk length")
    /// A bulk length above the pre-authentication limit (16384) on a connection that has not authenticated.
    public static let unauthenticatedBulkLength = Self(message: "Protocol error: unauthenticated bulk length")
    /// An inline command line longer than the inline limit.
    public static let tooBigInlineRequest = Self(message: "Protocol error: too big inline request")
    /// A `*<count>` line longer than the inline limit.
    public static let tooBigMultibulkCountString = Self(message: "Protocol error: too big mbulk count string")
    /// A `$<length>` line longer than the inline limit.
    public static let tooBigBulkCountString = Self(message: "Protocol error: too big bulk count string")
    /// An inline command with an unterminated quote, or a closing quote not followed by a space.
    public static let unbalancedQuotes = Self(message: "Protocol error: unbalanced quotes in request")

    /// A multibulk argument that does not start with `$`.
    ///
    /// Like Redis, the offending byte is shown as a character; CR and LF become spaces (Redis replaces them so
    /// the reply stays one line). Bytes above 0x7F are shown as the Unicode scalar of the same value (Redis
    /// sends the raw byte, which a `String` cannot hold).
    public static func expectedDollar(got byte: UInt8) -> Self {
        let shown: Character =
            byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") ? " " : Character(Unicode.Scalar(byte))
        return Self(message: "Protocol error: expected '$', got '\(shown)'")
    }
}
