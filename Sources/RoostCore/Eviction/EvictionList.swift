/// Per-slot links of an intrusive doubly linked list; policies keep one array of nodes conforming to this, and every
/// queue of the policy threads through the same array (a slot is in at most one queue at a time).
protocol EvictionListNode {
    var previous: Int32 { get set }
    var next: Int32 { get set }
}

/// An intrusive FIFO/LRU queue of slots: `head` is the newest (most recently inserted or promoted) end, `tail` the
/// oldest. `bytes` is the sum of the sizes the caller passed in.
struct EvictionList: Sendable {
    var head: Int32 = noSlot
    var tail: Int32 = noSlot
    var count = 0
    var bytes = 0

    var isEmpty: Bool { count == 0 }

    /// Links `slot` at the head (newest end).
    mutating func pushHead<Node: EvictionListNode>(_ slot: Int32, size: Int, in nodes: inout [Node]) {
        nodes[Int(slot)].previous = noSlot
        nodes[Int(slot)].next = head
        if head != noSlot { nodes[Int(head)].previous = slot } else { tail = slot }
        head = slot
        count += 1
        bytes += size
    }

    /// Unlinks `slot`, which must be in this list.
    mutating func remove<Node: EvictionListNode>(_ slot: Int32, size: Int, in nodes: inout [Node]) {
        let previous = nodes[Int(slot)].previous
        let next = nodes[Int(slot)].next
        if previous != noSlot { nodes[Int(previous)].next = next } else { head = next }
        if next != noSlot { nodes[Int(next)].previous = previous } else { tail = previous }
        nodes[Int(slot)].previous = noSlot
        nodes[Int(slot)].next = noSlot
        count -= 1
        bytes -= size
    }

    /// Moves `slot` (in this list) to the head.
    mutating func moveToHead<Node: EvictionListNode>(_ slot: Int32, in nodes: inout [Node]) {
        guard head != slot else { return }
        remove(slot, size: 0, in: &nodes)
        pushHead(slot, size: 0, in: &nodes)
    }

    /// The node that was at `from` has been copied to `to`; repoint its neighbours and the ends.
    mutating func relink<Node: EvictionListNode>(from: Int32, to: Int32, in nodes: inout [Node]) {
        let previous = nodes[Int(to)].previous
        let next = nodes[Int(to)].next
        if previous != noSlot { nodes[Int(previous)].next = to } else if head == from { head = to }
        if next != noSlot { nodes[Int(next)].previous = to } else if tail == from { tail = to }
    }
}

extension Array {
    /// Grows the array with `filler` so that `slot` is a valid index.
    @inline(__always) mutating func ensureSlot(_ slot: Int32, filler: Element) {
        let needed = Int(slot) + 1
        if needed > count {
            if needed > capacity { reserveCapacity(Swift.max(needed, capacity + capacity / 2)) }
            append(contentsOf: repeatElement(filler, count: needed - count))
        }
    }
}

extension EvictionList {
    /// Links `slot` at the tail (oldest end).
    mutating func pushTail<Node: EvictionListNode>(_ slot: Int32, size: Int, in nodes: inout [Node]) {
        nodes[Int(slot)].next = noSlot
        nodes[Int(slot)].previous = tail
        if tail != noSlot { nodes[Int(tail)].next = slot } else { head = slot }
        tail = slot
        count += 1
        bytes += size
    }
}

/// Per-key metadata keeps its size in 32 bits (values are limited to 512 MiB): at millions of keys, every byte of a
/// node is a byte per key.
protocol CompactSize {
    var storedSize: UInt32 { get set }
}

extension CompactSize {
    /// The size in bytes.
    var size: Int {
        get { Int(storedSize) }
        set { storedSize = UInt32(clamping: newValue) }
    }
}

/// Per-key metadata keeps the key's hash in 32 bits: the keyspace hashes keys to 32 bits, so more would only cost
/// memory.
protocol CompactHash {
    var storedHash: UInt32 { get set }
}

extension CompactHash {
    /// The key's hash.
    var hash: UInt64 {
        get { UInt64(storedHash) }
        set { storedHash = UInt32(truncatingIfNeeded: newValue) }
    }
}
