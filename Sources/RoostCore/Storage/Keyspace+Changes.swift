extension Keyspace {
    /// What changed since the last call: whether every key was removed (``removeAll()``; it then happened before
    /// any of the listed changes), and the keys written, deleted, expired or evicted since, in order and possibly
    /// repeated. Only recorded while ``recordsChanges`` is set.
    ///
    /// A replication primary ships each listed key's *current* state (``currentState(of:now:)``), not the
    /// operation that changed it: states are idempotent, so a replica that applies a snapshot taken while writes
    /// continued and then every change recorded since the snapshot began ends equal to the primary.
    public mutating func takeChanges() -> (removedAll: Bool, keys: [[UInt8]]) {
        defer {
            changedAll = false
            changedKeys.removeAll(keepingCapacity: changedKeys.count <= 1024)
        }
        return (changedAll, changedKeys)
    }

    /// Whether ``takeChanges()`` has anything to return.
    public var hasChanges: Bool { changedAll || !changedKeys.isEmpty }

    /// Calls `body` with the value and absolute expiry (``Entry/noExpiry`` for none) of `key` when it is live at
    /// `now`; returns nil without calling it when the key is absent or expired. Neither touches the key nor counts
    /// statistics, and reclaims nothing.
    public func currentState<Result>(
        of key: UnsafeRawBufferPointer, now: Int64, _ body: (UnsafeRawBufferPointer, Int64) -> Result
    ) -> Result? {
        guard let (index, _) = find(key, hash: Keyspace.hash(key)) else { return nil }
        let record = record(index)
        if record.isExpired(at: now) { return nil }
        return body(record.value, record.expireAt)
    }
}
