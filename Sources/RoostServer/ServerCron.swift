import RoostCore

/// The periodic housekeeping Redis calls `serverCron`: active expiry and idle-client timeouts.
enum ServerCron {
    /// Active expiry gets at most this share of each period, in slices that release the keyspace lock between
    /// them so that clients are served meanwhile (Redis's slow cycle uses 25%).
    static let expiryShareOfPeriod: Int64 = 4
    static let bucketsPerSlice = 512

    static func run(_ state: ServerState, hz: Int) {
        let periodMicroseconds = Int64(1_000_000 / hz)
        expire(state, budgetMicroseconds: periodMicroseconds / expiryShareOfPeriod, hz: hz)
        closeIdleClients(state)
        returnFreeMemoryIfAsked(state)
    }

    /// Sweeps enough buckets each period to pass over the whole table about once a second, and keeps going
    /// (within the time budget) while slices still find many expired keys, like Redis's adaptive cycle.
    static func expire(_ state: ServerState, budgetMicroseconds: Int64, hz: Int) {
        let started = Clock.monotonicMicroseconds()
        let buckets = state.keyspace.withLock { $0.bucketCount }
        let baseSlices = max(1, buckets / max(1, hz) / bucketsPerSlice)
        var slices = 0
        while Clock.monotonicMicroseconds() - started < budgetMicroseconds {
            let now = Clock.wallMilliseconds()
            let (expired, examined, wrapped) = state.keyspace.withLock {
                $0.expireStep(now: now, bucketBudget: bucketsPerSlice)
            }
            slices += 1
            if wrapped && examined == 0 { break }
            if slices >= baseSlices && expired * 10 <= examined { break }
        }
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
