/// The kinds of aggregate value an ``EntryRecord`` can point at (stored in the record's flags, bits 0–1).
enum AggregateKind: UInt8 {
    case hash = 0
    case list = 1
    case set = 2
    case sortedSet = 3
}

/// The heap object an aggregate key's record points at: the value, and the size and payload the keyspace has counted
/// for it (so that what was added to its totals is what is taken away, whatever the value did meanwhile).
///
/// Owned by the record (one retain, released by ``EntryRecord/free()``), reached only inside the keyspace's
/// critical section.
class AggregateBox {
    /// The kind, mirrored in the record's flags.
    let kind: AggregateKind
    /// The footprint last added to the keyspace's ``Keyspace/estimatedMemory`` for this value (the box's own
    /// allocation included).
    var accountedFootprint = 0
    /// The payload last added to ``Keyspace/payloadBytes`` for this value.
    var accountedPayload = 0

    init(kind: AggregateKind) { self.kind = kind }

    /// The value as the public ``Value`` (shares storage copy-on-write).
    var value: Value { fatalError("AggregateBox.value must be overridden") }
    /// What the value holds now: its footprint (box included) and payload.
    var currentSize: (footprint: Int, payload: Int) { fatalError("AggregateBox.currentSize must be overridden") }
    /// Whether some element carries its own time to live.
    var hasVolatileElements: Bool { false }
    /// Removes elements expired at `now`; returns how many.
    func removeExpiredElements(now: Int64) -> Int { 0 }
    /// Whether the value has no element left (an empty aggregate is never stored).
    var isEmpty: Bool { fatalError("AggregateBox.isEmpty must be overridden") }
}

/// A hash's box.
final class HashBox: AggregateBox {
    var hash: HashValue

    /// The box's own allocation: object header plus the stored value, as glibc sizes the block.
    static let ownFootprint = HashValue.heapFootprint(elementBytes: MemoryLayout<HashValue>.size + 8)

    init(_ hash: HashValue) {
        self.hash = hash
        super.init(kind: .hash)
    }

    override var value: Value { .hash(hash) }
    override var currentSize: (footprint: Int, payload: Int) {
        (HashBox.ownFootprint + hash.footprint, hash.payloadCount)
    }
    override var hasVolatileElements: Bool { hash.volatileCount > 0 }
    override func removeExpiredElements(now: Int64) -> Int { hash.removeExpired(now: now) }
    override var isEmpty: Bool { hash.isEmpty }
}

/// A set's box.
final class SetBox: AggregateBox {
    var set: SetValue

    /// The box's own allocation: object header plus the stored value, as glibc sizes the block.
    static let ownFootprint = HashValue.heapFootprint(elementBytes: MemoryLayout<SetValue>.size + 8)

    init(_ set: SetValue) {
        self.set = set
        super.init(kind: .set)
    }

    override var value: Value { .set(self.set) }
    override var currentSize: (footprint: Int, payload: Int) {
        (SetBox.ownFootprint + self.set.footprint, self.set.payloadCount)
    }
    override var isEmpty: Bool { self.set.isEmpty }
}

/// A sorted set's box.
final class SortedSetBox: AggregateBox {
    var sortedSet: SortedSetValue

    /// The box's own allocation: object header plus the stored value, as glibc sizes the block.
    static let ownFootprint = HashValue.heapFootprint(elementBytes: MemoryLayout<SortedSetValue>.size + 8)

    init(_ sortedSet: SortedSetValue) {
        self.sortedSet = sortedSet
        super.init(kind: .sortedSet)
    }

    override var value: Value { .sortedSet(sortedSet) }
    override var currentSize: (footprint: Int, payload: Int) {
        (SortedSetBox.ownFootprint + sortedSet.footprint, sortedSet.payloadCount)
    }
    override var isEmpty: Bool { sortedSet.isEmpty }
}
