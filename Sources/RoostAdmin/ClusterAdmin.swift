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
        let ordered =
            reports.filter { $0.myself?.node.isPrimary ?? false }
            + reports.filter { !($0.myself?.node.isPrimary ?? true) }
        for report in ordered {
            guard let myself = report.myself else { continue }
            let node = myself.node
            output("\(node.isPrimary ? "M" : "S"): \(node.id) \(report.endpoint)")
            let slots = myself.slots.reduce(0) { $0 + $1.count }
            let ranges = myself.slots.isEmpty ? "" : "[\(ClusterPlan.describe(myself.slots))]"
            output("   slots:\(ranges) (\(slots) slots) " + (node.isPrimary ? "master" : "slave"))
            if node.isPrimary {
                let replicas = reports[0].view.filter { $0.node.primaryID == node.id }.count
                if replicas > 0 { output("   \(replicas) additional replica(s)") }
            } else {
                output("   replicates \(node.primaryID?.description ?? "-")")
            }
        }
        for error in errors { output(error) }

        let roles = ClusterPlan.roles(reports[0].view)
        var roleErrors: [String] = []
        for report in reports {
            let replicaOfUnknown = report.view.filter { line in
                guard line.node.flags.contains(.replica), let primary = line.node.primaryID else { return false }
                return roles[primary] != .some(nil)
            }
            if report.endpoint == entry {
                for line in replicaOfUnknown {
                    roleErrors.append(
                        "\(line.node.id) replicates \(line.node.primaryID!), which is not a known primary")
                }
            } else {
                for wrong in ClusterPlan.roleDisagreements(report.view, expected: roles) {
                    roleErrors.append("\(report.endpoint) \(wrong), unlike \(entry)")
                }
            }
        }
        if !roleErrors.isEmpty {
            ok = false
            output("[ERR] Nodes don't agree about replicas!")
            for line in roleErrors { output("   \(line)") }
        }

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

    func connect(_ endpoint: Endpoint) throws -> RESPClient {
        do {
            return try RESPClient(host: endpoint.host, port: endpoint.port, timeout: timeout)
        } catch {
            throw Failure("[ERR] \(error)")
        }
    }

    func nodes(_ client: RESPClient) throws -> [ClusterNodesLine] {
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

    func formatSeconds(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The numeric address of `endpoint`'s host (`CLUSTER MEET` takes no names).
    func numericHost(_ endpoint: Endpoint) throws -> String {
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
