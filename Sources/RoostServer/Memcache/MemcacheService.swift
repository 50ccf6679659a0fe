import NIOCore
import Synchronization

/// What the memcached listener's connections share beside the server state: memcached's counters for `stats` and a
/// pending delayed `flush_all`.
final class MemcacheService: Sendable {
    /// The memcached release whose protocol semantics Roost follows (`version`, `stats`): Debian's, against which
    /// the differential tests run.
    static let version = "1.6.18"

    let statistics = MemcacheStatistics()
    /// Unix milliseconds at which a delayed `flush_all` empties the keyspace; 0 when none is pending.
    let pendingFlush = Atomic<Int64>(0)
    /// Unix milliseconds when the listener started (`stats` `uptime`).
    let startedAt: Int64
    /// The memcached port this listener was asked to bind: in cluster mode, every node's memcached port is its RESP
    /// port plus the same offset as here (see ``MemcacheSession/memcachedPortOffset``).
    let port: Int
    /// One forwarder per event loop, made on first use (cluster mode).
    private let forwarders = Mutex<[ObjectIdentifier: MemcacheForwarder]>([:])

    init(startedAt: Int64, port: Int = 0) {
        self.startedAt = startedAt
        self.port = port
    }

    /// The forwarder of `loop`, which its connections share.
    func forwarder(for loop: any EventLoop) -> MemcacheForwarder {
        forwarders.withLock { forwarders in
            let id = ObjectIdentifier(loop)
            if let existing = forwarders[id] { return existing }
            let made = MemcacheForwarder(loop: loop)
            forwarders[id] = made
            return made
        }
    }

    /// Runs a delayed `flush_all` whose time has come (from any connection's next batch, and from a timer).
    func flushIfDue(_ server: ServerState, now: Int64) {
        let due = pendingFlush.load(ordering: .acquiring)
        guard due != 0, now >= due else { return }
        guard pendingFlush.compareExchange(expected: due, desired: 0, ordering: .acquiringAndReleasing).exchanged
        else { return }
        server.keyspace.withLock { $0.removeAll() }
    }
}

/// memcached's `stats` counters for this listener (the keyspace's own counters give `curr_items`, `bytes`,
/// `evictions` and `expired_unfetched`).
final class MemcacheStatistics: Sendable {
    let currentConnections = Atomic<Int>(0)
    let totalConnections = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    let bytesRead = Atomic<Int>(0)
    let bytesWritten = Atomic<Int>(0)
    let getCommands = Atomic<Int>(0)
    let setCommands = Atomic<Int>(0)
    let flushCommands = Atomic<Int>(0)
    let touchCommands = Atomic<Int>(0)
    let metaCommands = Atomic<Int>(0)
    let getHits = Atomic<Int>(0)
    let getMisses = Atomic<Int>(0)
    let deleteHits = Atomic<Int>(0)
    let deleteMisses = Atomic<Int>(0)
    let incrHits = Atomic<Int>(0)
    let incrMisses = Atomic<Int>(0)
    let decrHits = Atomic<Int>(0)
    let decrMisses = Atomic<Int>(0)
    let casHits = Atomic<Int>(0)
    let casMisses = Atomic<Int>(0)
    let casBadValue = Atomic<Int>(0)
    let touchHits = Atomic<Int>(0)
    let touchMisses = Atomic<Int>(0)
    let totalItems = Atomic<Int>(0)

    /// Which hit/miss pair to count.
    enum Lookup {
        case get, touch, delete, increment, decrement
    }

    /// Counts a hit or a miss of `lookup` (and, for `get` and `touch`, the command).
    func record(_ lookup: Lookup, hit: Bool) {
        switch lookup {
        case .get:
            getCommands.increment()
            if hit { getHits.increment() } else { getMisses.increment() }
        case .touch:
            touchCommands.increment()
            if hit { touchHits.increment() } else { touchMisses.increment() }
        case .delete:
            if hit { deleteHits.increment() } else { deleteMisses.increment() }
        case .increment:
            if hit { incrHits.increment() } else { incrMisses.increment() }
        case .decrement:
            if hit { decrHits.increment() } else { decrMisses.increment() }
        }
    }

    /// `stats reset`: every counter but the connection gauges.
    func reset() {
        totalConnections.store(0, ordering: .relaxed)
        rejectedConnections.store(0, ordering: .relaxed)
        bytesRead.store(0, ordering: .relaxed)
        bytesWritten.store(0, ordering: .relaxed)
        getCommands.store(0, ordering: .relaxed)
        setCommands.store(0, ordering: .relaxed)
        flushCommands.store(0, ordering: .relaxed)
        touchCommands.store(0, ordering: .relaxed)
        metaCommands.store(0, ordering: .relaxed)
        getHits.store(0, ordering: .relaxed)
        getMisses.store(0, ordering: .relaxed)
        deleteHits.store(0, ordering: .relaxed)
        deleteMisses.store(0, ordering: .relaxed)
        incrHits.store(0, ordering: .relaxed)
        incrMisses.store(0, ordering: .relaxed)
        decrHits.store(0, ordering: .relaxed)
        decrMisses.store(0, ordering: .relaxed)
        casHits.store(0, ordering: .relaxed)
        casMisses.store(0, ordering: .relaxed)
        casBadValue.store(0, ordering: .relaxed)
        touchHits.store(0, ordering: .relaxed)
        touchMisses.store(0, ordering: .relaxed)
        totalItems.store(0, ordering: .relaxed)
    }
}

extension Atomic where Value == Int {
    /// Adds one, relaxed.
    func increment() { add(1, ordering: .relaxed) }
}
