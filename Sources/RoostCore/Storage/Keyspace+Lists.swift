/// A list's box.
final class ListBox: AggregateBox {
    var list: ListValue

    /// The box's own allocation: object header plus the stored value, as glibc sizes the block.
    static let ownFootprint = HashValue.heapFootprint(elementBytes: MemoryLayout<ListValue>.size + 8)

    init(_ list: ListValue) {
        self.list = list
        super.init(kind: .list)
    }

    override var value: Value { .list(list) }
    override var currentSize: (footprint: Int, payload: Int) {
        (ListBox.ownFootprint + list.footprint, list.payloadCount)
    }
    override var isEmpty: Bool { list.isEmpty }
}

extension Keyspace {
    // MARK: Lists

    /// Gives `body` the list at `key` to read and change in place (nil when the key is absent or expired): setting
    /// it to a non-empty list creates the key, leaving it empty or nil deletes the key. Throws `wrongType` without
    /// calling `body` when the key holds another type. Accounting, eviction, replication and the observer are told
    /// of a change as for hashes (``withHash(_:now:countingStatistics:wrongType:_:)``).
    public mutating func withList<Result, Failure: Error>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        countingStatistics: Bool = false,
        wrongType: @autoclosure () -> Failure,
        _ body: (inout ListValue?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let keyHash = Keyspace.hash(key)
        guard let index = liveSlot(key, hash: keyHash, now: now, writing: true) else {
            if countingStatistics { statistics.keyspaceMisses += 1 }
            var value: ListValue? = nil
            defer {
                if let created = value, !created.isEmpty {
                    insertAggregate(key, hash: keyHash, ListBox(created), expireAt: Entry.noExpiry, now: now)
                }
            }
            return try body(&value)
        }
        if countingStatistics { statistics.keyspaceHits += 1 }
        let record = record(index)
        guard record.isAggregate, let box = record.box as? ListBox else { throw wrongType() }
        // Move the value out so that `body` changes the only copy (no copy-on-write).
        var value: ListValue? = box.list
        box.list = ListValue()
        let changesBefore = value!.changeCount
        defer {
            box.list = value ?? ListValue()
            finishAggregateChange(
                at: index, keyHash: keyHash, box, changed: box.list.changeCount != changesBefore, now: now)
        }
        return try body(&value)
    }

    /// Whether `key` holds a live list (no statistics, no access recorded).
    public func holdsList(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        guard let index = find(key, hash: Keyspace.hash(key))?.index else { return false }
        let record = record(index)
        return !record.isExpired(at: now) && record.isAggregate && record.box is ListBox
    }

    /// Stores a list given whole under `key` (the replication stream's state record), replacing any value; an empty
    /// list deletes the key.
    public mutating func storeList(_ key: UnsafeRawBufferPointer, _ value: ListValue, expireAt: Int64, now: Int64) {
        set(key, Entry(value: .list(value), expireAt: expireAt), now: now)
    }
}

extension ChangeLog {
    /// Roost's internal `LISTSTATE key expireAt element [element …]` (expiry absolute Unix milliseconds, 0 for none):
    /// a list's whole state, which replaces whatever the key holds. Only a replication link may send it.
    public static func appendList(_ log: inout [UInt8], key: UnsafeRawBufferPointer, _ list: ListValue, expireAt: Int64)
    {
        appendHeader(&log, count: 3 + list.count)
        appendBulk(&log, "LISTSTATE")
        appendBulk(&log, key)
        appendBulk(&log, String(expireAt == Entry.noExpiry ? 0 : expireAt))
        list.forEach(in: 0..<list.count) { element in element.withUnsafeBytes { appendBulk(&log, $0) } }
    }
}
