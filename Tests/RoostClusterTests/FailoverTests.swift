import RoostCluster
import RoostClusterSimulation
import Testing

@Suite("Replica failover")
struct FailoverTests {
    static let settings = Gossip.Settings(nodeTimeout: 2_000)

    /// 3 primaries (0, 3, 6) with two replicas each, or 3 primaries (0, 2, 4) with one.
    static func cluster(replicas: Int = 1, seed: UInt64 = 7, loss: Double = 0) -> ClusterSimulation {
        var simulation = ClusterSimulation(
            .init(
                nodeCount: 3 * (1 + replicas), replicasPerPrimary: replicas, settings: settings, seed: seed, loss: loss)
        )
        simulation.run(until: 2_000)
        return simulation
    }

    /// Every running node maps every slot to the same owner, every slot has one, and each owner is a primary in
    /// every running node's view.
    static func expectAgreement(_ simulation: ClusterSimulation, sourceLocation: SourceLocation = #_sourceLocation) {
        let running = simulation.nodes.compactMap { $0 }
        guard let reference = running.first?.topology.slots else { return }
        #expect(reference.isFullyCovered, sourceLocation: sourceLocation)
        for instance in running {
            #expect(instance.topology.slots == reference, "\(instance.myself)", sourceLocation: sourceLocation)
            for owner in reference.slotCounts.keys {
                #expect(instance.topology[owner]?.isPrimary == true, sourceLocation: sourceLocation)
            }
        }
    }

    static func events(_ simulation: ClusterSimulation, on node: Int) -> [Gossip.Event] {
        simulation.failoverEvents.filter { $0.node == node }.map(\.event)
    }

    static func role(_ simulation: ClusterSimulation, of node: Int) -> MemberRole? {
        simulation.nodes[node]?.topology.myselfNode.role
    }

    // MARK: Automatic failover

