/// Limits applied while parsing client requests, before any command runs.
///
/// The defaults are Redis 7.0's: `proto-max-bulk-len` 512 MiB, `PROTO_INLINE_MAX_SIZE` 64 KiB (which also
/// bounds the `*<count>` and `$<length>` lines) and a multibulk count of at most `INT_MAX`. A connection that
/// has not authenticated (while a password is required) gets Redis's stricter limits: at most 10 arguments
/// and 16384 bytes per argument.
public struct RESPRequestLimits: Sendable, Hashable {
    /// The largest accepted bulk argument, in bytes (Redis `proto-max-bulk-len`).
    public var maxBulkLength: Int
    /// The longest accepted inline command line and `*`/`$` count line, in bytes (Redis `PROTO_INLINE_MAX_SIZE`).
    public var maxInlineLength: Int
    /// The largest accepted multibulk argument count (Redis 7.0 accepts up to `INT_MAX`).
    public var maxMultibulkLength: Int
    /// Whether the connection may use the full limits; `false` applies the pre-authentication limits.
    public var authenticated: Bool

    /// The multibulk count a connection that has not authenticated may send (Redis: 10).
    public static let unauthenticatedMaxMultibulkLength = 10
    /// The bulk length a connection that has not authenticated may send (Redis: 16384).
    public static let unauthenticatedMaxBulkLength = 16384

    /// Creates limits; every parameter defaults to Redis 7.0's value.
    public init(
        maxBulkLength: Int = 512 * 1024 * 1024,
        maxInlineLength: Int = 64 * 1024,
        maxMultibulkLength: Int = Int(Int32.max),
        authenticated: Bool = true
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxInlineLength = maxInlineLength
        self.maxMultibulkLength = maxMultibulkLength
        self.authenticated = authenticated
    }
}
