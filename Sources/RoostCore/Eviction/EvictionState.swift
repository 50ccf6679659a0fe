/// The keyspace's eviction policy, chosen by name at run time and dispatched with a `switch` over concrete policy
/// types (no existential on the hot path).
///
/// Only the policy in use holds per-slot state; the others stay empty. See ``EvictionPolicy`` for the events the table
/// reports and the eviction protocol.
public struct EvictionState: EvictionPolicy {
    /// The policies by their configuration names (`maxmemory-policy`).
    public enum Kind: String, CaseIterable, Sendable, Hashable {
        /// Never evict; writes over the limit fail with `-OOM`.
        case noEviction = "noeviction"
        /// Redis's sampled LRU over all keys.
        case allKeysLRU = "allkeys-lru"
        /// Redis's sampled LFU over all keys.
        case allKeysLFU = "allkeys-lfu"
        /// A uniformly random key.
        case allKeysRandom = "allkeys-random"
        /// Sampled LRU over keys with a TTL.
        case volatileLRU = "volatile-lru"
        /// Sampled LFU over keys with a TTL.
        case volatileLFU = "volatile-lfu"
        /// A random key with a TTL.
        case volatileRandom = "volatile-random"
        /// The sampled key with a TTL that expires soonest.
        case volatileTTL = "volatile-ttl"
        /// ``S3FIFOEviction``.
        case allKeysS3FIFO = "allkeys-s3fifo"
        /// ``SieveEviction``.
        case allKeysSieve = "allkeys-sieve"
        /// ``WTinyLFUEviction``.
        case allKeysTinyLFU = "allkeys-tinylfu"

        /// Whether the policy only evicts keys that carry a time to live.
        public var isVolatile: Bool {
            switch self {
            case .volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL: return true
            default: return false
            }
        }
    }

    enum Engine: Sendable {
        case none, sampled, s3fifo, sieve, tinyLFU
    }

    /// The policy in use.
    public let kind: Kind
    let engine: Engine
    var noneBytes = 0
    var noneCount = 0
    var sampled: SampledEviction
    var s3fifo: S3FIFOEviction
    var sieve: SieveEviction
    var tinyLFU: WTinyLFUEviction

    /// Creates the state for `kind` with a budget of `capacity` bytes.
    /// - Parameters:
    ///   - expectedCount: about how many keys fit (sizes W-TinyLFU's sketch; it grows if exceeded).
    ///   - sampling: Redis's knobs for the sampled policies.
    ///   - seed: seeds the sampled policies' generator.
    public init(
        _ kind: Kind, capacity: Int, expectedCount: Int = 1024,
        sampling: SampledEviction.Configuration = SampledEviction.Configuration(), seed: UInt64 = 0x5EED
    ) {
        self.kind = kind
        let unused = 0
        var sampledCriterion = SampledEviction.Criterion.lru
        var sampledScope = SampledEviction.Scope.allKeys
        switch kind {
        case .noEviction: engine = .none
        case .allKeysLRU: engine = .sampled
        case .allKeysLFU:
            engine = .sampled
            sampledCriterion = .lfu
        case .allKeysRandom:
            engine = .sampled
            sampledCriterion = .random
        case .volatileLRU:
            engine = .sampled
            sampledScope = .volatile
        case .volatileLFU:
            engine = .sampled
            sampledCriterion = .lfu
            sampledScope = .volatile
        case .volatileRandom:
            engine = .sampled
            sampledCriterion = .random
            sampledScope = .volatile
        case .volatileTTL:
            engine = .sampled
            sampledCriterion = .ttl
            sampledScope = .volatile
        case .allKeysS3FIFO: engine = .s3fifo
        case .allKeysSieve: engine = .sieve
        case .allKeysTinyLFU: engine = .tinyLFU
        }
        sampled = SampledEviction(
            criterion: sampledCriterion, scope: sampledScope, capacity: engine == .sampled ? capacity : unused,
            configuration: sampling, seed: seed)
        s3fifo = S3FIFOEviction(capacity: engine == .s3fifo ? capacity : unused)
        sieve = SieveEviction(capacity: engine == .sieve ? capacity : unused)
        tinyLFU = WTinyLFUEviction(
            capacity: engine == .tinyLFU ? capacity : unused, expectedCount: engine == .tinyLFU ? expectedCount : 0)
    }

    /// The byte budget.
    public var capacity: Int {
        get {
            switch engine {
            case .none: return Int.max
            case .sampled: return sampled.capacity
            case .s3fifo: return s3fifo.capacity
            case .sieve: return sieve.capacity
            case .tinyLFU: return tinyLFU.capacity
            }
        }
        set {
            switch engine {
            case .none: break
            case .sampled: sampled.capacity = newValue
            case .s3fifo: s3fifo.capacity = newValue
            case .sieve: sieve.capacity = newValue
            case .tinyLFU: tinyLFU.capacity = newValue
            }
        }
    }

