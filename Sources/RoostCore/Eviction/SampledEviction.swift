/// Redis's approximated policies: `allkeys-lru`, `allkeys-lfu`, `allkeys-random`, `volatile-lru`, `volatile-lfu`,
/// `volatile-random` and `volatile-ttl`, with Redis's parameters (`maxmemory-samples`, `lfu-log-factor`,
/// `lfu-decay-time`).
///
/// Redis does not keep keys in recency order. Each eviction samples `maxmemory-samples` random keys, scores them, and
/// merges them into a 16-entry **eviction pool** kept sorted by score; the best-scored pool entry is evicted. The pool
/// carries good candidates across evictions, which brings the approximation close to true LRU (Redis 3.0; see
/// antirez, "Random notes on improving the Redis LRU algorithm", 2016, and `evict.c`). LFU is Redis 4.0's
/// *Morris-counter* LFU: an 8-bit logarithmic counter per key, incremented with probability
/// `1 / ((counter - 5) × lfu-log-factor + 1)` and decremented by one for every `lfu-decay-time` minutes the key sat
/// unaccessed (Morris, "Counting large numbers of events in small registers", CACM 1978).
///
/// ## Scores (higher is evicted first)
/// - LRU: idle time, `clock - lastAccess`, with the clock in units of ``Configuration/lruClockResolution``
///   milliseconds (Redis: 1000).
/// - LFU: `255 - counter`, the counter decayed as of now (new keys start at 5, `LFU_INIT_VAL`).
/// - TTL: keys expiring sooner score higher.
/// - Random: no pool; a uniform random candidate.
///
/// ## Volatile variants
/// ``expiryChanged(_:at:)`` keeps a second dense set of the keys that carry a time to live. The `volatile-*` scopes
/// sample from that set only; when it is empty ``victim()`` returns nil (Redis then answers `-OOM`).
///
/// ## Deviations
/// - Candidates are drawn uniformly from a dense array of tracked slots (Redis samples a run of buckets with
///   `dictGetSomeKeys`, which is less uniform); a key sampled while already in the pool updates its entry instead of
///   occupying two.
/// - Pool entries keep the score they had when sampled (as in Redis); entries of removed keys are purged at removal
///   rather than skipped at eviction.
public struct SampledEviction: EvictionPolicy {
    /// What the sampled keys are scored by.
    public enum Criterion: Sendable, Hashable {
        /// Least recently used.
        case lru
        /// Least frequently used (Redis's logarithmic counter with decay).
        case lfu
        /// Uniformly random.
        case random
        /// Nearest expiry (volatile only).
        case ttl
    }

    /// Which keys are candidates.
    public enum Scope: Sendable, Hashable {
        /// Every key (`allkeys-*`).
        case allKeys
        /// Only keys with a time to live (`volatile-*`).
        case volatile
    }

    /// Redis's tuning knobs.
    public struct Configuration: Sendable, Hashable {
        /// `maxmemory-samples`: keys sampled per eviction (Redis default 5).
        public var samples: Int = 5
        /// `lfu-log-factor` (Redis default 10).
        public var lfuLogFactor: Int = 10
        /// `lfu-decay-time` in minutes (Redis default 1; 0 disables decay).
        public var lfuDecayTime: Int = 1
        /// Milliseconds per tick of the LRU clock (Redis: 1000).
        public var lruClockResolution: Int64 = 1000
        /// Eviction pool entries (Redis's `EVPOOL_SIZE`, 16).
        public var poolSize: Int = 16

        /// Redis's defaults.
        public init() {}
    }

    struct Node: CompactSize, Sendable {
        var storedSize: UInt32 = 0
        var member: Int32 = noSlot  // index in `members`, or noSlot if not tracked
        var volatileMember: Int32 = noSlot  // index in `volatileMembers`
        var lastAccess: UInt32 = 0  // LRU clock ticks; for LFU: minutes of the last decrement/increment
        var counter: UInt8 = 0
        var expireAt: Int64 = 0
    }

    struct PoolEntry: Sendable {
        var slot: Int32
        var score: UInt64
    }

    /// Counter value of a new key (Redis's `LFU_INIT_VAL`).
    public static let lfuInitialValue: UInt8 = 5

