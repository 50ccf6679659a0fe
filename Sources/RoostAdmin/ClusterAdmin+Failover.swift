import NIOCore
import RoostCluster
import RoostProtocol

extension ClusterAdmin {
    /// How `CLUSTER FAILOVER` should go (see ``failover(_:mode:timeout:)``).
    public enum FailoverMode: String, CaseIterable, Sendable {
        /// Coordinated with the primary: it stops writes until the replica has caught up.
        case `default`
        /// Without the primary (it may be down), but with the other primaries' votes.
        case force
        /// Without anyone's agreement: the replica bumps the epoch and takes the slots.
        case takeover
    }

    /// Sends `CLUSTER FAILOVER [FORCE|TAKEOVER]` to `replica` and waits (at most `timeout` seconds) until its
    /// `INFO replication` says `role:master`, its `CLUSTER NODES` shows it serving slots, and every node it lists
    /// that answers agrees with it about who is a primary and who replicates whom. Returns true then.
    public func failover(_ replica: Endpoint, mode: FailoverMode = .default, timeout failoverTimeout: Double = 30)
        throws -> Bool
    {
        let client = try connect(replica)
        guard let myself = try nodes(client).first(where: { $0.node.flags.contains(.myself) }) else {
            throw Failure("[ERR] Node \(replica): CLUSTER NODES has no myself line")
        }
        guard !myself.node.isPrimary, let primary = myself.node.primaryID else {
            throw Failure("[ERR] Node \(replica) is a primary, not a replica: send the failover to one of its replicas")
        }
        output(">>> Asking \(replica) (\(myself.node.id)) to take over from \(primary)")
        var command = ["CLUSTER", "FAILOVER"]
        if mode != .default { command.append(mode.rawValue.uppercased()) }
        if case .error(let message) = try client.send(command) {
            throw Failure("[ERR] \(replica): \(command.joined(separator: " ")): \(String(buffer: message))")
        }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(failoverTimeout * 1000)))
        try waitUntil(deadline, failoverTimeout, failure: "The failover did not finish") {
            let role = ClusterPlan.parseInfo(try client.text("INFO", "replication"))["role"] ?? "none"
            guard role == "master" else { return ["\(replica) still reports role:\(role)"] }
            let me = try nodes(client).first { $0.node.flags.contains(.myself) }
            guard let me, me.node.isPrimary, !me.slots.isEmpty else { return ["\(replica) does not serve slots yet"] }
            return []
        }
        try waitUntil(deadline, failoverTimeout, failure: "The other nodes did not learn the new roles") {
            let reports = try survey(replica).reports
            let roles = ClusterPlan.roles(reports[0].view)
            return reports.dropFirst().flatMap { report in
                ClusterPlan.roleDisagreements(report.view, expected: roles).map { "\(report.endpoint) \($0)" }
            }
        }
        let me = try nodes(client).first { $0.node.flags.contains(.myself) }
        output(
            "[OK] \(replica) is now a primary serving slots \(ClusterPlan.describe(me?.slots ?? [])) "
                + "(config epoch \(me?.node.configEpoch ?? 0)).")
        return true
    }
}
