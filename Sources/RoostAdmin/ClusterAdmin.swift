import RoostCluster

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The operations behind `roost cluster create/check/info`, talking to nodes with ``RESPClient``. Progress goes
/// to `output` line by line, in the style of `redis-cli --cluster`.
public struct ClusterAdmin {
    /// Where progress lines go.
    public var output: (String) -> Void
    /// Seconds allowed for connecting to a node and for each reply.
    public var timeout: Double

    /// An admin writing to `output`.
    public init(timeout: Double = 5, output: @escaping (String) -> Void = { print($0) }) {
        self.timeout = timeout
        self.output = output
    }

    /// A failure that ends the command, with the message to print.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: create

    /// Makes a cluster of empty cluster-mode nodes, each a primary with an even share of the slots, as
    /// `redis-cli --cluster create` does; returns when every node agrees on the slot map and reports
    /// `cluster_state:ok`, or throws after `convergenceTimeout` seconds.
    public func create(
        _ endpoints: [Endpoint], convergenceTimeout: Double = 30, confirm: (String) -> Bool
    ) throws -> Bool {
        guard endpoints.count >= 3 else {
            throw Failure("*** ERROR: Invalid configuration for cluster creation: a cluster needs at least 3 primaries")
        }
        guard Set(endpoints).count == endpoints.count else { throw Failure("*** ERROR: a node is given twice") }
        output(">>> Checking \(endpoints.count) nodes")
        var clients: [RESPClient] = []
        var ids: [NodeID] = []
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
        }
        guard Set(ids).count == ids.count else { throw Failure("[ERR] Two of the nodes have the same node ID") }

        let plan = ClusterPlan.slotRanges(primaries: endpoints.count)
        output(">>> Performing hash slots allocation on \(endpoints.count) nodes...")
        for (index, range) in plan.enumerated() {
            output("Primary[\(index)] -> Slots \(range.lowerBound) - \(range.upperBound)")
        }
        for (index, endpoint) in endpoints.enumerated() {
            output("M: \(ids[index]) \(endpoint)")
            output("   slots:[\(ClusterPlan.describe([plan[index]]))] (\(plan[index].count) slots) master")
        }
        guard confirm("Can I set the above configuration? (type 'yes' to accept): ") else {
            output("Aborted: nothing was changed.")
            return false
        }

        output(">>> Assigning slots and config epochs")
        for (index, client) in clients.enumerated() {
            _ = try client.call(
                "CLUSTER", "ADDSLOTSRANGE", String(plan[index].lowerBound), String(plan[index].upperBound))
            _ = try client.call("CLUSTER", "SET-CONFIG-EPOCH", String(index + 1))
        }
        output(">>> Sending CLUSTER MEET messages to join the cluster")
        let first = myselves[0].node
        let firstIP = first.ip.isEmpty ? try numericHost(endpoints[0]) : first.ip
        for client in clients.dropFirst() {
            _ = try client.call("CLUSTER", "MEET", firstIP, String(first.port), String(first.busPort))
        }

