/// A value stored in the keyspace.
///
/// Only byte strings exist so far; hashes, lists, sets and sorted sets join this enum as they are built, so that
/// every command that must answer `WRONGTYPE` can switch over one type.
public enum Value: Sendable, Hashable {
    /// A binary-safe string (also the integer and float representation behind `INCR` and friends).
    case string([UInt8])

    /// The name `TYPE` reports for this value.
    public var typeName: String {
        switch self {
        case .string: "string"
        }
    }
}

/// One key's stored state: its value, its expiry and the metadata the eviction policies read.
public struct Entry: Sendable, Hashable {
    /// The stored value.
    public var value: Value
    /// Absolute expiry in Unix milliseconds, or ``Entry/noExpiry``.
    public var expireAt: Int64
    /// Set when the string was modified in place (`APPEND`, `SETRANGE`), which Redis reports as the `raw`
    /// encoding regardless of length.
    public var isRawEncoded: Bool
    /// Last access time in seconds on the keyspace's coarse clock (for `OBJECT IDLETIME` and LRU).
    public var lastAccess: UInt32

    /// The `expireAt` value of a key without a time to live.
    public static let noExpiry: Int64 = 0

    /// Creates an entry; `lastAccess` is stamped by the keyspace when the entry is stored.
    public init(value: Value, expireAt: Int64 = Entry.noExpiry, isRawEncoded: Bool = false) {
        self.value = value
        self.expireAt = expireAt
        self.isRawEncoded = isRawEncoded
        self.lastAccess = 0
    }

    /// Whether the entry has a time to live.
    @inlinable public var hasExpiry: Bool { expireAt != Entry.noExpiry }

    /// Whether the entry is expired at `now` (Unix milliseconds).
    @inlinable public func isExpired(at now: Int64) -> Bool { expireAt != Entry.noExpiry && expireAt <= now }
}
