import RoostAdmin
import RoostCluster
import Testing

@Suite struct ClusterRolesTests {
    /// Replicas on another host than their primary.
    static func antiAffine(_ roles: ClusterPlan.Roles, _ hosts: [String]) -> Int {
        roles.replicaOf.filter { hosts[$0.replica] != hosts[$0.primary] }.count
    }

    /// Every node appears exactly once, as a primary or as one replica.
    static func expectPartition(_ roles: ClusterPlan.Roles, nodes: Int) {
        let all = roles.primaries + roles.replicas.flatMap { $0 }
        #expect(all.sorted() == Array(0..<nodes))
        #expect(roles.replicas.count == roles.primaries.count)
    }

    @Test(arguments: [(0, 3), (1, 6), (2, 9), (3, 12)])
    func minimumNodeCounts(replicas: Int, nodes: Int) throws {
        #expect(ClusterPlan.minimumNodes(replicas: replicas) == nodes)
        try ClusterPlan.validateNodeCount(nodes, replicas: replicas)
        let error = #expect(throws: ClusterPlan.RolesError.self) {
            try ClusterPlan.validateNodeCount(nodes - 1, replicas: replicas)
        }
        #expect(error?.description.contains("At least \(nodes) nodes are required.") == true)
        #expect(throws: ClusterPlan.RolesError.self) {
            try ClusterPlan.assignRoles(hosts: Array(repeating: "h", count: nodes - 1), replicas: replicas)
        }
    }

    @Test func negativeReplicasAreRefused() {
        #expect(throws: ClusterPlan.RolesError.self) { try ClusterPlan.validateNodeCount(6, replicas: -1) }
    }

    @Test func oneHostTakesTheFirstNodesAsPrimariesAndTheRestInTurn() throws {
        let roles = try ClusterPlan.assignRoles(hosts: Array(repeating: "127.0.0.1", count: 6), replicas: 1)
        #expect(roles.primaries == [0, 1, 2])
        #expect(roles.replicas == [[3], [4], [5]])
        let two = try ClusterPlan.assignRoles(hosts: Array(repeating: "127.0.0.1", count: 9), replicas: 2)
        #expect(two.primaries == [0, 1, 2] && two.replicas == [[3, 6], [4, 7], [5, 8]])
        let none = try ClusterPlan.assignRoles(hosts: Array(repeating: "127.0.0.1", count: 4), replicas: 0)
        #expect(none.primaries == [0, 1, 2, 3] && none.replicaOf.isEmpty)
    }

    @Test func leftOverNodesBecomeExtraReplicasInTurn() throws {
        let roles = try ClusterPlan.assignRoles(hosts: Array(repeating: "h", count: 8), replicas: 1)
        #expect(roles.primaries == [0, 1, 2, 3])
        #expect(roles.replicas == [[4], [5], [6], [7]])
        let seven = try ClusterPlan.assignRoles(hosts: Array(repeating: "h", count: 7), replicas: 1)
        #expect(seven.primaries == [0, 1, 2] && seven.replicas == [[3, 6], [4], [5]])
        Self.expectPartition(seven, nodes: 7)
    }

    @Test func primariesAreSpreadOverHostsAndReplicasAvoidTheirPrimarysHost() throws {
        let hosts = ["a", "a", "a", "b", "b", "b"]
        let roles = try ClusterPlan.assignRoles(hosts: hosts, replicas: 1)
        #expect(roles.primaries == [0, 3, 1])
        #expect(Self.antiAffine(roles, hosts) == 3)
        Self.expectPartition(roles, nodes: 6)
    }

    @Test func replicasOfOnePrimaryUseDifferentHosts() throws {
        let hosts = ["a", "a", "a", "b", "b", "b", "c", "c", "c"]
        let roles = try ClusterPlan.assignRoles(hosts: hosts, replicas: 2)
        #expect(Set(roles.primaries.map { hosts[$0] }) == ["a", "b", "c"])
        for (primary, replicas) in zip(roles.primaries, roles.replicas) {
            let replicaHosts = replicas.map { hosts[$0] }
            #expect(!replicaHosts.contains(hosts[primary]))
            #expect(Set(replicaHosts).count == 2, "\(roles)")
        }
    }

    /// First fit would give the primary on `a` the only node on `d`, the primary on `b` a node on `c`, and leave
    /// the primary on `c` with the other node on `c`; the matching moves the others' replicas to free `d` for it.
    @Test func theMatchingFindsWhatFirstFitMisses() throws {
        // Interleaved by host: 0(a) 1(b) 2(c) 5(d) 3(c) 4(c): primaries 0, 1, 2; the pool is 5, 3, 4.
        let hosts = ["a", "b", "c", "c", "c", "d"]
        let roles = try ClusterPlan.assignRoles(hosts: hosts, replicas: 1)
        #expect(roles.primaries == [0, 1, 2])
        #expect(Self.antiAffine(roles, hosts) == 3, "\(roles)")
        #expect(roles.replicas[2] == [5])
    }

    /// On random host layouts the plan is a partition of the nodes and places as many replicas off their
    /// primary's host as the best assignment to the same primaries does (found by trying every permutation).
    @Test(arguments: 0..<40)
    func antiAffinityIsMaximalOnRandomLayouts(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed))
        let replicas = Int(random.next() % 2) + 1
        let nodes = ClusterPlan.minimumNodes(replicas: replicas) + Int(random.next() % 2)
        let hostCount = Int(random.next() % 4) + 1
        let hosts = (0..<nodes).map { _ in "host\(random.next() % UInt64(hostCount))" }
        let roles = try ClusterPlan.assignRoles(hosts: hosts, replicas: replicas)
        Self.expectPartition(roles, nodes: nodes)
        #expect(roles.replicas.allSatisfy { $0.count >= replicas })

        let pool = roles.replicas.flatMap { $0 }
        let owners = roles.replicas.enumerated().flatMap { index, list in list.map { _ in roles.primaries[index] } }
        var best = 0
        forEachPermutation(pool) { order in
            best = max(best, zip(order, owners).filter { hosts[$0] != hosts[$1] }.count)
        }
        #expect(Self.antiAffine(roles, hosts) == best, "\(hosts) \(roles)")
    }

    @Test func rolesAndDisagreementsFromClusterNodes() throws {
        let primary = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
        let replica = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
        let other = "1111111111111111111111111111111111111111"
        let view = try ClusterPlan.parseNodes(
            """
            \(primary) 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383
            \(replica) 127.0.0.1:7001@17001 slave \(primary) 0 0 1 connected

            """)
        let roles = ClusterPlan.roles(view)
        let primaryID = try #require(NodeID(primary))
        let replicaID = try #require(NodeID(replica))
        #expect(roles[primaryID] == .some(nil))
        #expect(roles[replicaID] == .some(primaryID))
        #expect(ClusterPlan.roleDisagreements(view, expected: roles).isEmpty)

        let otherID = try #require(NodeID(other))
        let wrong = ClusterPlan.roleDisagreements(view, expected: [replicaID: otherID, primaryID: replicaID])
        #expect(wrong.count == 2)
        #expect(wrong.contains("sees \(replica) replicating \(primary), not \(other)"))
        #expect(wrong.contains("sees \(primary) as a primary, not a replica of \(replica)"))
        let asPrimary = ClusterPlan.roleDisagreements(view, expected: [replicaID: NodeID?.none])
        #expect(asPrimary == ["sees \(replica) as a replica, not a primary"])
    }
}

/// Calls `body` with every ordering of `items` (Heap's algorithm).
func forEachPermutation(_ items: [Int], _ body: ([Int]) -> Void) {
    var items = items
    var counters = [Int](repeating: 0, count: items.count)
    body(items)
    var index = 0
    while index < items.count {
        if counters[index] < index {
            items.swapAt(index % 2 == 0 ? 0 : counters[index], index)
            body(items)
            counters[index] += 1
            index = 0
        } else {
            counters[index] = 0
            index += 1
        }
    }
}

/// A small seeded generator, so the random layouts are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
