public import RoostCluster

/// How an automatic failover went: times are milliseconds after the primary was killed.
public struct FailoverMeasurement: Sendable {
    /// When every running node flagged the primary `fail`.
    public var failedByAll: Int64?
    /// When a replica of the primary first served all of its slots (in its own view).
    public var replicaOwnsSlots: Int64?
    /// When every running node mapped all of the primary's slots to that replica.
    public var allAgree: Int64?
    /// The replica that took over.
    public var winner: Int?
    /// How many elections were started, by every replica together.
    public var electionsStarted: Int
    /// How many replicas became primaries (1 when all went well).
    public var promotions: Int
}

extension ClusterSimulation {
    /// Kills primary `primary` now and runs until one of its replicas serves its slots and every running node
    /// agrees (or `limit` ms pass), checking every `step` ms.
    public mutating func measureFailover(of primary: Int, limit: Int64, step: Int64 = 5) -> FailoverMeasurement {
        let victim = ids[primary]
        let slots = nodes[primary]!.topology.slots.slots(of: victim).slots
        let candidates = replicaIndices(of: primary)
        let firstEvent = failoverEvents.count
        crash(primary)
        let crashedAt = now
        var measurement = FailoverMeasurement(electionsStarted: 0, promotions: 0)
        while now < crashedAt + limit && measurement.allAgree == nil {
            run(until: now + step)
            if measurement.failedByAll == nil && allRunningNodes(see: .failed, on: primary) {
                measurement.failedByAll = now - crashedAt
            }
            if measurement.winner == nil, let first = slots.first {
                measurement.winner = candidates.first { candidate in
                    guard let instance = nodes[candidate] else { return false }
                    return instance.topology.slots.owner(of: first) == ids[candidate]
                        && slots.allSatisfy { instance.topology.slots.owner(of: $0) == ids[candidate] }
                }
                if measurement.winner != nil { measurement.replicaOwnsSlots = now - crashedAt }
            }
            if let winner = measurement.winner, allRunningNodes(map: slots, to: ids[winner]) {
                measurement.allAgree = now - crashedAt
            }
        }
        for logged in failoverEvents[firstEvent...] {
            switch logged.event {
            case .electionStarted: measurement.electionsStarted += 1
            case .becamePrimary: measurement.promotions += 1
            default: break
            }
        }
        return measurement
    }
}
