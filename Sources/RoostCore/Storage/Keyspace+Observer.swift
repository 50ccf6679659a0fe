/// Why a key changed, as a ``KeyspaceObserver`` is told.
public enum KeyChangeCause: Sendable, Hashable {
    /// A command (or a replication stream, or a memcached request) wrote or deleted the key.
    case write
    /// The key's time to live ran out and it was removed (lazily by an access, or by the active cycle).
    case expired
    /// The key was evicted to stay under the memory limit.
    case evicted
}

/// Told about every change of a key, from inside the keyspace's critical section, right after the change: the same
/// points that feed the change log (``Keyspace/recordsChanges``), so writes, deletes, expiry, eviction, memcached
/// writes and applied replication records all reach it. A metadata-only change (a memcached CAS or stale mark) is
/// not a change.
///
/// The server's client-side-caching support (`CLIENT TRACKING`) is the observer: it runs while the keyspace lock is
/// held, so it must be quick and must not take the keyspace lock itself.
public protocol KeyspaceObserver: AnyObject, Sendable {
    /// `key` was written, deleted, expired or evicted.
    func keyspace(changed key: UnsafeRawBufferPointer, cause: KeyChangeCause)
    /// Every key was removed at once (`FLUSHALL`, a replica's full resynchronisation).
    func keyspaceFlushed()
}

extension Keyspace {
    /// Runs `body` with neither the change log nor the observer told about changes (a metadata-only rewrite).
    mutating func withoutChangeNotifications<Result>(_ body: (inout Keyspace) -> Result) -> Result {
        let recording = recordsChanges
        let observer = self.observer
        recordsChanges = false
        self.observer = nil
        defer {
            recordsChanges = recording
            self.observer = observer
        }
        return body(&self)
    }
}
