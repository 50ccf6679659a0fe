import NIOCore
import RoostCore

/// The periodic housekeeping Redis calls `serverCron`: active expiry and idle-client timeouts.
enum ServerCron {
    /// Active expiry gets at most this share of each period (Redis's slow cycle uses 25%).
    static let expiryShareOfPeriod: Int64 = 4
    static let bucketsPerSlice = 512
    /// Active expiry gives the event loop back after this long, and continues in a task queued behind the clients'
    /// I/O: with one event loop per core, a 25 ms burst would otherwise hold every client of that loop for 25 ms.
    static let burstMicroseconds: Int64 = 1000

    static func run(_ state: ServerState, hz: Int, on eventLoop: any EventLoop) {
        let periodMicroseconds = Int64(1_000_000 / hz)
        let buckets = state.keyspace.withLock { $0.bucketCount }
        let cycle = ExpiryCycle(
            started: Clock.monotonicMicroseconds(),
            budgetMicroseconds: periodMicroseconds / expiryShareOfPeriod,
            baseSlices: max(1, buckets / max(1, hz) / bucketsPerSlice)
        )
        // A replica leaves expiry to its primary, whose deletes arrive in the stream (reads hide expired keys).
        if !state.replication.isReplica.load(ordering: .relaxed) { expire(state, cycle, on: eventLoop) }
        replicationCron(state)
        closeIdleClients(state)
        returnFreeMemoryIfAsked(state)
    }

    /// One period's active expiry: enough slices to pass over the whole table about once a second, then more while
    /// slices still find many expired keys (within the period's budget), like Redis's adaptive cycle.
    struct ExpiryCycle {
        let started: Int64
        let budgetMicroseconds: Int64
        let baseSlices: Int
        var slices = 0
    }

    /// Runs slices for at most ``burstMicroseconds``, then queues the rest of the cycle behind pending I/O.
    static func expire(_ state: ServerState, _ cycle: ExpiryCycle, on eventLoop: any EventLoop) {
        var cycle = cycle
        let burstStarted = Clock.monotonicMicroseconds()
        while true {
            let clock = Clock.monotonicMicroseconds()
            if clock - cycle.started >= cycle.budgetMicroseconds { return }
            if clock - burstStarted >= burstMicroseconds { break }
            let now = Clock.wallMilliseconds()
            let (expired, examined, wrapped) = state.keyspace.withLock {
                $0.expireStep(now: now, bucketBudget: bucketsPerSlice)
            }
            cycle.slices += 1
            if wrapped && examined == 0 { return }
            if cycle.slices >= cycle.baseSlices && expired * 10 <= examined { return }
        }
        // A task due now would run in this same turn of the loop (NIO drains ready tasks); one due shortly after
        // lets the loop poll its sockets first.
        let next = cycle
        eventLoop.scheduleTask(in: .microseconds(50)) { expire(state, next, on: eventLoop) }
    }

    /// Ships what expiry removed to replicas, pings idle replicas (`repl-ping-replica-period`), and closes replicas
    /// beyond their output buffer limit.
    static func replicationCron(_ state: ServerState) {
        let replication = state.replication
        guard replication.recording.load(ordering: .relaxed) else { return }
        replication.propagate(state)
        let config = state.currentConfiguration
        replication.enforceOutputLimit(config.outputBufferLimits.replica.hard)
        let now = Clock.wallMilliseconds()
        let period = Int64(config.replPingReplicaPeriod) * 1000
        let due = replication.state.withLock { replicationState -> Bool in
            guard !replicationState.feeds.isEmpty, now - replicationState.lastPing >= period else { return false }
            replicationState.lastPing = now
            return true
        }
        if due { replication.appendCommand(["PING"]) }
    }

    /// Returns freed heap pages to the system outside the keyspace lock, so that clients are not stalled by it.
    static func returnFreeMemoryIfAsked(_ state: ServerState) {
        let requested = state.keyspace.withLock { keyspace in
            defer { keyspace.trimRequested = false }
            return keyspace.trimRequested
        }
        if requested { Keyspace.returnFreeMemory() }
    }

    static func closeIdleClients(_ state: ServerState) {
        let timeout = Int64(state.currentConfiguration.timeout)
        guard timeout > 0 else { return }
        let now = Clock.wallMilliseconds()
        let sessions = state.clients.withLock { Array($0.values) }
        for session in sessions where now - session.visible.withLock({ $0.lastInteraction }) > timeout * 1000 {
            state.logger.debug("Closing idle client", metadata: ["client.id": "\(session.id)"])
            session.close()
        }
    }
}