    var nodes: [Node] = []
    var members: [Int32] = []
    var volatileMembers: [Int32] = []
    var pool: [PoolEntry] = []  // ascending score; the last entry is evicted first
    var random: EvictionRandom
    var now: Int64 = 0
    var pendingVictim: Int32 = noSlot
    private(set) public var bytes = 0

    /// The scoring criterion.
    public let criterion: Criterion
    /// The candidate scope.
    public let scope: Scope
    /// Redis's knobs.
    public var configuration: Configuration
    /// The byte budget (recorded only: sampling needs no partitions).
    public var capacity: Int
    /// Number of slots tracked.
    public var count: Int { members.count }
    /// Number of tracked slots that carry a time to live.
    public var volatileCount: Int { volatileMembers.count }

    /// Creates an empty sampled policy.
    public init(
        criterion: Criterion, scope: Scope, capacity: Int, configuration: Configuration = Configuration(),
        seed: UInt64 = 0x5EED
    ) {
        self.criterion = criterion
        self.scope = scope
        self.capacity = capacity
        self.configuration = configuration
        random = EvictionRandom(seed: seed)
        pool.reserveCapacity(configuration.poolSize + 1)
    }

    var lruClock: UInt32 { UInt32(truncatingIfNeeded: now / max(configuration.lruClockResolution, 1)) }
    var minutes: UInt32 { UInt32(truncatingIfNeeded: now / 60_000) }

    /// Sets the clock (milliseconds; any epoch, it only has to be monotonic).
    public mutating func advanceClock(to now: Int64) {
        self.now = now
    }

    /// Tracks a new key, stamped now, with the initial LFU counter.
    public mutating func inserted(_ slot: Int32, hash: UInt64, size: Int) {
        nodes.ensureSlot(slot, filler: Node())
        precondition(nodes[Int(slot)].member == noSlot, "sampled: slot \(slot) inserted twice")
        var node = Node(member: Int32(members.count))
        node.size = size
        if criterion == .lfu {
            node.lastAccess = minutes
            node.counter = Self.lfuInitialValue
        } else {
            node.lastAccess = lruClock
        }
        nodes[Int(slot)] = node
        members.append(slot)
        bytes += size
    }

    /// Stamps the access: LRU clock, or decay-then-logarithmic-increment of the LFU counter.
    @inline(__always) public mutating func accessed(_ slot: Int32) {
        if criterion == .lfu {
            let decayed = decayedCounter(nodes[Int(slot)])
            nodes[Int(slot)].counter = logarithmicIncrement(decayed)
            nodes[Int(slot)].lastAccess = minutes
        } else {
            nodes[Int(slot)].lastAccess = lruClock
        }
    }

    /// Updates the key's size.
    public mutating func resized(_ slot: Int32, to size: Int) {
        bytes += size - nodes[Int(slot)].size
        nodes[Int(slot)].size = size
    }

    /// Adds the key to, or drops it from, the volatile set.
    public mutating func expiryChanged(_ slot: Int32, at expireAt: Int64?) {
        precondition(nodes[Int(slot)].member != noSlot, "sampled: expiry of untracked slot \(slot)")
        if let expireAt {
            nodes[Int(slot)].expireAt = expireAt
            if nodes[Int(slot)].volatileMember == noSlot {
                nodes[Int(slot)].volatileMember = Int32(volatileMembers.count)
                volatileMembers.append(slot)
            }
        } else if nodes[Int(slot)].volatileMember != noSlot {
            removeVolatile(slot)
            if scope == .volatile { purgeFromPool(slot) }
        }
    }

    /// Stops tracking the key.
    public mutating func removed(_ slot: Int32) {
        let node = nodes[Int(slot)]
        precondition(node.member != noSlot, "sampled: removed slot \(slot) is not tracked")
        if node.volatileMember != noSlot { removeVolatile(slot) }
        let last = members.removeLast()
        if last != slot {
            members[Int(node.member)] = last
            nodes[Int(last)].member = node.member
        }
        bytes -= node.size
        nodes[Int(slot)] = Node()
        purgeFromPool(slot)
        if pendingVictim == slot { pendingVictim = noSlot }
    }

