public import NIOCore
import RoostProtocol

extension RoostClient {
    /// When `SET` may write.
    public enum SetCondition: Sendable, Hashable {
        /// Always (plain `SET`).
        case always
        /// Only if the key does not exist (`NX`).
        case ifNotExists
        /// Only if the key exists (`XX`).
        case ifExists
    }

    /// `GET key`: the value's bytes, or `nil` when the key does not exist.
    ///
    /// With a ``Configuration/nearCache`` (and `key` among its ``Configuration/NearCache/keyPrefixes``), a value
    /// held locally is returned without asking the server; otherwise the value is read through the near cache's
    /// tracking connection and kept until the server invalidates it.
    ///
    /// - Throws: ``RoostClientError`` with ``RoostClientError/serverCode`` `WRONGTYPE` when the key holds a
    ///   non-string value, or any connection failure.
    public func get(_ key: String) async throws(RoostClientError) -> ByteBuffer? {
        if let nearCache, nearCache.configuration.caches(key) {
            return try await nearCachedGet(key, nearCache)
        }
        return try await uncachedGet(key)
    }

    /// `GET key` from the server, bypassing the near cache.
    func uncachedGet(_ key: String) async throws(RoostClientError) -> ByteBuffer? {
        try await execute("GET", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("GET", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.optionalBytes("GET")
    }

    /// `GET key` decoded as UTF-8 (invalid sequences are repaired), or `nil` when the key does not exist.
    public func getString(_ key: String) async throws(RoostClientError) -> String? {
        try await get(key).map { String(buffer: $0) }
    }

    /// `SET key value [PX ttl] [NX|XX] [KEEPTTL]`.
    ///
    /// - Parameters:
    ///   - ttl: the time to live, sent in milliseconds (rounded up); `nil` for none (an existing TTL is cleared
    ///     unless `keepTTL`).
    ///   - condition: write only if the key does not exist, or only if it does.
    ///   - keepTTL: keep the key's current time to live (`KEEPTTL`); not allowed together with `ttl`.
    /// - Returns: `true` when the value was written, `false` when `condition` was not met.
    @discardableResult
    public func set(
        _ key: String, _ value: some RoostArgument, ttl: Duration? = nil, condition: SetCondition = .always,
        keepTTL: Bool = false
    ) async throws(RoostClientError) -> Bool {
        let milliseconds = ttl.map(Self.milliseconds)
        return try await execute("SET", key: key, readOnly: false) { buffer in
            let count = 2 + (milliseconds == nil ? 0 : 2) + (condition == .always ? 0 : 1) + (keepTTL ? 1 : 0)
            buffer.writeRoostCommand("SET", argumentCount: count)
            buffer.writeRESPBulkString(key)
            value.writeRESPBulkString(into: &buffer)
            if let milliseconds {
                buffer.writeRESPBulkString("PX")
                milliseconds.writeRESPBulkString(into: &buffer)
            }
            switch condition {
            case .always: break
            case .ifNotExists: buffer.writeRESPBulkString("NX")
            case .ifExists: buffer.writeRESPBulkString("XX")
            }
            if keepTTL { buffer.writeRESPBulkString("KEEPTTL") }
        }.okOrNull("SET")
    }

    /// `SET key value GET`: writes the value and returns the previous one (`nil` when there was none).
    public func getSet(_ key: String, _ value: some RoostArgument) async throws(RoostClientError) -> ByteBuffer? {
        try await execute("SET", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("SET", argumentCount: 3)
            buffer.writeRESPBulkString(key)
            value.writeRESPBulkString(into: &buffer)
            buffer.writeRESPBulkString("GET")
        }.optionalBytes("SET")
    }

    /// `GETDEL key`: the value, deleting the key; `nil` when it did not exist.
    public func getDel(_ key: String) async throws(RoostClientError) -> ByteBuffer? {
        try await execute("GETDEL", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("GETDEL", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.optionalBytes("GETDEL")
    }

    /// `GETEX key PX ttl` (or `PERSIST` when `ttl` is `nil`): the value, updating its time to live.
    public func getEx(_ key: String, ttl: Duration?) async throws(RoostClientError) -> ByteBuffer? {
        let milliseconds = ttl.map(Self.milliseconds)
        return try await execute("GETEX", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("GETEX", argumentCount: milliseconds == nil ? 2 : 3)
            buffer.writeRESPBulkString(key)
            if let milliseconds {
                buffer.writeRESPBulkString("PX")
                milliseconds.writeRESPBulkString(into: &buffer)
            } else {
                buffer.writeRESPBulkString("PERSIST")
            }
        }.optionalBytes("GETEX")
    }

    /// `GETRANGE key start end`: the bytes between two offsets (inclusive; negative offsets count from the end).
    public func getRange(_ key: String, start: Int, end: Int) async throws(RoostClientError) -> ByteBuffer {
        try await execute("GETRANGE", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("GETRANGE", argumentCount: 3)
            buffer.writeRESPBulkString(key)
            start.writeRESPBulkString(into: &buffer)
            end.writeRESPBulkString(into: &buffer)
        }.optionalBytes("GETRANGE") ?? ByteBuffer()
    }

    /// `SETRANGE key offset value`: overwrites from `offset`; returns the new length.
    @discardableResult
    public func setRange(_ key: String, offset: Int, _ value: some RoostArgument) async throws(RoostClientError)
        -> Int64
    {
        try await execute("SETRANGE", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("SETRANGE", argumentCount: 3)
            buffer.writeRESPBulkString(key)
            offset.writeRESPBulkString(into: &buffer)
            value.writeRESPBulkString(into: &buffer)
        }.int("SETRANGE")
    }

    /// `APPEND key value`: returns the new length.
    @discardableResult
    public func append(_ key: String, _ value: some RoostArgument) async throws(RoostClientError) -> Int64 {
        try await execute("APPEND", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("APPEND", argumentCount: 2)
            buffer.writeRESPBulkString(key)
            value.writeRESPBulkString(into: &buffer)
        }.int("APPEND")
    }

    /// `STRLEN key`: the value's length in bytes (0 when the key does not exist).
    public func strlen(_ key: String) async throws(RoostClientError) -> Int64 {
        try await execute("STRLEN", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("STRLEN", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("STRLEN")
    }

    /// `INCR key`: adds one to the integer value (a missing key counts as 0) and returns the result.
    ///
    /// - Throws: ``RoostClientError`` with `serverCode` `ERR` (`value is not an integer or out of range`) when the
    ///   value is not an integer.
    @discardableResult
    public func incr(_ key: String) async throws(RoostClientError) -> Int64 {
        try await execute("INCR", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("INCR", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("INCR")
    }

    /// `INCRBY key increment`: adds `increment` and returns the result.
    @discardableResult
    public func incrby(_ key: String, _ increment: Int64) async throws(RoostClientError) -> Int64 {
        try await execute("INCRBY", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("INCRBY", argumentCount: 2)
            buffer.writeRESPBulkString(key)
            increment.writeRESPBulkString(into: &buffer)
        }.int("INCRBY")
    }

    /// `DECR key`: subtracts one and returns the result.
    @discardableResult
    public func decr(_ key: String) async throws(RoostClientError) -> Int64 {
        try await execute("DECR", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("DECR", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("DECR")
    }

    /// `DECRBY key decrement`: subtracts `decrement` and returns the result.
    @discardableResult
    public func decrby(_ key: String, _ decrement: Int64) async throws(RoostClientError) -> Int64 {
        try await execute("DECRBY", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("DECRBY", argumentCount: 2)
            buffer.writeRESPBulkString(key)
            decrement.writeRESPBulkString(into: &buffer)
        }.int("DECRBY")
    }

    /// `INCRBYFLOAT key increment`: adds a floating-point increment and returns the result.
    @discardableResult
    public func incrbyfloat(_ key: String, _ increment: Double) async throws(RoostClientError) -> Double {
        try await execute("INCRBYFLOAT", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("INCRBYFLOAT", argumentCount: 2)
            buffer.writeRESPBulkString(key)
            increment.writeRESPBulkString(into: &buffer)
        }.double("INCRBYFLOAT")
    }

    /// A duration in whole milliseconds, rounded up, for `PX`/`PEXPIRE`.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let nanoseconds = duration.nanoseconds
        if nanoseconds <= 0 { return nanoseconds / 1_000_000 }
        return nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1)
    }
}
