/// A value stored in the keyspace.
///
/// Byte strings and hashes so far; lists, sets and sorted sets join this enum as they are built, so that every
/// command that must answer `WRONGTYPE` can switch over one type. An aggregate here is a copy-on-write snapshot: the
/// keyspace changes its own in place (``Keyspace/withHash(_:now:countingStatistics:wrongType:_:)``).
public enum Value: Sendable, Hashable {
    /// A binary-safe string (also the integer and float representation behind `INCR` and friends).
    case string([UInt8])
    /// A hash (fields with values, each optionally expiring).
    case hash(HashValue)
    /// A list (byte strings in order).
    case list(ListValue)
    /// A set of distinct members.
    case set(SetValue)
    /// A sorted set (members with scores).
    case sortedSet(SortedSetValue)

    /// The name `TYPE` reports for this value.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .hash: "hash"
        case .list: "list"
        case .set: "set"
        case .sortedSet: "zset"
        }
    }
}

/// One key's stored state: its value, its expiry and the metadata the eviction policies read.
public struct Entry: Sendable, Hashable {
    /// The stored value.
    public var value: Value
    /// Absolute expiry in Unix milliseconds, or ``Entry/noExpiry``.
    public var expireAt: Int64
    /// How `OBJECT ENCODING` reports a string value, which depends on how the value was made (see
    /// ``StringEncoding``).
    public var stringEncoding: StringEncoding
    /// Last access time in seconds on the keyspace's coarse clock (for `OBJECT IDLETIME` and LRU).
    public var lastAccess: UInt32

    /// Redis's string encodings depend on history, not only on the bytes; this records the history that matters.
    public enum StringEncoding: UInt8, Sendable, Hashable {
        /// Stored as given (`SET`, `INCR`): `int` if the bytes are a canonical 64-bit integer, else `embstr` up to
        /// 44 bytes, else `raw`.
        case automatic
        /// Made from a float (`INCRBYFLOAT`): never `int`; `embstr` up to 44 bytes, else `raw`.
        case notInteger
        /// Modified in place (`APPEND`, `SETRANGE`): always `raw`.
        case raw
    }

    /// The `expireAt` value of a key without a time to live.
    public static let noExpiry: Int64 = 0

    /// Creates an entry; `lastAccess` is stamped by the keyspace when the entry is stored.
    public init(value: Value, expireAt: Int64 = Entry.noExpiry, stringEncoding: StringEncoding = .automatic) {
        self.value = value
        self.expireAt = expireAt
        self.stringEncoding = stringEncoding
        self.lastAccess = 0
    }

    /// Whether the entry has a time to live.
    @inlinable public var hasExpiry: Bool { expireAt != Entry.noExpiry }

    /// Whether the entry is expired at `now` (Unix milliseconds).
    @inlinable public func isExpired(at now: Int64) -> Bool { expireAt != Entry.noExpiry && expireAt <= now }
}
