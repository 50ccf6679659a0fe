extension RoostCache {
    /// What a ``RoostCache`` evicts when it reaches its byte budget: the server's `maxmemory-policy` choices, by
    /// short names.
    ///
    /// The modern policies (``s3fifo``, ``sieve``, ``tinyLFU``) keep more of what is read again than LRU on most
    /// workloads; Redis's sampled policies (``lru``, ``lfu``, ``random`` and the `volatile` ones) behave as Redis's do.
    /// Each policy's type documents its algorithm and cites its paper.
    ///
    /// A struct with static members rather than an enum, so that a policy added later does not break code that
    /// switches over the existing ones.
    public struct Policy: Sendable, Hashable, CustomStringConvertible {
        /// The engine's policy (``EvictionState/Kind``), whose raw value is the server's `maxmemory-policy` name.
        public let kind: EvictionState.Kind

        /// The policy for an engine policy kind.
        public init(_ kind: EvictionState.Kind) {
            self.kind = kind
        }

        /// The policy with a server `maxmemory-policy` name (`"allkeys-lru"`) or a short name (`"lru"`, `"s3fifo"`,
        /// `"tinylfu"`, `"volatile-ttl"`), case-insensitively; nil for an unknown name.
        public init?(name: String) {
            let name = name.lowercased()
            guard let kind = EvictionState.Kind(rawValue: name) ?? EvictionState.Kind(rawValue: "allkeys-" + name)
            else { return nil }
            self.kind = kind
        }

        /// The default: ``sieve``, the policy with the lowest miss ratio in most of Roost's trace suite when every
        /// policy gets the same memory and pays for its own metadata (16 bytes per key, no ghost, no sketch); see
        /// `docs/EVICTION.md` for the measurements.
        public static let `default` = sieve

        /// SIEVE (Zhang et al., NSDI'24): one FIFO queue with a visited bit and a moving hand (``SieveEviction``).
        public static let sieve = Policy(.allKeysSieve)
        /// S3-FIFO (Yang et al., SOSP'23): small, main and ghost FIFO queues (``S3FIFOEviction``).
        public static let s3fifo = Policy(.allKeysS3FIFO)
        /// W-TinyLFU (Einziger et al.): an LRU window, a segmented main area and a count-min frequency sketch with a
        /// doorkeeper deciding admission (``WTinyLFUEviction``).
        public static let tinyLFU = Policy(.allKeysTinyLFU)
        /// Redis's sampled approximation of least recently used, over every entry (`allkeys-lru`).
        public static let lru = Policy(.allKeysLRU)
        /// Redis's sampled least frequently used with a decaying logarithmic counter, over every entry
        /// (`allkeys-lfu`).
        public static let lfu = Policy(.allKeysLFU)
        /// A uniformly random entry (`allkeys-random`).
        public static let random = Policy(.allKeysRandom)
        /// Sampled LRU over the entries that have a time to live (`volatile-lru`).
        public static let volatileLRU = Policy(.volatileLRU)
        /// Sampled LFU over the entries that have a time to live (`volatile-lfu`).
        public static let volatileLFU = Policy(.volatileLFU)
        /// A random entry among those that have a time to live (`volatile-random`).
        public static let volatileRandom = Policy(.volatileRandom)
        /// The sampled entry with a time to live that expires soonest (`volatile-ttl`).
        public static let volatileTTL = Policy(.volatileTTL)
        /// Never evict: a write that does not fit the budget is refused (`noeviction`).
        public static let noEviction = Policy(.noEviction)

        /// Every policy, in the order the server lists them.
        public static var allCases: [Policy] {
            EvictionState.Kind.allCases.map(Policy.init)
        }

        /// Whether the policy evicts only entries that have a time to live.
        public var isVolatile: Bool { kind.isVolatile }

        /// The server's `maxmemory-policy` name, e.g. `allkeys-sieve`.
        public var name: String { kind.rawValue }

        /// The server's `maxmemory-policy` name.
        public var description: String { name }
    }
}
