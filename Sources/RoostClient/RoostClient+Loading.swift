public import NIOCore
import RoostProtocol
import Synchronization

extension RoostClient {
    /// How ``RoostClient/get(_:ttl:options:loadingWith:)`` shares the work of computing a missing value.
    public struct LoadingOptions: Sendable, Hashable {
        /// How long the caller that wins the right to compute may take before another caller can win it (the
        /// placeholder's lifetime on the server). Longer than the loader normally takes.
        public var lease: Duration
        /// Recompute early: when the stored value has less than this left to live, one caller (only one, across
        /// every process) recomputes it while everyone keeps getting the current value. Whole seconds (rounded
        /// up); `nil` never recomputes before expiry.
        public var refreshBefore: Duration?
        /// How long a caller that finds someone else computing waits for that value before computing it itself
        /// (without storing it).
        public var maximumWait: Duration
        /// The first pause between two looks while waiting; it doubles up to 100 ms.
        public var pollInterval: Duration
        /// Whether an invalidated (stale) value may be returned while its replacement is computed elsewhere. When
        /// `false`, such callers wait as for a missing value.
        public var servesStale: Bool

        /// Creates options.
        public init(
            lease: Duration = .seconds(5), refreshBefore: Duration? = nil, maximumWait: Duration = .seconds(2),
            pollInterval: Duration = .milliseconds(5), servesStale: Bool = true
        ) {
            self.lease = lease
            self.refreshBefore = refreshBefore
            self.maximumWait = maximumWait
            self.pollInterval = pollInterval
            self.servesStale = servesStale
        }
    }

    /// Returns the value of `key`, computing and storing it with `loader` when it is missing, invalidated or due
    /// for an early refresh, such that **one** caller computes it while the others wait for it or get the old
    /// value (stampede-safe loading).
    ///
    /// Within this process, concurrent calls for one key share one load (single flight): `loader` runs once and
    /// every caller gets its result (or its error). Across processes the server hands out a lease (`LEASE.GET`,
    /// see docs/LEASES.md): the caller that wins it runs `loader` and stores the value with `LEASE.SET … CAS`;
    /// the others poll until the value is there (up to ``LoadingOptions/maximumWait``, then they compute it
    /// themselves without storing it) or are served the stale value of an invalidated key
    /// (``invalidate(_:ttl:)``). A winner whose `loader` fails gives the lease back, so the next caller retries.
    ///
    /// Against a server without `LEASE.*` (Redis), loading is single-flight within the process only: `GET`, then
    /// `loader` and `SET` on a miss.
    ///
    /// - Parameters:
    ///   - key: the key.
    ///   - ttl: the time to live of a computed value; `nil` for none.
    ///   - options: lease length, early refresh, waiting.
    ///   - loader: computes the value from the slow source of truth.
    /// - Returns: the stored value, the computed one, or a stale one (see ``LoadingOptions/servesStale``).
    /// - Throws: what `loader` throws, or a ``RoostClientError``.
    public func get(
        _ key: String, ttl: Duration?, options: LoadingOptions = LoadingOptions(),
        loadingWith loader: @escaping @Sendable () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        try await loads.singleFlight(key) {
            try await self.leasedLoad(key, ttl: ttl, options: options, loader)
        }
    }

    /// ``get(_:ttl:options:loadingWith:)`` for `Codable` values, encoded with the configured
    /// ``Configuration/coder``.
    public func get<Value: Codable & Sendable>(
        _ key: String, as type: Value.Type, ttl: Duration?, options: LoadingOptions = LoadingOptions(),
        loadingWith loader: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let coder = configuration.coder
        let bytes = try await get(key, ttl: ttl, options: options) {
            let value = try await loader()
            do {
                return try coder.encode(value)
            } catch {
                throw RoostClientError(.encodingFailed, "cannot encode a \(Value.self): \(error)", command: "LEASE.SET")
            }
        }
        do {
            return try coder.decode(type, from: bytes)
        } catch {
            throw RoostClientError(
                .decodingFailed, "\(key.count)-character key's value is not a \(Value.self): \(error)",
                command: "LEASE.GET")
        }
    }

    /// `LEASE.INVALIDATE key [TTL seconds]`: marks the value stale instead of deleting it, so readers using
    /// ``get(_:ttl:options:loadingWith:)`` keep getting it while one of them computes the replacement.
    ///
    /// - Returns: `false` when the key does not exist.
    @discardableResult
    public func invalidate(_ key: String, ttl: Duration? = nil) async throws(RoostClientError) -> Bool {
        let seconds = ttl.map { Self.wholeSeconds($0) }
        return try await execute("LEASE.INVALIDATE", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("LEASE.INVALIDATE", argumentCount: seconds == nil ? 1 : 3)
            buffer.writeRESPBulkString(key)
            if let seconds {
                buffer.writeRESPBulkString("TTL")
                seconds.writeRESPBulkString(into: &buffer)
            }
        }.int("LEASE.INVALIDATE") == 1
    }

    // MARK: - The lease protocol

    /// One `LEASE.GET` reply.
    struct Lease {
        enum Status: String {
            case hit, win, wait, stale
            case staleWin = "stale-win"
            case recacheWin = "recache-win"
        }
        var value: ByteBuffer?
        var status: Status
        var cas: Int64
    }

