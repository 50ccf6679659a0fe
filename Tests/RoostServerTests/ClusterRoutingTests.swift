import RoostCluster
import Testing

@testable import RoostServer

@Suite("Cluster routing")
struct ClusterRoutingTests {
    static let me = NodeID(high: 1, middle: 0, low: 0)
    static let other = NodeID(high: 2, middle: 0, low: 0)

    /// Slots 0...8191 here, 8192...16383 on the other node, unless `coverAll` is false (then 16383 is unassigned).
    static func routing(
        coverAll: Bool = true, ok: Bool = true, migrating: [Int: NodeID] = [:], importing: [Int: NodeID] = [:]
    ) -> ClusterRouting {
        var slots = SlotMap()
        slots.assign(SlotSet([0...8191]), to: me)
        slots.assign(SlotSet([8192...(coverAll ? 16383 : 16382)]), to: other)
        for (slot, target) in migrating { slots.setMigrating(slot, to: target) }
        for (slot, source) in importing { slots.setImporting(slot, from: source) }
        return ClusterRouting(
            myself: me, slots: slots, endpoints: [me: "127.0.0.1:7000", other: "127.0.0.1:7001"], isOK: ok)
    }

    static let noKeysHere: @Sendable () -> (existing: Int, missing: Int) = { (0, 1) }
    static let allKeysHere: @Sendable () -> (existing: Int, missing: Int) = { (1, 0) }

    @Test func ownSlotsRunHereOthersAreMoved() {
        let routing = Self.routing()
        #expect(routing.route(slot: 5, asking: false, multipleKeys: false, presence: Self.noKeysHere) == .local)
        let moved = routing.route(slot: 9000, asking: false, multipleKeys: false, presence: Self.noKeysHere)
        #expect(moved == .moved(slot: 9000, endpoint: "127.0.0.1:7001"))
        #expect(moved.error?.message == "MOVED 9000 127.0.0.1:7001")
    }

    @Test func unservedSlotsAndADownClusterAnswerClusterdown() {
        let uncovered = Self.routing(coverAll: false)
        let unbound = uncovered.route(slot: 16383, asking: false, multipleKeys: false, presence: Self.noKeysHere)
        #expect(unbound.error?.message == "CLUSTERDOWN Hash slot not served")
        let down = Self.routing(ok: false).route(slot: 5, asking: false, multipleKeys: false, presence: Self.noKeysHere)
        #expect(down.error?.message == "CLUSTERDOWN The cluster is down")
    }

    @Test func migratingSlotAsksForMissingKeysAndRetriesPartialMultiKeyRequests() {
        let routing = Self.routing(migrating: [5: Self.other])
        #expect(routing.route(slot: 5, asking: false, multipleKeys: false, presence: Self.allKeysHere) == .local)
        let ask = routing.route(slot: 5, asking: false, multipleKeys: false, presence: Self.noKeysHere)
        #expect(ask.error?.message == "ASK 5 127.0.0.1:7001")
        let partial = routing.route(slot: 5, asking: false, multipleKeys: true) { (1, 1) }
        #expect(partial.error?.message == "TRYAGAIN Multiple keys request during rehashing of slot")
    }

