public import RoostCluster

extension ClusterPlan {
    /// Which of the given nodes are primaries and which replicate which, as `roost cluster create --replicas N`
    /// plans it. Nodes are named by their position in the list given to ``assignRoles(hosts:replicas:)``.
    public struct Roles: Hashable, Sendable {
        /// The primaries, in slot order: the first gets the first slot range.
        public var primaries: [Int]
        /// The replicas of each primary, in the order of ``primaries``.
        public var replicas: [[Int]]

        /// Roles from their parts.
        public init(primaries: [Int], replicas: [[Int]]) {
            self.primaries = primaries
            self.replicas = replicas
        }

        /// The primary each replica follows, as (replica, primary) pairs in the order of ``primaries``.
        public var replicaOf: [(replica: Int, primary: Int)] {
            zip(primaries, replicas).flatMap { primary, replicas in replicas.map { ($0, primary) } }
        }
    }

    /// Why the nodes given cannot make a cluster with the replicas asked for.
    public struct RolesError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The message, in `redis-cli --cluster create`'s words.
        public var description: String
    }

    /// The fewest nodes that make a cluster of three primaries with `replicas` replicas each.
    public static func minimumNodes(replicas: Int) -> Int { 3 * (replicas + 1) }

    /// Throws unless `count` nodes can make at least three primaries with `replicas` replicas each.
    public static func validateNodeCount(_ count: Int, replicas: Int) throws(RolesError) {
        guard replicas >= 0 else { throw RolesError(description: "*** ERROR: --replicas must be 0 or more") }
        let needed = minimumNodes(replicas: replicas)
        guard count >= needed else {
            throw RolesError(
                description: "*** ERROR: Invalid configuration for cluster creation.\n"
                    + "*** Roost Cluster requires at least 3 primary nodes.\n"
                    + "*** This is not possible with \(count) nodes and \(replicas) replicas per node.\n"
                    + "*** At least \(needed) nodes are required.")
        }
    }

    /// Chooses primaries and replicas among nodes on `hosts` (one entry per node; equal strings mean the same
    /// machine), as `redis-cli --cluster create --cluster-replicas` does:
    ///
    /// 1. The nodes are interleaved by host (one from each host in turn, hosts in order of first appearance,
    ///    nodes in the order given), and the first `count / (replicas + 1)` of that order become the primaries.
    ///    On one host this is simply the first nodes given.
    /// 2. The rest become replicas: `replicas` per primary, and any nodes left over are spread one per primary in
    ///    turn (as redis-cli spreads "unused" nodes).
    /// 3. Anti-affinity: which replica follows which primary is a maximum bipartite matching (Kuhn's augmenting
    ///    paths) between replica places and nodes on a *different* host than the place's primary, so as many
    ///    replicas as possible sit on another host than their primary (redis-cli gets there by random swaps; a
    ///    matching is exact and deterministic). When extending a match, nodes on hosts none of that primary's
    ///    replicas uses yet are tried first. Places left unmatched take the remaining nodes in order; on a single
    ///    host that gives primary `i` the node `primaries + i` (and so on round by round), as redis-cli does.
    public static func assignRoles(hosts: [String], replicas: Int) throws(RolesError) -> Roles {
        try validateNodeCount(hosts.count, replicas: replicas)
        let order = interleavedByHost(hosts)
        let primaryCount = hosts.count / (replicas + 1)
        let primaries = Array(order.prefix(primaryCount))
        let pool = Array(order.dropFirst(primaryCount))

        // Replica places, round by round: place p belongs to primary placePrimary[p] (a position in `primaries`).
        let placePrimary = pool.indices.map { $0 % primaryCount }

        var matching = ReplicaMatching(hosts: hosts, primaries: primaries, pool: pool, placePrimary: placePrimary)
        matching.maximize()

        // Places the matching could not fill on another host take the nodes left, in order.
        var unused = pool.indices.filter { matching.placeOfNode[$0] == nil }[...]
        for place in placePrimary.indices where matching.nodeOfPlace[place] == nil {
            let node = unused.removeFirst()
            matching.nodeOfPlace[place] = node
            matching.placeOfNode[node] = place
        }
        var replicaLists = [[Int]](repeating: [], count: primaryCount)
        for place in placePrimary.indices {
            replicaLists[placePrimary[place]].append(pool[matching.nodeOfPlace[place]!])
        }
        return Roles(primaries: primaries, replicas: replicaLists)
    }

    /// The roles in one `CLUSTER NODES` view, in the form ``roleDisagreements(_:expected:)`` takes: each node's
    /// primary, or nil for a primary (nodes in handshake left out).
    public static func roles(_ view: [ClusterNodesLine]) -> [NodeID: NodeID?] {
        var roles: [NodeID: NodeID?] = [:]
        for line in view where !line.node.flags.contains(.handshake) {
            roles[line.node.id] = .some(line.node.isPrimary ? nil : line.node.primaryID)
        }
        return roles
    }

    /// What a `CLUSTER NODES` view gets wrong about roles, one phrase per node: `expected` maps each node to its
    /// primary, or to nil for a primary. Nodes `expected` does not name are ignored.
    public static func roleDisagreements(_ view: [ClusterNodesLine], expected: [NodeID: NodeID?]) -> [String] {
        var wrong: [String] = []
        for line in view {
            guard let primary = expected[line.node.id] else { continue }
            let node = line.node
            if let primary {
                if node.isPrimary || !node.flags.contains(.replica) {
                    wrong.append("sees \(node.id) as a primary, not a replica of \(primary)")
                } else if node.primaryID != primary {
                    wrong.append(
                        "sees \(node.id) replicating \(node.primaryID?.description ?? "nothing"), not \(primary)")
                }
            } else if !node.isPrimary {
                wrong.append("sees \(node.id) as a replica, not a primary")
            }
        }
        return wrong
    }

    /// The node positions, one from each host in turn (hosts in order of first appearance).
    static func interleavedByHost(_ hosts: [String]) -> [Int] {
        var groups: [[Int]] = []
        var groupOfHost: [String: Int] = [:]
        for (node, host) in hosts.enumerated() {
            if let group = groupOfHost[host] {
                groups[group].append(node)
            } else {
                groupOfHost[host] = groups.count
                groups.append([node])
            }
        }
        var order: [Int] = []
        var depth = 0
        while order.count < hosts.count {
            for group in groups where depth < group.count { order.append(group[depth]) }
            depth += 1
        }
        return order
    }

    /// A maximum matching of replica places to pool nodes on another host than the place's primary.
    private struct ReplicaMatching {
        let hosts: [String]
        let primaries: [Int]
        let pool: [Int]
        let placePrimary: [Int]
        /// Pool position of the node filling each place.
        var nodeOfPlace: [Int?]
        /// Place filled by each pool node.
        var placeOfNode: [Int?]

        init(hosts: [String], primaries: [Int], pool: [Int], placePrimary: [Int]) {
            self.hosts = hosts
            self.primaries = primaries
            self.pool = pool
            self.placePrimary = placePrimary
            self.nodeOfPlace = Array(repeating: nil, count: placePrimary.count)
            self.placeOfNode = Array(repeating: nil, count: pool.count)
        }

        mutating func maximize() {
            for place in placePrimary.indices {
                var visited = [Bool](repeating: false, count: pool.count)
                _ = augment(place, &visited)
            }
        }

        /// Kuhn's step: finds a node for `place`, moving other places to other nodes if that frees one.
        private mutating func augment(_ place: Int, _ visited: inout [Bool]) -> Bool {
            for node in candidates(place) where !visited[node] {
                visited[node] = true
                if let holder = placeOfNode[node] {
                    guard augment(holder, &visited) else { continue }
                }
                nodeOfPlace[place] = node
                placeOfNode[node] = place
                return true
            }
            return false
        }

        /// Pool nodes on another host than `place`'s primary: first those on hosts that primary's other
        /// replicas do not use, then the others, each in pool order.
        private func candidates(_ place: Int) -> [Int] {
            let primary = placePrimary[place]
            let primaryHost = hosts[primaries[primary]]
            let usedHosts = Set(
                placePrimary.indices.compactMap { other -> String? in
                    guard other != place, placePrimary[other] == primary, let node = nodeOfPlace[other] else {
                        return nil
                    }
                    return hosts[pool[node]]
                })
            let eligible = pool.indices.filter { hosts[pool[$0]] != primaryHost }
            return eligible.filter { !usedHosts.contains(hosts[pool[$0]]) }
                + eligible.filter { usedHosts.contains(hosts[pool[$0]]) }
        }
    }
}