        output("Waiting for the cluster to join")
        var expected = [NodeID?](repeating: nil, count: ClusterPlan.slotCount)
        for (index, range) in plan.enumerated() {
            for slot in range { expected[slot] = ids[index] }
        }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(convergenceTimeout * 1000)))
        var pending: [String] = []
        while true {
            pending = []
            for (index, client) in clients.enumerated() {
                let view = try nodes(client)
                let known = Set(view.filter { !$0.node.flags.contains(.handshake) }.map(\.node.id))
                if known != Set(ids) {
                    pending.append("\(endpoints[index]) knows \(known.count) of \(ids.count) nodes")
                } else if ClusterPlan.owners(view) != expected {
                    pending.append("\(endpoints[index]) does not have the full slot map yet")
                } else if let state = ClusterPlan.parseInfo(try client.text("CLUSTER", "INFO"))["cluster_state"],
                    state != "ok"
                {
                    pending.append("\(endpoints[index]) says cluster_state:\(state)")
                }
            }
            if pending.isEmpty { break }
            guard ContinuousClock.now < deadline else {
                throw Failure(
                    "[ERR] The nodes did not agree within \(formatSeconds(convergenceTimeout)) s: "
                        + pending.joined(separator: "; "))
            }
            usleep(200_000)
        }
        output("[OK] All nodes agree about slots configuration.")
        return try check(endpoints[0])
    }

    // MARK: check

    /// One node's answers: its address, its `CLUSTER NODES` view and key count.
    struct NodeReport {
        var endpoint: Endpoint
        var view: [ClusterNodesLine]
        var keys: Int64
        var myself: ClusterNodesLine? { view.first { $0.node.flags.contains(.myself) } }
    }

    /// Fetches `CLUSTER NODES` and `DBSIZE` from `entry` and from every node it lists (not those in handshake
    /// or without an address); unreachable nodes are returned as errors.
    func survey(_ entry: Endpoint) throws -> (reports: [NodeReport], errors: [String]) {
        let client = try connect(entry)
        let view = try nodes(client)
        var reports = [NodeReport(endpoint: entry, view: view, keys: try client.integer("DBSIZE"))]
        var errors: [String] = []
        for line in view where !line.node.flags.contains(.myself) {
            let node = line.node
            if node.flags.contains(.handshake) || node.flags.contains(.noAddress) || node.ip.isEmpty { continue }
            let endpoint = Endpoint(host: node.ip, port: node.port)
            do {
                let peer = try RESPClient(host: endpoint.host, port: endpoint.port, timeout: timeout)
                let peerView = try nodes(peer)
                reports.append(NodeReport(endpoint: endpoint, view: peerView, keys: try peer.integer("DBSIZE")))
            } catch {
                errors.append("[ERR] Node \(endpoint) (\(node.id)) cannot be checked: \(error)")
            }
        }
        return (reports, errors)
    }

    /// Prints one line per primary (address, ID, keys, slots, replicas) and the totals.
    private func summarize(_ reports: [NodeReport]) {
        let view = reports[0].view
        var keys: Int64 = 0
        var primaries = 0
        for report in reports {
            guard let myself = report.myself, myself.node.isPrimary else { continue }
            let replicas = view.filter { $0.node.primaryID == myself.node.id }.count
            let slots = myself.slots.reduce(0) { $0 + $1.count }
            output(
                "\(report.endpoint) (\(String(myself.node.id.description.prefix(8)))...) -> \(report.keys) keys | "
                    + "\(slots) slots | \(replicas) replicas.")
            keys += report.keys
            primaries += 1
        }
        output("[OK] \(keys) keys in \(primaries) primaries.")
        let average = Double(keys) / Double(ClusterPlan.slotCount)
        output("\(formatSeconds(average)) keys per slot on average.")
    }

    /// Checks the cluster `entry` belongs to: every node reachable, all agreeing on the owner of every slot, no
    /// slot importing or migrating, all 16384 slots covered. Prints what it finds; returns whether all is well.
    public func check(_ entry: Endpoint) throws -> Bool {
        let (reports, errors) = try survey(entry)
        summarize(reports)
        var ok = errors.isEmpty
        output(">>> Performing Cluster Check (using node \(entry))")
        for report in reports {
            guard let myself = report.myself else { continue }
            let role = myself.node.isPrimary ? "M" : "S"
            output("\(role): \(myself.node.id) \(report.endpoint)")
            let slots = myself.slots.reduce(0) { $0 + $1.count }
            output(
                "   slots:[\(ClusterPlan.describe(myself.slots))] (\(slots) slots) "
                    + (myself.node.isPrimary ? "master" : "slave"))
        }
        for error in errors { output(error) }

        let reference = ClusterPlan.owners(reports[0].view)
        var disagreeing: [String] = []
        for report in reports.dropFirst() {
            let owners = ClusterPlan.owners(report.view)
            let differing = ClusterPlan.ranges { owners[$0] != reference[$0] }
            if !differing.isEmpty {
                disagreeing.append(
                    "\(report.endpoint) differs from \(entry) for slots \(ClusterPlan.describe(differing))")
            }
        }
        if disagreeing.isEmpty {
            output("[OK] All nodes agree about slots configuration.")
        } else {
            ok = false
            output("[ERR] Nodes don't agree about configuration!")
            for line in disagreeing { output("   \(line)") }
        }

        output(">>> Check for open slots...")
        var open = Set<Int>()
        for report in reports {
            guard let myself = report.myself else { continue }
            if !myself.migrating.isEmpty {
                output("[WARNING] Node \(report.endpoint) has slots in migrating state \(sortedList(myself.migrating))")
            }
            if !myself.importing.isEmpty {
                output("[WARNING] Node \(report.endpoint) has slots in importing state \(sortedList(myself.importing))")
            }
            open.formUnion(myself.migrating.keys)
            open.formUnion(myself.importing.keys)
        }
        if !open.isEmpty {
            ok = false
            output("[WARNING] The following slots are open: \(open.sorted().map(String.init).joined(separator: ","))")
        }

        output(">>> Check slots coverage...")
        var covered = [Bool](repeating: false, count: ClusterPlan.slotCount)
        for report in reports {
            for range in report.myself?.slots ?? [] {
                for slot in range { covered[slot] = true }
            }
        }
        let uncovered = ClusterPlan.ranges { !covered[$0] }
        if uncovered.isEmpty {
            output("[OK] All 16384 slots covered.")
        } else {
            ok = false
            let count = uncovered.reduce(0) { $0 + $1.count }
            output("[ERR] Not all 16384 slots are covered by nodes.")
            output("[ERR] \(count) slots uncovered: \(ClusterPlan.describe(uncovered))")
        }
        return ok
    }

    // MARK: info

    /// Prints, for each primary, its address, ID, keys (DBSIZE), slot count and replicas, as
    /// `redis-cli --cluster info` does. Returns false when a node could not be reached.
    public func info(_ entry: Endpoint) throws -> Bool {
        let (reports, errors) = try survey(entry)
        summarize(reports)
        for error in errors { output(error) }
        return errors.isEmpty
    }

    // MARK: helpers

    private func connect(_ endpoint: Endpoint) throws -> RESPClient {
        do {
            return try RESPClient(host: endpoint.host, port: endpoint.port, timeout: timeout)
        } catch {
            throw Failure("[ERR] \(error)")
        }
    }

    private func nodes(_ client: RESPClient) throws -> [ClusterNodesLine] {
        let text = try client.text("CLUSTER", "NODES")
        do {
            return try ClusterPlan.parseNodes(text)
        } catch {
            throw Failure("[ERR] \(client.address): cannot read CLUSTER NODES: \(error)")
        }
    }

    private func sortedList(_ slots: [Int: NodeID]) -> String {
        slots.keys.sorted().map(String.init).joined(separator: ",")
    }

    private func formatSeconds(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The numeric address of `endpoint`'s host (`CLUSTER MEET` takes no names).
    private func numericHost(_ endpoint: Endpoint) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(endpoint.host, nil, &hints, &list) == 0, let info = list else {
            throw Failure("[ERR] cannot resolve \(endpoint.host)")
        }
        defer { freeaddrinfo(list) }
        var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard
            getnameinfo(
                info.pointee.ai_addr, info.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0,
                NI_NUMERICHOST) == 0
        else { throw Failure("[ERR] cannot resolve \(endpoint.host)") }
        return name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