    /// Moves the key's metadata to its new slot.
    public mutating func moved(from: Int32, to: Int32) {
        nodes.ensureSlot(to, filler: Node())
        let node = nodes[Int(from)]
        precondition(node.member != noSlot && nodes[Int(to)].member == noSlot, "sampled: bad move \(from) -> \(to)")
        nodes[Int(to)] = node
        nodes[Int(from)] = Node()
        members[Int(node.member)] = to
        if node.volatileMember != noSlot { volatileMembers[Int(node.volatileMember)] = to }
        for index in pool.indices where pool[index].slot == from { pool[index].slot = to }
        if pendingVictim == from { pendingVictim = to }
    }

    /// Samples candidates into the pool and returns the best-scored one.
    public mutating func victim() -> Int32? {
        if pendingVictim != noSlot { return pendingVictim }
        let candidates = scope == .allKeys ? members : volatileMembers
        guard !candidates.isEmpty else { return nil }
        if criterion == .random {
            pendingVictim = candidates[random.below(candidates.count)]
            return pendingVictim
        }
        for _ in 0..<max(configuration.samples, 1) {
            let slot = candidates[random.below(candidates.count)]
            offerToPool(slot, score: score(of: slot))
        }
        pendingVictim = pool.removeLast().slot
        return pendingVictim
    }

    // MARK: Introspection

    /// The key's LFU counter as of now (Redis's `OBJECT FREQ`), decayed but not incremented.
    public func frequency(of slot: Int32) -> Int { Int(decayedCounter(nodes[Int(slot)])) }

    /// Milliseconds since the key's last access on the LRU clock (Redis's `OBJECT IDLETIME`, in ms).
    public func idleTime(of slot: Int32) -> Int64 {
        Int64(lruClock &- nodes[Int(slot)].lastAccess) * max(configuration.lruClockResolution, 1)
    }

    /// Whether the key is in the volatile set.
    public func hasExpiry(_ slot: Int32) -> Bool { nodes[Int(slot)].volatileMember != noSlot }

    // MARK: Scoring

    func score(of slot: Int32) -> UInt64 {
        let node = nodes[Int(slot)]
        switch criterion {
        case .lru: return UInt64(lruClock &- node.lastAccess)
        case .lfu: return 255 - UInt64(decayedCounter(node))
        case .ttl: return UInt64.max - UInt64(bitPattern: node.expireAt)
        case .random: return 0
        }
    }

    /// Redis's `LFUDecrAndReturn`: one decrement per `lfu-decay-time` minutes since the last access.
    func decayedCounter(_ node: Node) -> UInt8 {
        guard configuration.lfuDecayTime > 0 else { return node.counter }
        let periods = Int(minutes &- node.lastAccess) / configuration.lfuDecayTime
        return periods >= Int(node.counter) ? 0 : node.counter - UInt8(periods)
    }

    /// Redis's `LFULogIncr`.
    mutating func logarithmicIncrement(_ counter: UInt8) -> UInt8 {
        guard counter < 255 else { return 255 }
        let base = Double(max(Int(counter) - Int(Self.lfuInitialValue), 0))
        let probability = 1.0 / (base * Double(configuration.lfuLogFactor) + 1)
        return random.unit() < probability ? counter + 1 : counter
    }

    // MARK: Pool

    mutating func offerToPool(_ slot: Int32, score: UInt64) {
        if let existing = pool.firstIndex(where: { $0.slot == slot }) { pool.remove(at: existing) }
        if pool.count >= configuration.poolSize {
            guard score > pool[0].score else { return }
            pool.removeFirst()
        }
        var position = pool.count
        while position > 0 && pool[position - 1].score > score { position -= 1 }
        pool.insert(PoolEntry(slot: slot, score: score), at: position)
    }

    mutating func purgeFromPool(_ slot: Int32) {
        if let index = pool.firstIndex(where: { $0.slot == slot }) { pool.remove(at: index) }
    }

    mutating func removeVolatile(_ slot: Int32) {
        let position = nodes[Int(slot)].volatileMember
        let last = volatileMembers.removeLast()
        if last != slot {
            volatileMembers[Int(position)] = last
            nodes[Int(last)].volatileMember = position
        }
        nodes[Int(slot)].volatileMember = noSlot
    }
}
