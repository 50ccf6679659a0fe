/// SIEVE: one FIFO queue, one visited bit per object, and a hand that sweeps from the oldest object toward the newest.
///
/// Zhang, Yang, Yue, Vigfusson and Rashmi, "SIEVE is Simpler than LRU: an Efficient Turn-Key Eviction Algorithm for
/// Web Caches", NSDI 2024.
///
/// ## Algorithm
/// - Insert: a new object goes to the head of the queue with its visited bit clear.
/// - Hit: set the visited bit. Nothing moves (hits need no lock in a concurrent implementation).
/// - Evict: start at the hand (or at the tail if the hand is unset); while the object under the hand is visited,
///   clear its bit and step toward the head (wrapping from the head back to the tail). Evict the first unvisited
///   object and leave the hand at its newer neighbour.
///
/// Unlike CLOCK, a retained object stays where it is: objects the hand passes keep their position, so new objects
/// (between the hand and the head) are quickly sieved out while the popular ones settle near the tail ("lazy
/// promotion, quick demotion").
///
/// ## Deviations
/// None in the algorithm. Sizes are carried for accounting; the caller evicts until under its byte budget.
public struct SieveEviction: EvictionPolicy {
    /// 12 bytes per slot: the links and one word holding the size (30 bits, clamped) and the two flags. At millions
    /// of keys the node is most of the policy's cost, and SIEVE is the default policy.
    struct Node: EvictionListNode, CompactSize, Sendable {
        var previous: Int32 = noSlot
        var next: Int32 = noSlot
        var word: UInt32 = 0

        static let liveBit: UInt32 = 1 << 31
        static let visitedBit: UInt32 = 1 << 30
        static let sizeMask: UInt32 = (1 << 30) - 1

        var storedSize: UInt32 {
            get { word & Self.sizeMask }
            set { word = (word & ~Self.sizeMask) | min(newValue, Self.sizeMask) }
        }
        var visited: Bool {
            get { word & Self.visitedBit != 0 }
            set { word = newValue ? word | Self.visitedBit : word & ~Self.visitedBit }
        }
        var live: Bool {
            get { word & Self.liveBit != 0 }
            set { word = newValue ? word | Self.liveBit : word & ~Self.liveBit }
        }
    }

    var nodes: [Node] = []
    var queue = EvictionList()
    /// The slot under the hand, or ``noSlot`` to start from the tail.
    var hand: Int32 = noSlot
    var pendingVictim: Int32 = noSlot

    /// The byte budget (SIEVE has no internal partitions, so only recorded).
    public var capacity: Int
    /// Number of slots tracked.
    public var count: Int { queue.count }
    /// Sum of the sizes of the slots tracked.
    public var bytes: Int { queue.bytes }

    /// Creates an empty SIEVE queue.
    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues a new object at the head, unvisited.
    public mutating func inserted(_ slot: Int32, hash: UInt64, size: Int) {
        nodes.ensureSlot(slot, filler: Node())
        precondition(!nodes[Int(slot)].live, "SIEVE: slot \(slot) inserted twice")
        nodes[Int(slot)].size = size
        nodes[Int(slot)].visited = false
        nodes[Int(slot)].live = true
        queue.pushHead(slot, size: nodes[Int(slot)].size, in: &nodes)
    }

    /// Marks the object visited.
    @inline(__always) public mutating func accessed(_ slot: Int32) {
        nodes[Int(slot)].visited = true
    }

    /// Updates the object's size.
    public mutating func resized(_ slot: Int32, to size: Int) {
        queue.bytes -= nodes[Int(slot)].size
        nodes[Int(slot)].size = size
        queue.bytes += nodes[Int(slot)].size
    }

    /// Unlinks the object; a hand resting on it moves to its newer neighbour.
    public mutating func removed(_ slot: Int32) {
        precondition(nodes[Int(slot)].live, "SIEVE: removed slot \(slot) is not tracked")
        if hand == slot { hand = nodes[Int(slot)].previous }
        if pendingVictim == slot { pendingVictim = noSlot }
        queue.remove(slot, size: nodes[Int(slot)].size, in: &nodes)
        nodes[Int(slot)].live = false
    }

    /// Moves the object's metadata to its new slot.
    public mutating func moved(from: Int32, to: Int32) {
        nodes.ensureSlot(to, filler: Node())
        precondition(nodes[Int(from)].live && !nodes[Int(to)].live, "SIEVE: bad move \(from) -> \(to)")
        nodes[Int(to)] = nodes[Int(from)]
        nodes[Int(from)] = Node()
        queue.relink(from: from, to: to, in: &nodes)
        if hand == from { hand = to }
        if pendingVictim == from { pendingVictim = to }
    }

    /// Sweeps the hand to the first unvisited object.
    public mutating func victim() -> Int32? {
        if pendingVictim != noSlot { return pendingVictim }
        guard !queue.isEmpty else { return nil }
        var slot = hand != noSlot ? hand : queue.tail
        while nodes[Int(slot)].visited {
            nodes[Int(slot)].visited = false
            slot = nodes[Int(slot)].previous
            if slot == noSlot { slot = queue.tail }
        }
        hand = nodes[Int(slot)].previous
        pendingVictim = slot
        return slot
    }

    /// Whether the object's visited bit is set (for tests and `OBJECT FREQ`-style introspection).
    public func isVisited(_ slot: Int32) -> Bool { nodes[Int(slot)].visited }

    /// The tracked slots from the head (newest) to the tail (oldest).
    public var slotsFromHead: [Int32] {
        var result: [Int32] = []
        var slot = queue.head
        while slot != noSlot {
            result.append(slot)
            slot = nodes[Int(slot)].next
        }
        return result
    }
}