    @Test("A dead primary's replica with the greatest offset takes over; its sibling follows it", arguments: [7, 8, 9])
    func automaticFailover(seed: UInt64) {
        var simulation = Self.cluster(replicas: 2, seed: seed, loss: 0.01)
        simulation.setReplicationOffset(1_000, on: 0)
        simulation.setReplicationOffset(700, on: 1)
        simulation.setReplicationOffset(990, on: 2)
        simulation.run(until: simulation.now + 1_000)
        let slots = simulation.nodes[0]!.topology.slots.slots(of: simulation.ids[0])
        let result = simulation.measureFailover(of: 0, limit: 10_000)
        #expect(result.winner == 2)
        #expect(result.allAgree != nil)
        simulation.run(until: simulation.now + 3_000)
        #expect(simulation.allRunningNodes(map: slots.slots, to: simulation.ids[2]))
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[2]))
        #expect(Self.events(simulation, on: 1).allSatisfy { if case .becamePrimary = $0 { false } else { true } })
        #expect(Self.events(simulation, on: 2).contains(.becamePrimary(configEpoch: 4)))
        for node in 0..<9 where node != 0 {
            #expect(simulation.nodes[node]!.topology[simulation.ids[2]]?.isPrimary == true)
        }
        Self.expectAgreement(simulation)
        // One vote per epoch per voter.
        var votes: Set<[UInt64]> = []
        for logged in simulation.failoverEvents {
            guard case .voteGranted(_, let epoch) = logged.event else { continue }
            #expect(votes.insert([UInt64(logged.node), epoch]).inserted)
        }
        #expect(!votes.isEmpty)
    }

    @Test("The old primary comes back as a replica of the winner")
    func oldPrimaryReturns() {
        var simulation = Self.cluster()
        let slots = simulation.nodes[2]!.topology.slots.slots(of: simulation.ids[2])
        let result = simulation.measureFailover(of: 2, limit: 10_000)
        #expect(result.winner == 3 && result.promotions == 1)
        simulation.restart(2)
        let demoted = simulation.run(until: simulation.now + 4_000) {
            Self.role($0, of: 2) == .replica(of: $0.ids[3])
        }
        #expect(demoted != nil)
        simulation.run(until: simulation.now + 2_000)
        #expect(simulation.nodes[2]!.topology.slots.slotCount(of: simulation.ids[2]) == 0)
        #expect(simulation.allRunningNodes(map: slots.slots, to: simulation.ids[3]))
        for node in 0..<6 {
            #expect(simulation.nodes[node]!.topology[simulation.ids[2]]?.flags.contains(.replica) == true)
        }
        Self.expectAgreement(simulation)
    }

    /// A primary cut off while its replica was elected rejoins as the winner's replica and stays one. (The exact
    /// message order that made it take its slots back in the fault suite is reproduced deterministically by
    /// `FailoverVotingTests.staleRecordIsNotAYield`; this simulation checks the whole cluster's outcome and does
    /// not hit that order by itself.)
    @Test("A primary cut off during its failover rejoins as the winner's replica and stays one", arguments: [7, 8, 9])
    func isolatedPrimaryRejoinsAsReplica(seed: UInt64) {
        var simulation = Self.cluster(seed: seed)
        let slots = simulation.nodes[2]!.topology.slots.slots(of: simulation.ids[2])
        let count = simulation.nodes[2]!.topology.slots.slotCount(of: simulation.ids[2])
        simulation.partition([0, 0, 1, 0, 0, 0])
        let elected = simulation.run(until: simulation.now + 10_000, step: 5) { simulation in
            [0, 1, 3, 4, 5].allSatisfy {
                simulation.nodes[$0]!.topology.slots.slotCount(of: simulation.ids[3]) == count
            }
        }
        #expect(elected != nil)
        simulation.heal()
        let demoted = simulation.run(until: simulation.now + 4_000, step: 5) {
            Self.role($0, of: 2) == .replica(of: $0.ids[3])
        }
        #expect(demoted != nil)
        simulation.run(until: simulation.now + 6_000)
        #expect(Self.role(simulation, of: 2) == .replica(of: simulation.ids[3]))
        #expect(simulation.allRunningNodes(map: slots.slots, to: simulation.ids[3]))
        let takeovers = Self.events(simulation, on: 2).filter { if case .becamePrimary = $0 { true } else { false } }
        #expect(takeovers.isEmpty)
        Self.expectAgreement(simulation)
    }

    @Test("A replica that reaches 2 of 5 primaries cannot be elected; after healing it is")
    func minorityCannotElect() {
        var simulation = ClusterSimulation(.init(nodeCount: 10, settings: Self.settings, seed: 4))
        simulation.run(until: 2_000)
        let slots = simulation.nodes[0]!.topology.slots.slots(of: simulation.ids[0])
        simulation.crash(0)
        let failed = simulation.run(until: simulation.now + 8_000, step: 5) {
            $0.nodes[1]!.topology[$0.ids[0]]!.isFailed
        }
        #expect(failed != nil)
        // The replica (1) sees primaries 2 and 4 only; primaries 6 and 8 are on the other side.
        simulation.partition([0, 1, 1, 0, 1, 0, 0, 0, 0, 0])
        simulation.run(until: simulation.now + 14_000)  // two elections: 4 s each, retried 8 s after the start
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[0]))
        #expect(simulation.nodes.allSatisfy { $0.map { $0.topology.slots.owner(of: 0) == simulation.ids[0] } ?? true })
        let attempts = Self.events(simulation, on: 1).filter { if case .electionStarted = $0 { true } else { false } }
        let timeouts = Self.events(simulation, on: 1).filter { if case .electionTimedOut = $0 { true } else { false } }
        #expect(attempts.count >= 2 && timeouts.count >= 2)
        simulation.heal()
        let elected = simulation.run(until: simulation.now + 12_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[1])
        }
        #expect(elected != nil)
        Self.expectAgreement(simulation)
    }

    @Test("A nofailover replica does not start an election")
    func noFailover() {
        var simulation = Self.cluster()
        simulation.perform(on: 1) { instance, now in
            instance.administer { topology in
                topology.update(topology.myself) { $0.flags.insert(.noFailover) }
            }
            return []
        }
        simulation.run(until: simulation.now + 500)
        _ = simulation.measureFailover(of: 0, limit: 6_000)
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[0], noFailover: true))
        #expect(Self.events(simulation, on: 1).isEmpty)
    }

    // MARK: Manual failover

    @Test("CLUSTER FAILOVER waits for the primary's final offset; the primary's pause clears")
    func manualDefault() throws {
        var simulation = Self.cluster()
        simulation.setReplicationOffset(5_000, on: 0)
        simulation.setReplicationOffset(4_000, on: 1)
        let slots = simulation.nodes[0]!.topology.slots.slots(of: simulation.ids[0])
        try simulation.perform(on: 1) { (instance, now) throws(Gossip.FailoverCommandError) in
            try instance.startManualFailover(.default, now: now)
        }
        simulation.run(until: simulation.now + 300)
        let pauseUntil = try #require(simulation.nodes[0]!.manualFailoverPauseUntil)
        #expect(pauseUntil > simulation.now + 9_000)
        #expect(simulation.writesPaused[0])
        #expect(Self.events(simulation, on: 1).contains(.manualFailoverOffsetReceived(offset: 5_000)))
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[0]))
        simulation.run(until: simulation.now + 1_000)
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[0]))  // still 1000 behind
        simulation.setReplicationOffset(5_000, on: 1)
        let done = simulation.run(until: simulation.now + 2_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[1])
        }
        #expect(done != nil)
        simulation.run(until: simulation.now + 500)
        #expect(Self.role(simulation, of: 0) == .replica(of: simulation.ids[1]))
        #expect(simulation.nodes[0]!.manualFailoverPauseUntil == nil)
        #expect(!simulation.writesPaused[0])
        let started = Self.events(simulation, on: 1).compactMap {
            if case .electionStarted(_, _, let forced) = $0 { forced } else { nil }
        }
        #expect(started == [true])
        Self.expectAgreement(simulation)
    }

    @Test("CLUSTER FAILOVER aborts after 5 s if the offset is not reached; the pause ends at its deadline")
    func manualDefaultAborts() throws {
        var simulation = Self.cluster()
        simulation.setReplicationOffset(5_000, on: 0)
        simulation.setReplicationOffset(4_000, on: 1)
        let start = simulation.now
        try simulation.perform(on: 1) { (instance, now) throws(Gossip.FailoverCommandError) in
            try instance.startManualFailover(.default, now: now)
        }
        simulation.run(until: start + 5_100)
        #expect(Self.events(simulation, on: 1).last == .manualFailoverAborted)
        #expect(simulation.nodes[0]!.manualFailoverPauseUntil != nil)
        simulation.setReplicationOffset(5_000, on: 1)  // too late
        simulation.run(until: start + 10_100)
        #expect(simulation.nodes[0]!.manualFailoverPauseUntil == nil)
        #expect(Self.events(simulation, on: 0).last == .writesResumed)
        #expect(Self.role(simulation, of: 1) == .replica(of: simulation.ids[0]))
        #expect(Self.role(simulation, of: 0) == .primary)
    }

    @Test("CLUSTER FAILOVER FORCE elects the replica while its primary is up, without waiting for it")
    func manualForce() throws {
        var simulation = Self.cluster()
        simulation.setReplicationOffset(5_000, on: 2)
        let slots = simulation.nodes[2]!.topology.slots.slots(of: simulation.ids[2])
        try simulation.perform(on: 3) { (instance, now) throws(Gossip.FailoverCommandError) in
            try instance.startManualFailover(.force, now: now)
        }
        let done = simulation.run(until: simulation.now + 2_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[3])
        }
        #expect(done != nil)
        simulation.run(until: simulation.now + 500)
        #expect(Self.role(simulation, of: 2) == .replica(of: simulation.ids[3]))
        #expect(simulation.nodes[2]!.manualFailoverPauseUntil == nil)
        #expect(Self.events(simulation, on: 3).contains(.becamePrimary(configEpoch: 4)))
        Self.expectAgreement(simulation)
    }

    @Test("CLUSTER FAILOVER TAKEOVER takes the slots at once, with a new config epoch and no election")
    func manualTakeover() throws {
        var simulation = Self.cluster()
        let slots = simulation.nodes[4]!.topology.slots.slots(of: simulation.ids[4])
        // Even cut off from the other primaries, the takeover happens.
        simulation.partition([0, 0, 0, 0, 1, 1])
        try simulation.perform(on: 5) { (instance, now) throws(Gossip.FailoverCommandError) in
            try instance.startManualFailover(.takeover, now: now)
        }
        let replica = simulation.nodes[5]!
        #expect(replica.topology.myselfNode.isPrimary)
        #expect(replica.topology.myselfNode.configEpoch == 4)
        #expect(replica.topology.slots.slots(of: simulation.ids[5]) == slots)
        simulation.heal()
        let done = simulation.run(until: simulation.now + 3_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[5]) && Self.role($0, of: 4) == .replica(of: $0.ids[5])
        }
        #expect(done != nil)
        #expect(!simulation.failoverEvents.contains { if case .electionStarted = $0.event { true } else { false } })
        #expect(!simulation.failoverEvents.contains { if case .voteGranted = $0.event { true } else { false } })
        Self.expectAgreement(simulation)
    }

    @Test("CLUSTER FAILOVER and CLUSTER REPLICATE refusals use Redis's words")
    func commandErrors() throws {
        var simulation = Self.cluster()
        var primary = simulation.nodes[0]!
        var replica = simulation.nodes[1]!
        let now = simulation.now
        func message(_ body: () throws(Gossip.FailoverCommandError) -> Void) -> String? {
            do {
                try body()
                return nil
            } catch {
                return error.message
            }
        }
        #expect(
            message { () throws(Gossip.FailoverCommandError) in _ = try primary.startManualFailover(.force, now: now) }
                == "ERR You should send CLUSTER FAILOVER to a replica")
        let stranger = NodeID(high: 1, middle: 2, low: 3)
        #expect(
            message { () throws(Gossip.FailoverCommandError) in try primary.replicate(stranger, now: now) }
                == "ERR Unknown node \(stranger)")
        #expect(
            message { () throws(Gossip.FailoverCommandError) in try primary.replicate(simulation.ids[0], now: now) }
                == "ERR Can't replicate myself")
        #expect(
            message { () throws(Gossip.FailoverCommandError) in try primary.replicate(simulation.ids[3], now: now) }
                == "ERR I can only replicate a master, not a replica.")
        #expect(
            message { () throws(Gossip.FailoverCommandError) in try primary.replicate(simulation.ids[2], now: now) }
                == "ERR To set a master the node must be empty and without assigned slots.")
        // A replica may move to another primary.
        #expect(
            message { () throws(Gossip.FailoverCommandError) in try replica.replicate(simulation.ids[2], now: now) }
                == nil)
        #expect(replica.topology.myselfNode.role == .replica(of: simulation.ids[2]))
        #expect(replica.takeEvents() == [.becameReplica(of: simulation.ids[2])])
        // The primary down: only FORCE and TAKEOVER are accepted.
        simulation.crash(0)
        _ = simulation.run(until: simulation.now + 8_000) { $0.nodes[1]!.topology[$0.ids[0]]!.isFailed }
        replica = simulation.nodes[1]!
        #expect(
            message { () throws(Gossip.FailoverCommandError) in _ = try replica.startManualFailover(.default, now: now)
            }
                == "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
        #expect(
            message { () throws(Gossip.FailoverCommandError) in _ = try replica.startManualFailover(.force, now: now) }
                == nil)
        // A replica whose primary is unknown.
        var orphan = ClusterTopology(myself: ClusterNode(id: stranger, ip: "10.9.9.9", port: 7000))
        orphan.update(stranger) { $0.setRole(.replica(of: nil)) }
        var lonely = Gossip.Instance(topology: orphan, settings: Self.settings, seed: 1, now: 0)
        #expect(
            message { () throws(Gossip.FailoverCommandError) in _ = try lonely.startManualFailover(.takeover, now: 0) }
                == "ERR I'm a replica but my master is unknown to me")
    }

    // MARK: Empty restart

    @Test(
        "A primary restarted empty yields: its replica takes over without an election, it becomes the replica",
        arguments: [0, 6])
    func emptyRestart(incarnationBefore: Int) {
        var simulation = Self.cluster()
        // A restarted node starts at incarnation 0; the others may know a greater one (its role change then reaches
        // the replica in its own messages, not as news the others accept).
        for _ in 0..<incarnationBefore {
            simulation.perform(on: 0) { instance, _ in
                instance.administer { _ in }
                return []
            }
        }
        simulation.run(until: simulation.now + 1_000)
        simulation.setReplicationOffset(9_000, on: 1)
        let slots = simulation.nodes[0]!.topology.slots.slots(of: simulation.ids[0])
        simulation.crash(0)
        simulation.run(until: simulation.now + 300)
        simulation.restart(0, empty: true)
        #expect(simulation.nodes[0]!.isAwaitingTakeover)
        #expect(Self.role(simulation, of: 0) == .replica(of: simulation.ids[1]))
        let done = simulation.run(until: simulation.now + 3_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[1]) && !$0.nodes[0]!.isAwaitingTakeover
        }
        #expect(done != nil)
        #expect(Self.role(simulation, of: 0) == .replica(of: simulation.ids[1]))
        #expect(Self.role(simulation, of: 1) == .primary)
        #expect(!simulation.failoverEvents.contains { if case .electionStarted = $0.event { true } else { false } })
        simulation.run(until: simulation.now + 2 * Self.settings.nodeTimeout + 500)
        #expect(Self.role(simulation, of: 0) == .replica(of: simulation.ids[1]))
        Self.expectAgreement(simulation)
    }

    @Test("A primary restarted empty whose replica is gone reclaims its slots after 2 x node timeout")
    func emptyRestartReclaims() {
        var simulation = Self.cluster()
        let slots = simulation.nodes[0]!.topology.slots.slots(of: simulation.ids[0])
        simulation.crash(1)
        simulation.crash(0)
        simulation.run(until: simulation.now + 300)
        simulation.restart(0, empty: true)
        let yieldedAt = simulation.now
        #expect(simulation.nodes[0]!.isAwaitingTakeover)
        simulation.run(until: yieldedAt + 2 * Self.settings.nodeTimeout - 10)
        #expect(simulation.nodes[0]!.isAwaitingTakeover)
        simulation.run(until: yieldedAt + 2 * Self.settings.nodeTimeout + 10)
        #expect(!simulation.nodes[0]!.isAwaitingTakeover)
        #expect(Self.role(simulation, of: 0) == .primary)
        #expect(simulation.nodes[0]!.topology.myselfNode.configEpoch == 4)
        let agreed = simulation.run(until: simulation.now + 3_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[0])
        }
        #expect(agreed != nil)
        Self.expectAgreement(simulation)
    }

    // MARK: Simulation

    @Test(
        "6 nodes, node timeout 2 s: the replica serves the slots and all agree within node timeout + 1 s",
        arguments: [1, 2, 3] as [UInt64])
    func failoverTime(seed: UInt64) {
        var simulation = ClusterSimulation(.init(nodeCount: 6, settings: Self.settings, seed: seed, loss: 0.01))
        simulation.run(until: 5_000)
        let result = simulation.measureFailover(of: 2, limit: 10_000)
        #expect(result.winner == 3)
        let agreed = try! #require(result.allAgree)
        #expect(agreed <= Self.settings.nodeTimeout + 1_000, "took \(agreed) ms")
        #expect(result.promotions == 1)
    }
}
