import NIOCore
import RoostCluster
import RoostProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ClusterAdmin {
    /// Makes a cluster of empty cluster-mode nodes as `redis-cli --cluster create --cluster-replicas` does: the
    /// primaries (chosen by ``ClusterPlan/assignRoles(hosts:replicas:)``) get an even share of the slots and config
    /// epochs 1, 2, …; everyone meets the first node; once all nodes know each other each replica is sent
    /// `CLUSTER REPLICATE <its primary>`. Returns when every node agrees on the slot map and on who replicates
    /// whom, reports `cluster_state:ok`, and every replica reports `master_link_status:up`; throws after
    /// `convergenceTimeout` seconds.
    public func create(
        _ endpoints: [Endpoint], replicas: Int = 0, convergenceTimeout: Double = 30, confirm: (String) -> Bool
    ) throws -> Bool {
        do {
            try ClusterPlan.validateNodeCount(endpoints.count, replicas: replicas)
        } catch {
            throw Failure(error.description)
        }
        guard Set(endpoints).count == endpoints.count else { throw Failure("*** ERROR: a node is given twice") }
        output(">>> Checking \(endpoints.count) nodes")
        var clients: [RESPClient] = []
        var ids: [NodeID] = []
        var hosts: [String] = []
        var myselves: [ClusterNodesLine] = []
        for endpoint in endpoints {
            let client = try connect(endpoint)
            guard try client.text("INFO", "cluster").contains("cluster_enabled:1") else {
                throw Failure("[ERR] Node \(endpoint) is not configured as a cluster node.")
            }
            let info = ClusterPlan.parseInfo(try client.text("CLUSTER", "INFO"))
            let keys = try client.integer("DBSIZE")
            guard info["cluster_known_nodes"] == "1", info["cluster_slots_assigned"] == "0", keys == 0 else {
                throw Failure(
                    "[ERR] Node \(endpoint) is not empty. Either the node already knows other nodes "
                        + "(check with CLUSTER NODES) or contains some key in database 0.")
            }
            guard let myself = try nodes(client).first(where: { $0.node.flags.contains(.myself) }) else {
                throw Failure("[ERR] Node \(endpoint): CLUSTER NODES has no myself line")
            }
            clients.append(client)
            ids.append(myself.node.id)
            myselves.append(myself)
            hosts.append(myself.node.ip.isEmpty ? (try? numericHost(endpoint)) ?? endpoint.host : myself.node.ip)
        }
        guard Set(ids).count == ids.count else { throw Failure("[ERR] Two of the nodes have the same node ID") }

        let roles: ClusterPlan.Roles
        do {
            roles = try ClusterPlan.assignRoles(hosts: hosts, replicas: replicas)
        } catch {
            throw Failure(error.description)
        }
        let plan = ClusterPlan.slotRanges(primaries: roles.primaries.count)
        printPlan(endpoints, ids: ids, hosts: hosts, roles: roles, slots: plan)
        guard confirm("Can I set the above configuration? (type 'yes' to accept): ") else {
            output("Aborted: nothing was changed.")
            return false
        }

        output(">>> Assigning slots and config epochs")
        for (index, primary) in roles.primaries.enumerated() {
            _ = try clients[primary].call(
                "CLUSTER", "ADDSLOTSRANGE", String(plan[index].lowerBound), String(plan[index].upperBound))
            _ = try clients[primary].call("CLUSTER", "SET-CONFIG-EPOCH", String(index + 1))
        }
        output(">>> Sending CLUSTER MEET messages to join the cluster")
        let first = myselves[0].node
        let firstIP = first.ip.isEmpty ? try numericHost(endpoints[0]) : first.ip
        for client in clients.dropFirst() {
            _ = try client.call("CLUSTER", "MEET", firstIP, String(first.port), String(first.busPort))
        }

        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(convergenceTimeout * 1000)))
        output("Waiting for the cluster to join")
        try waitUntil(deadline, convergenceTimeout) {
            try clients.indices.compactMap { index in
                let known = knownNodes(try nodes(clients[index]))
                return known == Set(ids) ? nil : "\(endpoints[index]) knows \(known.count) of \(ids.count) nodes"
            }
        }

        let replicaOf = roles.replicaOf
        if !replicaOf.isEmpty {
            output(">>> Configuring \(replicaOf.count) replicas")
            var pending = replicaOf
            try waitUntil(deadline, convergenceTimeout) {
                pending = try pending.filter { replica, primary in
                    !(try replicate(clients[replica], to: ids[primary]))
                }
                return pending.map { "\(endpoints[$0.replica]) does not know its primary \(ids[$0.primary]) yet" }
            }
        }

        var expected = [NodeID?](repeating: nil, count: ClusterPlan.slotCount)
        for (index, range) in plan.enumerated() {
            for slot in range { expected[slot] = ids[roles.primaries[index]] }
        }
        var expectedPrimary: [NodeID: NodeID?] = [:]
        for primary in roles.primaries { expectedPrimary[ids[primary]] = .some(nil) }
        for (replica, primary) in replicaOf { expectedPrimary[ids[replica]] = ids[primary] }
        output(
            replicaOf.isEmpty
                ? "Waiting for the nodes to agree" : "Waiting for the nodes to agree and the replicas to sync")
        try waitUntil(deadline, convergenceTimeout) {
            var pending: [String] = []
            for (index, client) in clients.enumerated() {
                let view = try nodes(client)
                if knownNodes(view) != Set(ids) {
                    pending.append("\(endpoints[index]) does not know all the nodes")
                } else if ClusterPlan.owners(view) != expected {
                    pending.append("\(endpoints[index]) does not have the full slot map yet")
                } else if let wrong = ClusterPlan.roleDisagreements(view, expected: expectedPrimary).first {
                    pending.append("\(endpoints[index]) \(wrong)")
                } else if let state = ClusterPlan.parseInfo(try client.text("CLUSTER", "INFO"))["cluster_state"],
                    state != "ok"
                {
                    pending.append("\(endpoints[index]) says cluster_state:\(state)")
                }
            }
            for (replica, _) in replicaOf {
                let link = ClusterPlan.parseInfo(try clients[replica].text("INFO", "replication"))["master_link_status"]
                if link != "up" { pending.append("\(endpoints[replica]) has master_link_status:\(link ?? "none")") }
            }
            return pending
        }
        output("[OK] All nodes agree about slots configuration.")
        if !replicaOf.isEmpty { output("[OK] All \(replicaOf.count) replicas are linked to their primaries.") }
        return try check(endpoints[0])
    }

    /// Prints the slot allocation and the `M:`/`S:` lines of the plan, in `redis-cli --cluster create`'s form.
    private func printPlan(
        _ endpoints: [Endpoint], ids: [NodeID], hosts: [String], roles: ClusterPlan.Roles, slots: [ClosedRange<Int>]
    ) {
        output(">>> Performing hash slots allocation on \(endpoints.count) nodes...")
        for (index, range) in slots.enumerated() {
            output("Primary[\(index)] -> Slots \(range.lowerBound) - \(range.upperBound)")
        }
        let replicaOf = roles.replicaOf
        for (replica, primary) in replicaOf {
            output("Adding replica \(endpoints[replica]) to \(endpoints[primary])")
        }
        if replicaOf.contains(where: { hosts[$0.replica] == hosts[$0.primary] }) {
            output("[WARNING] Some replicas are in the same host as their primary")
        }
        for (index, primary) in roles.primaries.enumerated() {
            output("M: \(ids[primary]) \(endpoints[primary])")
            output("   slots:[\(ClusterPlan.describe([slots[index]]))] (\(slots[index].count) slots) master")
        }
        for (replica, primary) in replicaOf {
            output("S: \(ids[replica]) \(endpoints[replica])")
            output("   replicates \(ids[primary])")
        }
    }

    /// Sends `CLUSTER REPLICATE primary`; false while the node does not know the primary yet.
    private func replicate(_ client: RESPClient, to primary: NodeID) throws -> Bool {
        let reply = try client.send(["CLUSTER", "REPLICATE", primary.description])
        guard case .error(let message) = reply else { return true }
        let text = String(buffer: message)
        if text.hasPrefix("ERR Unknown node") { return false }
        throw Failure("[ERR] \(client.address): CLUSTER REPLICATE \(primary): \(text)")
    }

    /// The nodes a view lists that are past the handshake.
    private func knownNodes(_ view: [ClusterNodesLine]) -> Set<NodeID> {
        Set(view.filter { !$0.node.flags.contains(.handshake) }.map(\.node.id))
    }

    /// Polls `pending` every 200 ms until it returns nothing; once `deadline` passes, throws `failure` with its last
    /// answer.
    func waitUntil(
        _ deadline: ContinuousClock.Instant, _ timeout: Double, failure: String = "The nodes did not agree",
        pending: () throws -> [String]
    ) throws {
        while true {
            let waiting = try pending()
            if waiting.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw Failure(
                    "[ERR] \(failure) within \(formatSeconds(timeout)) s: "
                        + waiting.joined(separator: "; "))
            }
            usleep(200_000)
        }
    }
}
