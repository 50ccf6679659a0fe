/// A FIFO of the hashes of recently evicted keys, bounded in bytes (the sizes of the keys it remembers), with O(1)
/// membership: S3-FIFO's ghost queue G.
///
/// A ghost entry is pure overhead (about as many live as keys in S3-FIFO's main queue), so it is kept to 12 bytes:
/// the ring holds `(hash, size)` pairs of 32 bits each in insertion order, and membership is an open-addressing
/// table of 32-bit hashes kept at most half full (linear probing, tombstones, rebuilt when they pile up). The keyspace
/// hashes keys to 32 bits, so nothing is lost by storing 32.
///
/// Removal on a ghost hit clears the hash from the table at once; its ring entry stays, still counted in ``bytes``,
/// until it reaches the front. Two approximations follow, both on the side of remembering less: the ring's byte
/// count includes hit entries until they age out, and a hash evicted, readmitted and evicted again is forgotten when
/// its older ring entry ages out.
struct GhostQueue: Sendable {
    private static let empty: UInt32 = 0
    private static let tombstone: UInt32 = 1

    /// Insertion order, as `hash << 32 | size`.
    private var ring: [UInt64] = []
    private var front = 0
    /// Open addressing over table slots; 0 is empty, 1 a tombstone (hashes 0 and 1 are stored as 2 and 3).
    private var table: [UInt32] = []
    private var tombstones = 0
    /// Hashes remembered.
    private(set) var count = 0
    /// Bytes remembered (see the type's notes).
    private(set) var bytes = 0
    /// The byte bound.
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    @inline(__always) private static func key(_ hash: UInt64) -> UInt32 {
        let key = UInt32(truncatingIfNeeded: hash)
        return key <= tombstone ? key &+ 2 : key
    }

    /// The table slot holding `key`, or nil.
    private func find(_ key: UInt32) -> Int? {
        guard !table.isEmpty else { return nil }
        let mask = table.count - 1
        var index = Int(key &* 0x9E37_79B1) & mask
        while table[index] != GhostQueue.empty {
            if table[index] == key { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    func contains(_ hash: UInt64) -> Bool { find(GhostQueue.key(hash)) != nil }

    /// Remembers `hash`, forgetting the oldest hashes past the byte bound.
    mutating func insert(_ hash: UInt64, size: Int) {
        guard capacity > 0 else { return }
        let key = GhostQueue.key(hash)
        let stored = UInt32(clamping: size)
        if find(key) == nil {
            if (count + tombstones + 1) * 2 > table.count { rebuild(minimumCapacity: (count + 1) * 2) }
            let mask = table.count - 1
            var index = Int(key &* 0x9E37_79B1) & mask
            while table[index] > GhostQueue.tombstone { index = (index + 1) & mask }
            if table[index] == GhostQueue.tombstone { tombstones -= 1 }
            table[index] = key
            count += 1
        }
        ring.append(UInt64(key) << 32 | UInt64(stored))
        bytes += Int(stored)
        while bytes > capacity, front < ring.count {
            let record = ring[front]
            front += 1
            bytes -= Int(record & 0xFFFF_FFFF)
            if let index = find(UInt32(record >> 32)) { clear(index) }
        }
        if front > 1024 && front * 2 > ring.count {
            ring.removeFirst(front)
            front = 0
        }
    }

    /// Forgets `hash` if remembered; returns whether it was.
    mutating func remove(_ hash: UInt64) -> Bool {
        guard let index = find(GhostQueue.key(hash)) else { return false }
        clear(index)
        return true
    }

    private mutating func clear(_ index: Int) {
        table[index] = GhostQueue.tombstone
        tombstones += 1
        count -= 1
    }

    /// Rehashes the live keys into a power-of-two table at least `minimumCapacity` large.
    private mutating func rebuild(minimumCapacity: Int) {
        var size = 16
        while size < minimumCapacity { size *= 2 }
        let old = table
        table = Array(repeating: GhostQueue.empty, count: size)
        tombstones = 0
        let mask = size - 1
        for key in old where key > GhostQueue.tombstone {
            var index = Int(key &* 0x9E37_79B1) & mask
            while table[index] != GhostQueue.empty { index = (index + 1) & mask }
            table[index] = key
        }
    }
}

extension GhostQueue {
    /// Bytes this queue holds: its ring and its table.
    var footprint: Int {
        ring.capacity * MemoryLayout<UInt64>.stride + table.capacity * MemoryLayout<UInt32>.stride
    }
}