    private func leasedLoad(
        _ key: String, ttl: Duration?, options: LoadingOptions,
        _ loader: @Sendable () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        if !loads.serverHasLeases { return try await plainLoad(key, ttl: ttl, loader) }
        let clock = ContinuousClock()
        let deadline = clock.now + options.maximumWait
        var pause = options.pollInterval
        while true {
            let lease: Lease
            do throws(RoostClientError) {
                lease = try await leaseGet(key, options: options)
            } catch {
                guard error.code == .serverError, error.message.contains("unknown command") else { throw error }
                loads.serverHasLeases = false
                return try await plainLoad(key, ttl: ttl, loader)
            }
            switch lease.status {
            case .hit:
                if let value = lease.value { return value }
            case .stale where options.servesStale:
                if let value = lease.value { return value }
            case .win, .staleWin, .recacheWin:
                let value: ByteBuffer
                do {
                    value = try await loader()
                } catch {
                    // Give the lease back, so that the next caller computes instead of waiting for it to expire.
                    _ = try? await invalidate(key)
                    throw error
                }
                do {
                    try await leaseSet(key, value, ttl: ttl, cas: lease.cas)
                } catch {
                    logger.debug("could not store a loaded value", metadata: ["roost.error": "\(error)"])
                }
                return value
            case .wait, .stale:
                break
            }
            let now = clock.now
            guard now < deadline else { return try await loader() }
            try await Task.sleep(for: min(pause, now.duration(to: deadline)))
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    /// Loading against a server without leases: `GET`, and on a miss `loader` and `SET`.
    private func plainLoad(
        _ key: String, ttl: Duration?, _ loader: @Sendable () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        if let value = try await get(key) { return value }
        let value = try await loader()
        try await set(key, value, ttl: ttl)
        return value
    }

    func leaseGet(_ key: String, options: LoadingOptions) async throws(RoostClientError) -> Lease {
        let leaseMilliseconds = max(1, Self.milliseconds(options.lease))
        let recache = options.refreshBefore.map { Self.wholeSeconds($0) }
        let reply = try await execute("LEASE.GET", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("LEASE.GET", argumentCount: recache == nil ? 2 : 4)
            buffer.writeRESPBulkString(key)
            leaseMilliseconds.writeRESPBulkString(into: &buffer)
            if let recache {
                buffer.writeRESPBulkString("RECACHE")
                recache.writeRESPBulkString(into: &buffer)
            }
        }
        guard let elements = reply.elements, elements.count == 4,
            let statusBytes = try elements[1].optionalBytes("LEASE.GET"),
            let status = Lease.Status(rawValue: String(buffer: statusBytes))
        else { throw reply.unexpected("LEASE.GET") }
        return Lease(
            value: try elements[0].optionalBytes("LEASE.GET"), status: status, cas: try elements[2].int("LEASE.GET"))
    }

    /// `LEASE.SET key value [PX ms] CAS cas`; `false` when the lease was superseded (nothing stored).
    @discardableResult
    func leaseSet(_ key: String, _ value: ByteBuffer, ttl: Duration?, cas: Int64) async throws(RoostClientError)
        -> Bool
    {
        let milliseconds = ttl.map { max(1, Self.milliseconds($0)) }
        let reply = try await execute("LEASE.SET", key: key, readOnly: false) { buffer in
            buffer.writeRoostCommand("LEASE.SET", argumentCount: milliseconds == nil ? 4 : 6)
            buffer.writeRESPBulkString(key)
            value.writeRESPBulkString(into: &buffer)
            if let milliseconds {
                buffer.writeRESPBulkString("PX")
                milliseconds.writeRESPBulkString(into: &buffer)
            }
            buffer.writeRESPBulkString("CAS")
            cas.writeRESPBulkString(into: &buffer)
        }
        switch reply {
        case .integer: return true
        case .null, .bulkString(nil): return false
        default: throw reply.unexpected("LEASE.SET")
        }
    }

    /// A duration in whole seconds, rounded up, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int64 {
        max(1, (milliseconds(duration) + 999) / 1000)
    }
}

/// The loads in flight in this process, one per key (single flight), and whether the server knows `LEASE.*`.
final class LoadFlights: Sendable {
    /// One load: its waiters while it runs, then its result (for a waiter that found the flight just before it
    /// ended).
    private final class Flight: Sendable {
        enum State {
            case running([CheckedContinuation<ByteBuffer, any Error>])
            case done(Result<ByteBuffer, any Error>)
        }
        let state = Mutex(State.running([]))
    }

    private let flights = Mutex<[String: Flight]>([:])
    private let leases = Atomic<Bool>(true)

    /// Cleared when the server answers `LEASE.GET` with "unknown command".
    var serverHasLeases: Bool {
        get { leases.load(ordering: .relaxed) }
        set { leases.store(newValue, ordering: .relaxed) }
    }

    /// Runs `load` for `key` unless a load of `key` is already running, in which case it waits for that one's
    /// result.
    func singleFlight(_ key: String, _ load: () async throws -> ByteBuffer) async throws -> ByteBuffer {
        let (flight, leads) = flights.withLock { flights in
            if let flight = flights[key] { return (flight, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
        guard leads else {
            return try await withCheckedThrowingContinuation { continuation in
                let finished: Result<ByteBuffer, any Error>? = flight.state.withLock { state in
                    switch state {
                    case .running(var waiters):
                        waiters.append(continuation)
                        state = .running(waiters)
                        return nil
                    case .done(let result):
                        return result
                    }
                }
                if let finished { continuation.resume(with: finished) }
            }
        }
        let result: Result<ByteBuffer, any Error>
        do {
            result = .success(try await load())
        } catch {
            result = .failure(error)
        }
        // Remove the flight first: a caller arriving from now on starts a new load.
        flights.withLock { _ = $0.removeValue(forKey: key) }
        let waiters = flight.state.withLock { state in
            defer { state = .done(result) }
            if case .running(let waiters) = state { return waiters }
            return []
        }
        for waiter in waiters { waiter.resume(with: result) }
        return try result.get()
    }
}
