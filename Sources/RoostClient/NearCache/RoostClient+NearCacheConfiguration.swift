public import RoostCore

extension RoostClient.Configuration {
    /// An optional in-process cache in front of the server for `GET`-family reads, kept coherent by the server's
    /// client-side-caching invalidations (`CLIENT TRACKING` over RESP3).
    ///
    /// Set ``RoostClient/Configuration/nearCache`` to enable it:
    ///
    /// ```swift
    /// var configuration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: 6379)
    /// configuration.nearCache = .init(maximumBytes: 64 << 20, maximumLifetime: .seconds(60))
    /// ```
    ///
    /// ``RoostClient/get(_:)``, ``RoostClient/getString(_:)``, ``RoostClient/get(_:as:)`` and
    /// ``RoostClient/mget(_:)`` then answer from local memory on a hit. A miss is read through a dedicated tracking
    /// connection per node, and the value is kept until the server says the key changed, the client itself writes
    /// it, ``maximumLifetime`` passes, or the byte budget evicts it. A key is served locally only while the
    /// connection that carries its invalidations is healthy: when it closes, errs, misses a heartbeat, or the
    /// cluster topology changes, the whole near cache is flushed. See docs/CLIENT.md, "Near cache", for the
    /// guarantees and the measured staleness window.
    public struct NearCache: Sendable {
        /// The byte budget of the local cache (its ``RoostCore/RoostCache/memoryUsage``: keys, values and per-entry
        /// overhead). Entries are evicted by ``policy`` to stay within it.
        public var maximumBytes: Int
        /// The longest a value is served locally after it was read from the server, whatever the invalidations
        /// say: a backstop that also bounds how long a value outlives its expiry on the server when the server
        /// is slow to expire it. `nil` for no bound.
        public var maximumLifetime: Duration?
        /// Which entries the local cache evicts when the budget is reached.
        public var policy: RoostCache.Policy
        /// Only keys starting with one of these prefixes are cached; the empty list (the default) caches every
        /// key read with `get`/`mget`.
        public var keyPrefixes: [String]
        /// How often the client, while ``RoostClient/run()`` runs, checks each tracking connection with a `PING`.
        public var heartbeatInterval: Duration
        /// How long a heartbeat (or a read on a tracking connection) may wait for its answer before the
        /// connection is presumed broken: it is closed and the near cache flushed.
        public var heartbeatTimeout: Duration

        /// Creates a near-cache configuration.
        ///
        /// - Parameters:
        ///   - maximumBytes: the local byte budget; at least 64 KiB is used.
        ///   - maximumLifetime: the longest a value is kept locally (default 60 s; `nil` for no bound).
        ///   - policy: the eviction policy (default ``RoostCore/RoostCache/Policy/default``).
        ///   - keyPrefixes: cache only keys with one of these prefixes (default: every key).
        ///   - heartbeatInterval: how often tracking connections are checked (default 1 s).
        ///   - heartbeatTimeout: how long a check may take before the connection is given up (default 2 s).
        public init(
            maximumBytes: Int = 32 << 20,
            maximumLifetime: Duration? = .seconds(60),
            policy: RoostCache.Policy = .default,
            keyPrefixes: [String] = [],
            heartbeatInterval: Duration = .seconds(1),
            heartbeatTimeout: Duration = .seconds(2)
        ) {
            self.maximumBytes = max(64 << 10, maximumBytes)
            self.maximumLifetime = maximumLifetime
            self.policy = policy
            self.keyPrefixes = keyPrefixes
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
        }

        /// Whether reads of `key` go through the near cache.
        func caches(_ key: String) -> Bool {
            if keyPrefixes.isEmpty { return true }
            for prefix in keyPrefixes where key.utf8.starts(with: prefix.utf8) { return true }
            return false
        }
    }
}

extension RoostClient {
    /// What the near cache has done since the client was created.
    public struct NearCacheStatistics: Sendable, Hashable {
        /// Reads answered from local memory (one per key for `mget`).
        public var hits: Int
        /// Reads of cacheable keys that went to the server.
        public var misses: Int
        /// Of the misses, those read without caching because no healthy tracking connection was available
        /// (connecting, broken, or a server without RESP3 or `CLIENT TRACKING`).
        public var uncachedReads: Int
        /// Values stored locally after a miss.
        public var stores: Int
        /// Values read from the server but not stored because the key was invalidated, or the near cache
        /// flushed, while the read was in flight.
        public var discardedReplies: Int
        /// Keys named in `invalidate` pushes from the server.
        public var invalidationsReceived: Int
        /// Keys invalidated locally because this client wrote them.
        public var localInvalidations: Int
        /// Times the whole near cache was emptied: a tracking connection lost or failing a heartbeat, a null
        /// invalidation (`FLUSHALL`/`FLUSHDB` on the server), a `flushall()` from this client, a cluster topology
        /// change.
        public var flushes: Int
        /// Entries held now.
        public var entries: Int
        /// Bytes held now, as the budget counts them.
        public var memoryUsage: Int
        /// Entries evicted to stay within the byte budget.
        public var evictions: Int
        /// Entries dropped because ``Configuration/NearCache/maximumLifetime`` passed.
        public var expirations: Int

        /// Creates statistics (all zero by default).
        public init(
            hits: Int = 0, misses: Int = 0, uncachedReads: Int = 0, stores: Int = 0, discardedReplies: Int = 0,
            invalidationsReceived: Int = 0, localInvalidations: Int = 0, flushes: Int = 0, entries: Int = 0,
            memoryUsage: Int = 0, evictions: Int = 0, expirations: Int = 0
        ) {
            self.hits = hits
            self.misses = misses
            self.uncachedReads = uncachedReads
            self.stores = stores
            self.discardedReplies = discardedReplies
            self.invalidationsReceived = invalidationsReceived
            self.localInvalidations = localInvalidations
            self.flushes = flushes
            self.entries = entries
            self.memoryUsage = memoryUsage
            self.evictions = evictions
            self.expirations = expirations
        }
    }
}