    @Test func importingSlotIsServedOnlyAfterAsking() {
        let routing = Self.routing(importing: [9000: Self.other])
        #expect(
            routing.route(slot: 9000, asking: false, multipleKeys: false, presence: Self.noKeysHere)
                == .moved(slot: 9000, endpoint: "127.0.0.1:7001"))
        #expect(routing.route(slot: 9000, asking: true, multipleKeys: false, presence: Self.noKeysHere) == .local)
        #expect(routing.route(slot: 9000, asking: true, multipleKeys: true) { (1, 1) } == .tryAgain)
    }

    @Test func stateNeedsFullCoverageAndNoFailedOwnerWhenRequired() {
        var topology = ClusterTopology(myself: ClusterNode(id: Self.me, ip: "127.0.0.1", port: 7000))
        topology.upsert(ClusterNode(id: Self.other, ip: "127.0.0.1", port: 7001))
        topology.slots.assign(SlotSet([0...8191]), to: Self.me)
        #expect(!ClusterRouting.state(of: topology, requireFullCoverage: true))
        #expect(ClusterRouting.state(of: topology, requireFullCoverage: false))
        topology.slots.assign(SlotSet([8192...16383]), to: Self.other)
        #expect(ClusterRouting.state(of: topology, requireFullCoverage: true))
        topology.update(Self.other) { $0.flags.insert(.failed) }
        #expect(!ClusterRouting.state(of: topology, requireFullCoverage: true))
    }

    // MARK: Through the dispatcher

    static func clusterHarness() -> Harness {
        Harness { $0.clusterEnabled = true }
    }

    @Test func dispatcherRoutesByTheCommandTablesKeyPositions() throws {
        var harness = Self.clusterHarness()
        #expect(harness("SET", "foo", "bar") == .error("CLUSTERDOWN Hash slot not served"))
        #expect(harness("PING") == .simple("PONG"))
        #expect(harness("CLUSTER", "ADDSLOTSRANGE", "0", "8191") == .ok)
        let cluster = try #require(harness.server.cluster)
        cluster.update { gossip, _, _ in
            gossip.administer {
                $0.upsert(ClusterNode(id: Self.other, ip: "10.0.0.2", port: 7001))
                $0.slots.assign(SlotSet([8192...16383]), to: Self.other)
            }
        }
        #expect(harness("CLUSTER", "KEYSLOT", "foo") == .integer(12182))
        #expect(harness("SET", "foo", "bar") == .error("MOVED 12182 10.0.0.2:7001"))
        #expect(harness("SET", "{a}foo", "bar") == .error("MOVED \(keySlot("a")) 10.0.0.2:7001"))
        #expect(keySlot("bar") < 8192)
        #expect(harness("SET", "bar", "1") == .ok)
        #expect(harness("MSET", "bar", "1", "{bar}x", "2") == .ok)
        #expect(harness("MGET", "bar", "foo") == .error("CROSSSLOT Keys in request don't hash to the same slot"))
        #expect(harness("DEL", "bar", "{bar}x") == .integer(2))
        #expect(
            harness("MSET", "bar", "1", "foo", "2") == .error("CROSSSLOT Keys in request don't hash to the same slot"))
        // Keys counted by a numkeys argument are routed too, not only the positions the table can declare.
        let crossSlot = Reply.error("CROSSSLOT Keys in request don't hash to the same slot")
        #expect(harness("ZUNIONSTORE", "{bar}d", "2", "{bar}a", "foo") == crossSlot)
        #expect(harness("ZINTER", "2", "{bar}a", "foo") == crossSlot)
        #expect(harness("SINTERCARD", "2", "{bar}a", "foo") == crossSlot)
        #expect(harness("ZUNIONSTORE", "{bar}d", "2", "{bar}a", "bar") == .integer(0))
        #expect(harness("ZUNION", "2", "foo", "{a}foo") == crossSlot)
        #expect(harness("ZUNION", "2", "foo", "{foo}x") == .error("MOVED 12182 10.0.0.2:7001"))
        #expect(harness("SET", "bar", "1") == .ok)
        #expect(harness("CLUSTER", "COUNTKEYSINSLOT", "\(keySlot("bar"))") == .integer(1))
        #expect(harness("CLUSTER", "GETKEYSINSLOT", "\(keySlot("bar"))", "5") == .strings(["bar"]))
    }

    @Test func askingLastsOneCommand() throws {
        var harness = Self.clusterHarness()
        let cluster = try #require(harness.server.cluster)
        cluster.update { gossip, _, _ in
            gossip.administer {
                $0.upsert(ClusterNode(id: Self.other, ip: "10.0.0.2", port: 7001))
                $0.slots.assign(SlotSet.all, to: Self.other)
            }
        }
        #expect(harness("CLUSTER", "SETSLOT", "12182", "IMPORTING", Self.other.description) == .ok)
        #expect(harness("GET", "foo") == .error("MOVED 12182 10.0.0.2:7001"))
        #expect(harness("ASKING") == .ok)
        #expect(harness("GET", "foo") == .null)
        #expect(harness("GET", "foo") == .error("MOVED 12182 10.0.0.2:7001"))
    }

    @Test func clusterCommandsAreRefusedWithoutClusterMode() {
        var harness = Harness()
        let disabled = Reply.error("ERR This instance has cluster support disabled")
        #expect(harness("CLUSTER", "INFO") == disabled)
        #expect(harness("ASKING") == disabled)
        #expect(harness("READONLY") == disabled)
        #expect(harness("MGET", "a", "b") == .array([.null, .null]))
    }
}
