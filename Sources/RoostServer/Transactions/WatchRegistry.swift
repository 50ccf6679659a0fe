import RoostCore
import Synchronization

/// `WATCH`: which connections watch which keys, and whose transactions a change has doomed.
///
/// Changes reach it from the keyspace's observer (``ServerKeyspaceObserver``), inside the writer's critical
/// section, so every writer counts: RESP commands, expiry (lazy or active), eviction, memcached-port writes, applied
/// replication records and `FLUSHALL`. `EXEC` reads the doomed mark inside its own critical section
/// (``KeyspaceLock/withExclusiveSection(_:)``), so a change is either before the check (and aborts) or after the
/// whole transaction.
///
/// Redis 7.0's finer points are kept: a key that was already expired (so logically absent) when it was watched
/// does not abort the transaction when the expiry cycle removes it, and `FLUSHALL` dooms a watcher only if one of
/// its keys existed (a key that existed when watched and still exists; one created later has doomed it already).
/// A key that was live when watched and has expired by `EXEC` aborts it even if nothing has removed it yet
/// (``isExpiredSinceWatch(_:keyspace:now:)``). The lock order is keyspace, then this registry.
final class WatchRegistry: Sendable {
    /// One connection's watched keys: whether each was live when watched, and whether a change doomed them.
    struct Watcher: Sendable {
        var keys: [[UInt8]: Bool] = [:]
        var dirty = false
    }

    private struct State {
        var watchers: [UInt64: Watcher] = [:]
        var keys: [[UInt8]: Set<UInt64>] = [:]
    }

    private let state = Mutex(State())

    /// Client `id` watches `key`, which is `live` now (call inside the keyspace's critical section, so that no
    /// change falls between the look and the registration). Returns whether this is the first watch of the server,
    /// so the caller installs the observer.
    func watch(_ key: [UInt8], live: Bool, for id: UInt64) -> Bool {
        state.withLock { state in
            let first = state.watchers.isEmpty
            if state.watchers[id]?.keys[key] == nil {
                state.watchers[id, default: Watcher()].keys[key] = live
                state.keys[key, default: []].insert(id)
            }
            return first
        }
    }

    /// Forgets client `id`'s watches (`UNWATCH`, after `EXEC` or `DISCARD`, `RESET`, a closed connection); returns
    /// whether nobody watches any more, so the caller removes the observer.
    @discardableResult
    func unwatchAll(for id: UInt64) -> Bool {
        state.withLock { state in
            guard let watcher = state.watchers.removeValue(forKey: id) else { return state.watchers.isEmpty }
            for key in watcher.keys.keys {
                state.keys[key]?.remove(id)
                if state.keys[key]?.isEmpty == true { state.keys[key] = nil }
            }
            return state.watchers.isEmpty
        }
    }

    /// Client `id`'s watched keys and whether a change doomed its transaction.
    func watcher(_ id: UInt64) -> Watcher? {
        state.withLock { $0.watchers[id] }
    }

    /// Keys watched by anyone (`INFO` `watching_clients`-style counts and tests).
    var watchedKeyCount: Int { state.withLock { $0.keys.count } }

    /// Connections watching at least one key.
    var watcherCount: Int { state.withLock { $0.watchers.count } }

    /// Whether client `id`'s transaction must fail: a watched key changed, or a key live when watched has expired
    /// by `now` (call inside the keyspace's critical section).
    func isDoomed(_ id: UInt64, keyspace: borrowing Keyspace, now: Int64) -> Bool {
        guard let watcher = watcher(id) else { return false }
        if watcher.dirty { return true }
        for (key, live) in watcher.keys where live {
            let present = key.withUnsafeBytes { keyspace.currentState(of: $0, now: now) { _, _ in true } } ?? false
            if !present { return true }
        }
        return false
    }

    // MARK: Changes (from the keyspace observer, inside the writer's critical section)

    /// `key` was written, deleted, expired or evicted.
    func keyChanged(_ key: UnsafeRawBufferPointer, cause: KeyChangeCause) {
        let bytes = [UInt8](key)
        state.withLock { state in
            guard let ids = state.keys[bytes] else { return }
            for id in ids {
                // A key already expired when watched was logically absent: its removal changes nothing.
                if cause == .expired, state.watchers[id]?.keys[bytes] == false { continue }
                state.watchers[id]?.dirty = true
            }
        }
    }

    /// Every key was removed: dooms the watchers of a key that existed.
    func flushed() {
        state.withLock { state in
            for (id, watcher) in state.watchers where watcher.keys.values.contains(true) {
                state.watchers[id]?.dirty = true
            }
        }
    }
}

/// The keyspace's observer while anything needs to hear about key changes: client tracking (``Tracking``) and
/// `WATCH` (``WatchRegistry``). Which of them listen is fixed per instance; a new instance is installed (inside the
/// keyspace's critical section) when either starts or stops, and none when neither needs it, so a server where
/// nobody tracks or watches pays one nil check per change.
///
/// Unowned: the server owns the keyspace, which owns this observer.
final class ServerKeyspaceObserver: KeyspaceObserver {
    unowned let server: ServerState
    let tracking: Bool
    let watching: Bool

    init(server: ServerState, tracking: Bool, watching: Bool) {
        self.server = server
        self.tracking = tracking
        self.watching = watching
    }

    func keyspace(changed key: UnsafeRawBufferPointer, cause: KeyChangeCause) {
        if tracking { server.tracking.keyChanged(key, cause: cause, server: server) }
        if watching { server.watches.keyChanged(key, cause: cause) }
    }

    func keyspaceFlushed() {
        if tracking { server.tracking.flushed(server: server) }
        if watching { server.watches.flushed() }
    }

    /// Installs the observer `keyspace` needs after tracking or watching started or stopped (nil leaves that one
    /// as it is).
    static func update(_ keyspace: inout Keyspace, server: ServerState, tracking: Bool? = nil, watching: Bool? = nil) {
        let current = keyspace.observer as? ServerKeyspaceObserver
        let tracks = tracking ?? current?.tracking ?? false
        let watches = watching ?? current?.watching ?? false
        if current?.tracking == tracks && current?.watching == watches { return }
        keyspace.observer =
            tracks || watches ? ServerKeyspaceObserver(server: server, tracking: tracks, watching: watches) : nil
    }
}
