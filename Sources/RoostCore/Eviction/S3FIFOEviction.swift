/// S3-FIFO: three static FIFO queues (small, main, ghost) that drop one-hit wonders quickly.
///
/// Yang, Zhang, Qiu, Yue and Rashmi, "FIFO queues are all you need for cache eviction", SOSP 2023. This type follows
/// the paper's Algorithm 1.
///
/// ## Terms
/// - **S**, the small FIFO: new objects enter here; it is given 10% of the budget.
/// - **M**, the main FIFO: objects that proved themselves; 90% of the budget.
/// - **G**, the ghost FIFO: hashes (no data) of objects evicted from S, bounded like M (90% of the budget, counted
///   in the sizes of the objects it remembers).
/// - **freq**: a 2-bit access counter per cached object, `min(freq + 1, 3)` on every hit, 0 on insertion.
///
/// ## Algorithm 1
/// - Insert x: if x's hash is in G, insert x at the head of M (and forget the ghost), else at the head of S.
/// - Evict: if S holds at least 10% of the budget, evict from S, else evict from M.
/// - Evict from S: take S's tail t. If `t.freq > 1`, move t to M's head (and if M is now over its share, evict from
///   M); otherwise evict t and remember its hash in G. Repeat until one object is evicted.
/// - Evict from M: take M's tail t. If `t.freq > 0`, reinsert t at M's head with `freq - 1` (a 2-bit CLOCK); otherwise
///   evict t.
///
/// ## Deviations and choices
/// - The algorithm is driven by the caller's ``victim()`` loop, so "evict" means "return the slot to evict"; the
///   caller deletes it and reports ``removed(_:)``. S evicts as soon as S is at or over its 10% share; M is "full"
///   when its bytes exceed 90% of ``capacity``.
/// - An object moved from S to M starts M with `freq` 0 (Algorithm 1 does not say; the authors' libCacheSim
///   implementation creates a fresh main-queue object, which is what this does).
/// - Deleted or expired keys (``removed(_:)`` without a preceding ``victim()``) are not remembered in G.
public struct S3FIFOEviction: EvictionPolicy {
    enum Queue: UInt8, Sendable {
        case none, small, main
    }

    struct Node: EvictionListNode, CompactSize, CompactHash, Sendable {
        var previous: Int32 = noSlot
        var next: Int32 = noSlot
        var storedSize: UInt32 = 0
        var storedHash: UInt32 = 0
        var frequency: UInt8 = 0
        var queue = Queue.none
    }

    var nodes: [Node] = []
    var small = EvictionList()
    var main = EvictionList()
    var ghost: GhostQueue
    var pendingVictim: Int32 = noSlot

    /// Fraction of the budget given to the small queue (the paper's 10%).
    public let smallRatio: Double

    /// The byte budget; S gets ``smallRatio`` of it, M and G the rest.
    public var capacity: Int {
        didSet { ghost.capacity = mainCapacity }
    }
    /// Number of cached slots (S and M; ghosts are not counted).
    public var count: Int { small.count + main.count }
    /// Bytes of cached slots.
    public var bytes: Int { small.bytes + main.bytes }
    /// Number of hashes in the ghost queue.
    public var ghostCount: Int { ghost.count }

    var smallCapacity: Int { Int(Double(capacity) * smallRatio) }
    var mainCapacity: Int { capacity - smallCapacity }

    /// Creates an empty S3-FIFO for a budget of `capacity` bytes.
    public init(capacity: Int, smallRatio: Double = 0.1) {
        self.capacity = capacity
        self.smallRatio = smallRatio
        ghost = GhostQueue(capacity: capacity - Int(Double(capacity) * smallRatio))
    }

    /// Inserts into M on a ghost hit, else into S, with `freq` 0.
    public mutating func inserted(_ slot: Int32, hash: UInt64, size: Int) {
        nodes.ensureSlot(slot, filler: Node())
        precondition(nodes[Int(slot)].queue == .none, "S3-FIFO: slot \(slot) inserted twice")
        nodes[Int(slot)].size = size
        nodes[Int(slot)].hash = hash
        nodes[Int(slot)].frequency = 0
        if ghost.remove(hash) {
            nodes[Int(slot)].queue = .main
            main.pushHead(slot, size: size, in: &nodes)
        } else {
            nodes[Int(slot)].queue = .small
            small.pushHead(slot, size: size, in: &nodes)
        }
    }

