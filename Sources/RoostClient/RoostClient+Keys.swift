import NIOCore
public import RoostProtocol

extension RoostClient {
    /// A key's remaining time to live, as `TTL`/`PTTL` report it.
    public enum TimeToLive: Sendable, Hashable {
        /// The key does not exist (`-2`).
        case missing
        /// The key exists and never expires (`-1`).
        case persistent
        /// The key expires after this long.
        case expires(in: Duration)
    }

    /// Which condition `EXPIRE` applies (Redis 7).
    public enum ExpireCondition: Sendable, Hashable {
        /// Always set the time to live.
        case always
        /// Only when the key has none (`NX`).
        case ifNoExpiry
        /// Only when the key has one (`XX`).
        case ifHasExpiry
        /// Only when the new expiry is later (`GT`).
        case ifGreater
        /// Only when the new expiry is sooner (`LT`).
        case ifLess
    }

    /// `PEXPIRE key ms [NX|XX|GT|LT]`: sets a time to live (in milliseconds, rounded up).
    ///
    /// - Returns: `true` when it was set, `false` when the key does not exist or the condition was not met.
    @discardableResult
    public func expire(_ key: String, in ttl: Duration, condition: ExpireCondition = .always)
        async throws(RoostClientError) -> Bool
    {
        let milliseconds = Self.milliseconds(ttl)
        return try await execute("PEXPIRE", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("PEXPIRE", argumentCount: condition == .always ? 2 : 3)
            buffer.writeRESPBulkString(key)
            milliseconds.writeRESPBulkString(into: &buffer)
            switch condition {
            case .always: break
            case .ifNoExpiry: buffer.writeRESPBulkString("NX")
            case .ifHasExpiry: buffer.writeRESPBulkString("XX")
            case .ifGreater: buffer.writeRESPBulkString("GT")
            case .ifLess: buffer.writeRESPBulkString("LT")
            }
        }.int("PEXPIRE") == 1
    }

    /// `PERSIST key`: removes the time to live; `true` when there was one.
    @discardableResult
    public func persist(_ key: String) async throws(RoostClientError) -> Bool {
        try await execute("PERSIST", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("PERSIST", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("PERSIST") == 1
    }

    /// `TTL key`: the remaining time to live, in whole seconds.
    public func ttl(_ key: String) async throws(RoostClientError) -> TimeToLive {
        let value = try await execute("TTL", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("TTL", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("TTL")
        return Self.timeToLive(value, unit: .seconds(1))
    }

    /// `PTTL key`: the remaining time to live, in milliseconds.
    public func pttl(_ key: String) async throws(RoostClientError) -> TimeToLive {
        let value = try await execute("PTTL", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("PTTL", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }.int("PTTL")
        return Self.timeToLive(value, unit: .milliseconds(1))
    }

    static func timeToLive(_ value: Int64, unit: Duration) -> TimeToLive {
        switch value {
        case -2: .missing
        case -1: .persistent
        default: .expires(in: unit * Int(value))
        }
    }

    /// `TYPE key`: `string`, `list`, `set`, `zset`, `hash`, or `none` when the key does not exist.
    public func type(_ key: String) async throws(RoostClientError) -> String {
        let reply = try await execute("TYPE", key: key, readOnly: true) { buffer in
            buffer.writeRoostCommand("TYPE", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }
        guard let text = reply.text else { throw reply.unexpected("TYPE") }
        return text
    }

    /// `RENAME key newKey` (or `RENAMENX` when `onlyIfNewKeyMissing`). In cluster mode both keys must share a
    /// slot. Returns `false` only when `RENAMENX` found `newKey` existing.
    @discardableResult
    public func rename(_ key: String, to newKey: String, onlyIfNewKeyMissing: Bool = false)
        async throws(RoostClientError) -> Bool
    {
        try await invalidatingNearCache([key, newKey]) { () async throws(RoostClientError) in
            try await renameUncached(key, to: newKey, onlyIfNewKeyMissing: onlyIfNewKeyMissing)
        }
    }

    private func renameUncached(_ key: String, to newKey: String, onlyIfNewKeyMissing: Bool)
        async throws(RoostClientError) -> Bool
    {
        if onlyIfNewKeyMissing {
            return try await execute("RENAMENX", key: key, readOnly: false) { buffer in
                buffer.writeRoostCommand("RENAMENX", argumentCount: 2)
                buffer.writeRESPBulkString(key)
                buffer.writeRESPBulkString(newKey)
            }.int("RENAMENX") == 1
        }
        _ = try await execute("RENAME", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("RENAME", argumentCount: 2)
            buffer.writeRESPBulkString(key)
            buffer.writeRESPBulkString(newKey)
        }
        return true
    }

    /// `PING`: the round trip to the server (in cluster mode, to one primary).
    @discardableResult
    public func ping() async throws(RoostClientError) -> Duration {
        let start = ContinuousClock.now
        _ = try await execute("PING", slot: nil, readOnly: false) { buffer in
            buffer.writeRoostCommand("PING", argumentCount: 0)
        }
        return ContinuousClock.now - start
    }

    /// `DBSIZE`: the number of keys (summed over the primaries in cluster mode).
    public func dbsize() async throws(RoostClientError) -> Int64 {
        var total: Int64 = 0
        for pool in try await primaryPools() {
            total += try await execute(on: pool, "DBSIZE") { $0.writeRoostCommand("DBSIZE", argumentCount: 0) }
                .int("DBSIZE")
        }
        return total
    }

    /// `FLUSHALL`: deletes every key (on every primary in cluster mode), and empties the near cache.
    public func flushall() async throws(RoostClientError) {
        defer { nearCache?.flush(reason: "flushall") }
        for pool in try await primaryPools() {
            _ = try await execute(on: pool, "FLUSHALL") { $0.writeRoostCommand("FLUSHALL", argumentCount: 0) }
        }
    }

    /// Sends any command and returns its raw reply: the escape hatch for commands without a method.
    ///
    /// In cluster mode the command goes to the node serving `routingKey`'s slot, or to a primary when it is
    /// `nil`; redirections and retries apply as for every command. Pass `readOnly: true` for a command that does
    /// not write, so that it may be retried after a connection loss and served by a replica.
    ///
    /// A command that is not `readOnly` invalidates `routingKey` in the near cache when it completes. Other keys it
    /// writes are invalidated when the server's invalidation arrives (a few hundred microseconds on loopback).
    ///
    /// ```swift
    /// let reply = try await client.command("OBJECT", ["ENCODING", "counter"], routingKey: "counter")
    /// ```
    ///
    /// - Throws: error replies as ``RoostClientError/Code/serverError``.
    public func command(
        _ name: String, _ arguments: [any RoostArgument] = [], routingKey: String? = nil, readOnly: Bool = false
    ) async throws(RoostClientError) -> RESPValue {
        do {
            return try await execute("command", key: routingKey, readOnly: readOnly) { buffer in
                buffer.writeRESPArrayHeader(arguments.count + 1)
                buffer.writeRESPBulkString(name)
                for argument in arguments { argument.writeRESPBulkString(into: &buffer) }
            }
        } catch {
            var error = error
            error.command = name.uppercased()
            throw error
        }
    }
}