    /// Number of slots tracked (`noeviction` tracks only the count).
    public var count: Int {
        switch engine {
        case .none: return noneCount
        case .sampled: return sampled.count
        case .s3fifo: return s3fifo.count
        case .sieve: return sieve.count
        case .tinyLFU: return tinyLFU.count
        }
    }

    /// Sum of the sizes of the slots tracked.
    public var bytes: Int {
        switch engine {
        case .none: return noneBytes
        case .sampled: return sampled.bytes
        case .s3fifo: return s3fifo.bytes
        case .sieve: return sieve.bytes
        case .tinyLFU: return tinyLFU.bytes
        }
    }

    /// Reports a new key.
    public mutating func inserted(_ slot: Int32, hash: UInt64, size: Int) {
        switch engine {
        case .none:
            noneCount += 1
            noneBytes += size
        case .sampled: sampled.inserted(slot, hash: hash, size: size)
        case .s3fifo: s3fifo.inserted(slot, hash: hash, size: size)
        case .sieve: sieve.inserted(slot, hash: hash, size: size)
        case .tinyLFU: tinyLFU.inserted(slot, hash: hash, size: size)
        }
    }

    /// Reports a hit.
    public mutating func accessed(_ slot: Int32) {
        switch engine {
        case .none: break
        case .sampled: sampled.accessed(slot)
        case .s3fifo: s3fifo.accessed(slot)
        case .sieve: sieve.accessed(slot)
        case .tinyLFU: tinyLFU.accessed(slot)
        }
    }

    /// Reports a size change.
    public mutating func resized(_ slot: Int32, to size: Int) {
        switch engine {
        case .none: break  // noeviction does not know old sizes; its bytes are only what inserts reported
        case .sampled: sampled.resized(slot, to: size)
        case .s3fifo: s3fifo.resized(slot, to: size)
        case .sieve: sieve.resized(slot, to: size)
        case .tinyLFU: tinyLFU.resized(slot, to: size)
        }
    }

    /// Reports a key leaving the table.
    public mutating func removed(_ slot: Int32) {
        switch engine {
        case .none: noneCount -= 1
        case .sampled: sampled.removed(slot)
        case .s3fifo: s3fifo.removed(slot)
        case .sieve: sieve.removed(slot)
        case .tinyLFU: tinyLFU.removed(slot)
        }
    }

    /// Reports an arena compaction move.
    public mutating func moved(from: Int32, to: Int32) {
        switch engine {
        case .none: break
        case .sampled: sampled.moved(from: from, to: to)
        case .s3fifo: s3fifo.moved(from: from, to: to)
        case .sieve: sieve.moved(from: from, to: to)
        case .tinyLFU: tinyLFU.moved(from: from, to: to)
        }
    }

    /// Reports a TTL change (only the sampled policies keep it).
    public mutating func expiryChanged(_ slot: Int32, at expireAt: Int64?) {
        if engine == .sampled { sampled.expiryChanged(slot, at: expireAt) }
    }

    /// Sets the clock, in milliseconds (only the sampled policies read it).
    public mutating func advanceClock(to now: Int64) {
        if engine == .sampled { sampled.advanceClock(to: now) }
    }

    /// The slot to evict next, or nil (always nil for `noeviction`).
    public mutating func victim() -> Int32? {
        switch engine {
        case .none: return nil
        case .sampled: return sampled.victim()
        case .s3fifo: return s3fifo.victim()
        case .sieve: return sieve.victim()
        case .tinyLFU: return tinyLFU.victim()
        }
    }

    /// The access frequency the policy keeps for `slot`, for `OBJECT FREQ`: Redis's LFU counter, S3-FIFO's 2-bit
    /// counter, W-TinyLFU's sketch estimate, SIEVE's visited bit; nil for the policies that keep none.
    public func frequency(of slot: Int32) -> Int? {
        switch engine {
        case .none: return nil
        case .sampled: return sampled.criterion == .lfu ? sampled.frequency(of: slot) : nil
        case .s3fifo: return s3fifo.frequency(of: slot)
        case .sieve: return sieve.isVisited(slot) ? 1 : 0
        case .tinyLFU: return tinyLFU.frequency(of: slot)
        }
    }

    /// Milliseconds since the last access of `slot` on the LRU clock, for `OBJECT IDLETIME`; nil unless the policy
    /// keeps access times (the sampled LRU, random and TTL policies).
    public func idleTime(of slot: Int32) -> Int64? {
        guard engine == .sampled, sampled.criterion != .lfu else { return nil }
        return sampled.idleTime(of: slot)
    }
}
