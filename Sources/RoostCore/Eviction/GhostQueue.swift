/// A FIFO of the hashes of recently evicted keys, bounded in bytes (the sizes of the keys it remembers), with O(1)
/// membership. S3-FIFO's ghost queue G.
///
/// Removal on a ghost hit is lazy: the hash leaves the index at once, and its ring entry is skipped when it reaches
/// the front. Each insertion carries a sequence number so a hash evicted, re-admitted and evicted again is not
/// confused with its stale ring entry.
struct GhostQueue: Sendable {
    private struct Record: Sendable {
        var hash: UInt64
        var size: Int
        var sequence: UInt64
    }

    private struct Live: Sendable {
        var sequence: UInt64
        var size: Int
    }

    private var ring: [Record] = []
    private var front = 0
    private var index: [UInt64: Live] = [:]
    private var nextSequence: UInt64 = 0
    /// Bytes remembered (live records only).
    private(set) var bytes = 0
    /// The byte bound.
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Number of hashes remembered.
    var count: Int { index.count }

    func contains(_ hash: UInt64) -> Bool { index[hash] != nil }

    /// Remembers `hash`, forgetting the oldest hashes past the byte bound.
    mutating func insert(_ hash: UInt64, size: Int) {
        guard capacity > 0 else { return }
        let sequence = nextSequence
        nextSequence += 1
        if let old = index.updateValue(Live(sequence: sequence, size: size), forKey: hash) {
            bytes -= old.size  // its ring record is now stale
        }
        ring.append(Record(hash: hash, size: size, sequence: sequence))
        bytes += size
        while bytes > capacity, front < ring.count {
            let record = ring[front]
            front += 1
            if index[record.hash]?.sequence == record.sequence {
                index[record.hash] = nil
                bytes -= record.size
            }
        }
        if front > 1024 && front * 2 > ring.count {
            ring.removeFirst(front)
            front = 0
        }
    }

    /// Forgets `hash` if remembered; returns whether it was.
    mutating func remove(_ hash: UInt64) -> Bool {
        guard let live = index.removeValue(forKey: hash) else { return false }
        bytes -= live.size
        return true
    }
}
