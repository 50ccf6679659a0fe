import RoostCluster
import RoostClusterSimulation
import Testing

@Suite("Membership and failure detection")
struct GossipTests {
    static let settings = Gossip.Settings(nodeTimeout: 2_000)

    @Test("A healthy cluster, even with 5% message loss, raises no fail flags", arguments: [0.0, 0.05])
    func quiet(loss: Double) {
        var simulation = ClusterSimulation(.init(nodeCount: 12, settings: Self.settings, seed: 3, loss: loss))
        simulation.run(until: 30_000)
        for node in 0..<12 {
            #expect(simulation.noRunningNode(sees: .failed, on: node))
        }
    }

    @Test(
        "A crashed primary is flagged fail by all within 3 x node timeout, with and without loss",
        arguments: [
            (UInt64(1), 0.0), (UInt64(2), 0.05), (UInt64(3), 0.10),
        ])
    func crashDetected(seed: UInt64, loss: Double) {
        var simulation = ClusterSimulation(.init(nodeCount: 20, settings: Self.settings, seed: seed, loss: loss))
        simulation.run(until: 5_000)
        simulation.crash(4)
        let detected = simulation.run(until: 5_000 + 6_000) { $0.allRunningNodes(see: .failed, on: 4) }
        #expect(detected != nil)
        for node in 0..<20 where node != 4 {
            #expect(simulation.noRunningNode(sees: .failed, on: node))
        }
    }

    @Test("A node that comes back refutes its failure with a greater incarnation")
    func comeBack() {
        var simulation = ClusterSimulation(.init(nodeCount: 10, settings: Self.settings, seed: 9, loss: 0.02))
        simulation.run(until: 3_000)
        simulation.crash(2)
        let failed = simulation.run(until: 12_000) { $0.allRunningNodes(see: .failed, on: 2) }
        #expect(failed != nil)
        simulation.restart(2)
        let recovered = simulation.run(until: simulation.now + 6_000) {
            $0.noRunningNode(sees: .failed, on: 2) && $0.noRunningNode(sees: .possiblyFailed, on: 2)
        }
        #expect(recovered != nil)
        let restarted = simulation.nodes[2]!
        #expect(restarted.incarnation > 0)
        #expect(restarted.topology.myself == simulation.ids[2])
        #expect(restarted.topology.slots.slotCount(of: simulation.ids[2]) > 0)
    }

    @Test("A minority partition is failed by the majority; after healing everyone recovers")
    func partitionAndHeal() {
        let count = 10
        var simulation = ClusterSimulation(.init(nodeCount: count, settings: Self.settings, seed: 5))
        simulation.run(until: 3_000)
        // Nodes 0 and 1 (one primary and its replica) are cut off from the rest.
        simulation.partition((0..<count).map { $0 < 2 ? 1 : 0 })
        let failed = simulation.run(until: 12_000) { $0.nodes[5]!.topology[$0.ids[0]]!.isFailed }
        #expect(failed != nil)
        // The minority cannot gather a majority of primaries: it suspects, but fails nobody.
        let minority = simulation.nodes[0]!.topology
        #expect(minority.nodes.values.allSatisfy { !$0.isFailed })
        #expect(minority[simulation.ids[5]]!.flags.contains(.possiblyFailed))
        simulation.heal()
        let healed = simulation.run(until: simulation.now + 8_000) { simulation in
            (0..<count).allSatisfy {
                simulation.noRunningNode(sees: .failed, on: $0)
                    && simulation.noRunningNode(sees: .possiblyFailed, on: $0)
            }
        }
        #expect(healed != nil)
    }

    @Test("A replica that takes over a failed primary's slots is adopted by every node's slot map")
    func takeover() {
        var simulation = ClusterSimulation(.init(nodeCount: 16, settings: Self.settings, seed: 11, loss: 0.01))
        simulation.run(until: 3_000)
        let primary = 6
        let replica = 7
        let slots = simulation.nodes[primary]!.topology.slots.slots(of: simulation.ids[primary])
        simulation.crash(primary)
        _ = simulation.run(until: 12_000) { $0.nodes[replica]!.topology[$0.ids[primary]]!.isFailed }
        simulation.perform(on: replica) { instance, now in
            instance.claimSlots(slots, now: now)
            return []
        }
        let converged = simulation.run(until: simulation.now + 6_000) {
            $0.allRunningNodes(map: slots.slots, to: $0.ids[replica])
        }
        #expect(converged != nil)
        // The old primary, restarted, loses its slots to the greater epoch and becomes a replica of the winner.
        simulation.restart(primary)
        _ = simulation.run(until: simulation.now + 6_000) {
            $0.nodes[primary]!.topology.myselfNode.flags.contains(.replica)
        }
        let me = simulation.nodes[primary]!.topology.myselfNode
        #expect(me.flags.contains(.replica) && me.primaryID == simulation.ids[replica])
        #expect(simulation.allRunningNodes(map: slots.slots, to: simulation.ids[replica]))
    }

    @Test("The same seed gives the same run")
    func deterministic() {
        func run() -> [Int] {
            var simulation = ClusterSimulation(.init(nodeCount: 8, settings: Self.settings, seed: 21, loss: 0.05))
            simulation.run(until: 4_000)
            simulation.crash(3)
            simulation.run(until: 10_000)
            return simulation.bytesSent
        }
        #expect(run() == run())
    }

    @Test("Messages carry at most the configured number of gossip items")
    func boundedPiggyback() {
        var settings = Self.settings
        settings.maximumGossipItems = 3
        let me = NodeID.random()
        var topology = ClusterTopology(myself: ClusterNode(id: me, ip: "10.0.0.1", port: 7000))
        for index in 0..<50 { topology.upsert(ClusterNode(id: NodeID.random(), ip: "10.0.1.\(index)", port: 7000)) }
        var instance = Gossip.Instance(topology: topology, settings: settings, seed: 1, now: 0)
        var sent: [Gossip.Outgoing] = []
        for index in 0..<40 {
            let info = MemberInfo(
                id: NodeID.random(), incarnation: 1, role: .primary, ip: "10.0.2.\(index)", port: 7000, busPort: 17000)
            sent += instance.meet(info, now: Int64(index))
        }
        var time: Int64 = 0
        while time < 5_000 {
            time = max(time + 1, instance.nextDeadline)
            sent += instance.tick(now: time)
        }
        #expect(!sent.isEmpty)
        #expect(sent.allSatisfy { $0.message.gossip.count <= 3 + 1 })
    }
}
