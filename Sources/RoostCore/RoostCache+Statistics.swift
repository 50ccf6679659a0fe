extension RoostCache {
    /// What a ``RoostCache`` has done since it was created (or since ``RoostCache/resetStatistics()``): the
    /// counters the server reports in `INFO stats`.
    public struct Statistics: Sendable, Hashable {
        /// Lookups (`RoostCache/get(_:)`, ``RoostCache/withValue(_:_:)``,
        /// `RoostCache/getOrInsert(_:ttl:_:)`) that found a live value.
        public var hits: Int
        /// Lookups that found nothing, or only an expired value.
        public var misses: Int
        /// Entries removed because their time to live ran out: lazily, by ``RoostCache/purgeExpired(budget:)``, or
        /// when eviction chose an entry that had already expired.
        public var expired: Int
        /// Live entries removed to stay within ``RoostCache/maximumBytes``.
        public var evicted: Int

        /// Creates counters.
        public init(hits: Int = 0, misses: Int = 0, expired: Int = 0, evicted: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.expired = expired
            self.evicted = evicted
        }

        init(_ keyspace: Keyspace.Statistics) {
            self.init(
                hits: keyspace.keyspaceHits, misses: keyspace.keyspaceMisses, expired: keyspace.expiredKeys,
                evicted: keyspace.evictedKeys)
        }

        /// Hits over lookups, or nil before the first lookup.
        public var hitRatio: Double? {
            let lookups = hits + misses
            return lookups == 0 ? nil : Double(hits) / Double(lookups)
        }
    }
}
