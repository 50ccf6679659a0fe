/// W-TinyLFU: a small LRU window in front of a segmented-LRU main cache, with TinyLFU deciding which of the window's
/// victim and the main cache's victim is worth keeping.
///
/// Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM Transactions on Storage
/// 13(4), 2017 (W-TinyLFU is §4); the structure follows Caffeine, the authors' reference implementation.
///
/// ## Structure
/// - **Window**: an LRU with 1% of the budget. Every new object enters here, so bursts of recency get a chance.
/// - **Main**: an SLRU with the other 99%: **probation** (20% of main) and **protected** (80% of main). Objects admitted
///   from the window enter probation; a hit in probation promotes to protected's MRU end; protected's overflow is
///   demoted to probation's MRU end.
/// - **Sketch**: a ``FrequencySketch`` (count-min, 4-bit counters, periodic halving, doorkeeper) recording every
///   access and insertion, sized for the number of cached objects.
///
/// ## Admission
/// When the cache must evict and the window is at or over its share, the window's LRU object (the *candidate*) competes
/// with main's victim (probation's LRU, or protected's if probation is empty): the candidate is admitted to probation
/// and the victim evicted if the candidate's estimated frequency is strictly higher; otherwise the candidate is
/// evicted. While main is under its share, window overflow moves to probation without a contest. When the window is
/// within its share, main's victim is evicted directly.
///
/// ## Deviations
/// - Caffeine adapts the window size by hill climbing and admits a warm candidate with probability 1/128 to resist
///   hash flooding; this is the paper's static 1% window and plain comparison.
/// - The sketch is sized by object count; since the budget is in bytes, it grows (and is cleared) when the number of
///   cached objects exceeds what it was sized for (`expectedCount` at creation).
public struct WTinyLFUEviction: EvictionPolicy {
    enum Segment: UInt8, Sendable {
        case none, window, probation, protected
    }

    struct Node: EvictionListNode, CompactSize, CompactHash, Sendable {
        var previous: Int32 = noSlot
        var next: Int32 = noSlot
        var storedSize: UInt32 = 0
        var storedHash: UInt32 = 0
        var segment = Segment.none
    }

    var nodes: [Node] = []
    var window = EvictionList()
    var probation = EvictionList()
    var protected = EvictionList()
    /// The frequency sketch (exposed for tests and `OBJECT FREQ`).
    public private(set) var sketch: FrequencySketch
    var pendingVictim: Int32 = noSlot

    /// Fraction of the budget for the window (the paper's 1%).
    public let windowRatio: Double
    /// Fraction of main for the protected segment (80%).
    public let protectedRatio: Double

    /// The byte budget.
    public var capacity: Int
    /// Number of slots tracked.
    public var count: Int { window.count + probation.count + protected.count }
    /// Sum of the sizes of the slots tracked.
    public var bytes: Int { window.bytes + probation.bytes + protected.bytes }

    var windowCapacity: Int { max(Int(Double(capacity) * windowRatio), 1) }
    var mainCapacity: Int { capacity - windowCapacity }
    var protectedCapacity: Int { Int(Double(mainCapacity) * protectedRatio) }
    var mainBytes: Int { probation.bytes + protected.bytes }

    /// Creates an empty W-TinyLFU for `capacity` bytes, expecting about `expectedCount` objects (sizes the sketch).
    public init(capacity: Int, expectedCount: Int, windowRatio: Double = 0.01, protectedRatio: Double = 0.8) {
        self.capacity = capacity
        self.windowRatio = windowRatio
        self.protectedRatio = protectedRatio
        sketch = FrequencySketch(capacity: expectedCount)
    }

    /// Records the access in the sketch and puts the object at the window's MRU end.
    public mutating func inserted(_ slot: Int32, hash: UInt64, size: Int) {
        nodes.ensureSlot(slot, filler: Node())
        precondition(nodes[Int(slot)].segment == .none, "W-TinyLFU: slot \(slot) inserted twice")
        var node = Node(segment: .window)
        node.size = size
        node.hash = hash
        nodes[Int(slot)] = node
        window.pushHead(slot, size: size, in: &nodes)
        if count > sketch.sizedFor { sketch.ensureCapacity(count * 2) }
        sketch.increment(node.hash)  // the stored (32-bit) hash, so every later estimate counts the same key
        // While main has room, window overflow moves there without a contest.
        while window.bytes > windowCapacity, window.count > 1 {
            let tail = window.tail
            guard mainBytes + nodes[Int(tail)].size <= mainCapacity else { break }
            move(tail, to: .probation)
        }
    }