    /// `freq = min(freq + 1, 3)`.
    @inline(__always) public mutating func accessed(_ slot: Int32) {
        let frequency = nodes[Int(slot)].frequency
        if frequency < 3 { nodes[Int(slot)].frequency = frequency + 1 }
    }

    /// Updates the object's size and its queue's bytes.
    public mutating func resized(_ slot: Int32, to size: Int) {
        let delta = size - nodes[Int(slot)].size
        nodes[Int(slot)].size = size
        switch nodes[Int(slot)].queue {
        case .small: small.bytes += delta
        case .main: main.bytes += delta
        case .none: preconditionFailure("S3-FIFO: resized slot \(slot) is not tracked")
        }
    }

    /// Unlinks the object from its queue.
    public mutating func removed(_ slot: Int32) {
        let node = nodes[Int(slot)]
        switch node.queue {
        case .small: small.remove(slot, size: node.size, in: &nodes)
        case .main: main.remove(slot, size: node.size, in: &nodes)
        case .none: preconditionFailure("S3-FIFO: removed slot \(slot) is not tracked")
        }
        nodes[Int(slot)].queue = .none
        if pendingVictim == slot { pendingVictim = noSlot }
    }

    /// Moves the object's metadata to its new slot.
    public mutating func moved(from: Int32, to: Int32) {
        nodes.ensureSlot(to, filler: Node())
        precondition(
            nodes[Int(from)].queue != .none && nodes[Int(to)].queue == .none, "S3-FIFO: bad move \(from) -> \(to)")
        nodes[Int(to)] = nodes[Int(from)]
        nodes[Int(from)] = Node()
        switch nodes[Int(to)].queue {
        case .small: small.relink(from: from, to: to, in: &nodes)
        case .main: main.relink(from: from, to: to, in: &nodes)
        case .none: break
        }
        if pendingVictim == from { pendingVictim = to }
    }

    /// Algorithm 1's EVICT.
    public mutating func victim() -> Int32? {
        if pendingVictim != noSlot { return pendingVictim }
        guard count > 0 else { return nil }
        let slot = (small.bytes >= smallCapacity || main.isEmpty) && !small.isEmpty ? evictSmall() : evictMain()
        pendingVictim = slot
        return slot
    }

    private mutating func evictSmall() -> Int32 {
        while small.tail != noSlot {
            let tail = small.tail
            let node = nodes[Int(tail)]
            small.remove(tail, size: node.size, in: &nodes)
            if node.frequency > 1 {
                nodes[Int(tail)].queue = .main
                nodes[Int(tail)].frequency = 0
                main.pushHead(tail, size: node.size, in: &nodes)
                if main.bytes > mainCapacity { return evictMain() }
            } else {
                // Evicted: the caller deletes it; it stays tracked (at S's tail) until ``removed(_:)``.
                small.pushTail(tail, size: node.size, in: &nodes)
                ghost.insert(node.hash, size: node.size)
                return tail
            }
        }
        return evictMain()
    }

    private mutating func evictMain() -> Int32 {
        while true {
            let tail = main.tail
            precondition(tail != noSlot, "S3-FIFO: evicting from an empty main queue (small \(small.count))")
            let frequency = nodes[Int(tail)].frequency
            if frequency == 0 { return tail }
            nodes[Int(tail)].frequency = frequency - 1
            main.moveToHead(tail, in: &nodes)
        }
    }

    /// The queue a slot is in (`"small"`, `"main"`), or nil, for tests and introspection.
    public func queue(of slot: Int32) -> String? {
        guard Int(slot) < nodes.count else { return nil }
        switch nodes[Int(slot)].queue {
        case .small: return "small"
        case .main: return "main"
        case .none: return nil
        }
    }

    /// The object's 2-bit access counter.
    public func frequency(of slot: Int32) -> Int { Int(nodes[Int(slot)].frequency) }

    /// Whether the ghost queue remembers `hash`.
    public func ghostContains(_ hash: UInt64) -> Bool { ghost.contains(hash) }
}
