extension S3FIFOEviction {
    /// Bytes of metadata: one node per slot, and the ghost queue.
    var footprint: Int { nodes.capacity * MemoryLayout<Node>.stride + ghost.footprint }
}

extension SieveEviction {
    /// Bytes of metadata: one node per slot.
    var footprint: Int { nodes.capacity * MemoryLayout<Node>.stride }
}

extension WTinyLFUEviction {
    /// Bytes of metadata: one node per slot, and the frequency sketch.
    var footprint: Int { nodes.capacity * MemoryLayout<Node>.stride + sketch.footprint }
}

extension SampledEviction {
    /// Bytes of metadata: one node per slot, the member lists sampled from, and the candidate pool.
    var footprint: Int {
        nodes.capacity * MemoryLayout<Node>.stride + (members.capacity + volatileMembers.capacity)
            * MemoryLayout<Int32>.stride + pool.capacity * MemoryLayout<PoolEntry>.stride
    }
}

extension EvictionState {
    /// Bytes the policy holds for its per-key metadata (queues, counters, sketch, ghost entries), which the keyspace
    /// counts in its memory so that `maxmemory` covers them too.
    public var footprint: Int {
        switch engine {
        case .none: return 0
        case .sampled: return sampled.footprint
        case .s3fifo: return s3fifo.footprint
        case .sieve: return sieve.footprint
        case .tinyLFU: return tinyLFU.footprint
        }
    }
}

extension Array {
    /// Drops elements from `count` on and releases spare capacity (a fresh, exactly sized copy), when the array holds
    /// more than `count` elements or more than twice the capacity it needs.
    mutating func shrink(to count: Int) {
        guard self.count > count || capacity > 2 * Swift.max(count, 16) else { return }
        self = Array(prefix(count))
    }
}

extension EvictionState {
    /// The table compacted its arena so that every live slot is below `slotCount`: per-slot metadata past it can go,
    /// and so can spare capacity, so that the policy's memory shrinks with the table's.
    public mutating func shrink(toSlots slotCount: Int) {
        switch engine {
        case .none: break
        case .sampled:
            sampled.nodes.shrink(to: slotCount)
            sampled.members.shrink(to: sampled.members.count)
            sampled.volatileMembers.shrink(to: sampled.volatileMembers.count)
        case .s3fifo: s3fifo.nodes.shrink(to: slotCount)
        case .sieve: sieve.nodes.shrink(to: slotCount)
        case .tinyLFU: tinyLFU.nodes.shrink(to: slotCount)
        }
    }
}