    /// Records the access; window and protected hits move to their MRU end, probation hits are promoted.
    public mutating func accessed(_ slot: Int32) {
        sketch.increment(nodes[Int(slot)].hash)
        switch nodes[Int(slot)].segment {
        case .window: window.moveToHead(slot, in: &nodes)
        case .protected: protected.moveToHead(slot, in: &nodes)
        case .probation:
            move(slot, to: .protected)
            while protected.bytes > protectedCapacity, protected.count > 1 {
                move(protected.tail, to: .probation)
            }
        case .none: preconditionFailure("W-TinyLFU: accessed slot \(slot) is not tracked")
        }
    }

    /// Updates the object's size and its segment's bytes.
    public mutating func resized(_ slot: Int32, to size: Int) {
        let delta = size - nodes[Int(slot)].size
        nodes[Int(slot)].size = size
        switch nodes[Int(slot)].segment {
        case .window: window.bytes += delta
        case .probation: probation.bytes += delta
        case .protected: protected.bytes += delta
        case .none: preconditionFailure("W-TinyLFU: resized slot \(slot) is not tracked")
        }
    }

    /// Unlinks the object from its segment.
    public mutating func removed(_ slot: Int32) {
        unlink(slot)
        nodes[Int(slot)].segment = .none
        if pendingVictim == slot { pendingVictim = noSlot }
    }

    /// Moves the object's metadata to its new slot.
    public mutating func moved(from: Int32, to: Int32) {
        nodes.ensureSlot(to, filler: Node())
        precondition(
            nodes[Int(from)].segment != .none && nodes[Int(to)].segment == .none, "W-TinyLFU: bad move \(from) -> \(to)"
        )
        nodes[Int(to)] = nodes[Int(from)]
        nodes[Int(from)] = Node()
        switch nodes[Int(to)].segment {
        case .window: window.relink(from: from, to: to, in: &nodes)
        case .probation: probation.relink(from: from, to: to, in: &nodes)
        case .protected: protected.relink(from: from, to: to, in: &nodes)
        case .none: break
        }
        if pendingVictim == from { pendingVictim = to }
    }

    /// Window candidate versus main victim, by estimated frequency.
    public mutating func victim() -> Int32? {
        if pendingVictim != noSlot { return pendingVictim }
        guard count > 0 else { return nil }
        let chosen = choose()
        pendingVictim = chosen
        return chosen
    }

    private mutating func choose() -> Int32 {
        // The window is at (or over) its share: the object about to be inserted would push its LRU object out, so
        // that object is the candidate now.
        while window.bytes >= windowCapacity, window.tail != noSlot {
            let candidate = window.tail
            if mainBytes + nodes[Int(candidate)].size <= mainCapacity {
                move(candidate, to: .probation)
                continue
            }
            let victim = probation.tail != noSlot ? probation.tail : protected.tail
            guard victim != noSlot else { return candidate }
            if sketch.estimate(nodes[Int(candidate)].hash) > sketch.estimate(nodes[Int(victim)].hash) {
                move(candidate, to: .probation)
                return victim
            }
            return candidate
        }
        if probation.tail != noSlot { return probation.tail }
        if protected.tail != noSlot { return protected.tail }
        return window.tail
    }

    private mutating func unlink(_ slot: Int32) {
        let size = nodes[Int(slot)].size
        switch nodes[Int(slot)].segment {
        case .window: window.remove(slot, size: size, in: &nodes)
        case .probation: probation.remove(slot, size: size, in: &nodes)
        case .protected: protected.remove(slot, size: size, in: &nodes)
        case .none: preconditionFailure("W-TinyLFU: slot \(slot) is not tracked")
        }
    }

    private mutating func move(_ slot: Int32, to segment: Segment) {
        unlink(slot)
        nodes[Int(slot)].segment = segment
        let size = nodes[Int(slot)].size
        switch segment {
        case .window: window.pushHead(slot, size: size, in: &nodes)
        case .probation: probation.pushHead(slot, size: size, in: &nodes)
        case .protected: protected.pushHead(slot, size: size, in: &nodes)
        case .none: preconditionFailure("W-TinyLFU: moving slot \(slot) to no segment")
        }
    }

    /// The segment a slot is in (`"window"`, `"probation"`, `"protected"`), or nil, for tests and introspection.
    public func segment(of slot: Int32) -> String? {
        guard Int(slot) < nodes.count else { return nil }
        switch nodes[Int(slot)].segment {
        case .window: return "window"
        case .probation: return "probation"
        case .protected: return "protected"
        case .none: return nil
        }
    }

    /// The sketch's frequency estimate for the key in `slot`.
    public func frequency(of slot: Int32) -> Int { sketch.estimate(nodes[Int(slot)].hash) }
}
