import Foundation
import RoostClient
import Testing

/// A cluster of real server processes formed with `redis-cli --cluster create`.
struct TestCluster {
    /// Which server the nodes run.
    enum Kind: String, CustomStringConvertible, Sendable, CaseIterable {
        case roost, redis
        var description: String { rawValue }
    }

    let kind: Kind
    let nodes: [ServerProcess]

    /// Starts `primaries × (1 + replicas)` nodes and forms a cluster (bounded: 60 s to create, 20 s to settle).
    static func start(_ kind: Kind, primaries: Int = 3, replicas: Int = 0) async throws -> TestCluster {
        var nodes: [ServerProcess] = []
        for _ in 0..<(primaries * (1 + replicas)) {
            nodes.append(
                kind == .roost
                    ? try await ServerProcess.roostd(cluster: true) : try await ServerProcess.redis(cluster: true))
        }
        let cluster = TestCluster(kind: kind, nodes: nodes)
        let output = try run(
            "/usr/bin/redis-cli",
            ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                + ["--cluster-replicas", "\(replicas)", "--cluster-yes"],
            timeout: 60)
        try #require(output.contains("[OK] All 16384 slots covered."), "cluster create failed:\n\(output)")
        try await cluster.waitUntil(timeout: .seconds(20), "every node reports cluster_state:ok") {
            nodes.allSatisfy {
                ((try? redisCLI(port: $0.port, ["CLUSTER", "INFO"])) ?? "").hasPrefix("cluster_state:ok")
            }
        }
        if replicas > 0 {
            try await cluster.waitUntil(timeout: .seconds(30), "every replica's link to its primary is up") {
                nodes.allSatisfy { node in
                    let info = (try? redisCLI(port: node.port, ["INFO", "replication"])) ?? ""
                    return info.contains("role:master") || info.contains("master_link_status:up")
                }
            }
        }
        return cluster
    }

    var seeds: [RoostClient.Configuration.Endpoint] { [nodes[0].endpoint] }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes (then records an issue and throws).
    func waitUntil(timeout: Duration, _ what: String, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        if try condition() { return }
        Issue.record("timed out waiting until \(what)")
        throw CancellationError()
    }

    /// The node ID of a node.
    func id(of node: ServerProcess) throws -> String {
        try redisCLI(port: node.port, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The primary serving `slot`, asked of `nodes[0]` (`CLUSTER SLOTS`-free: parses `CLUSTER NODES`).
    func owner(ofSlot slot: Int) throws -> ServerProcess {
        let lines = try redisCLI(port: nodes[0].port, ["CLUSTER", "NODES"]).split(separator: "\n")
        for line in lines {
            let fields = line.split(separator: " ")
            guard fields.count >= 9, fields[2].contains("master") else { continue }
            for range in fields[8...] where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                let (start, end) = (bounds.first ?? -1, bounds.last ?? -1)
                if start <= slot && slot <= end {
                    let port = Int(fields[1].split(separator: "@")[0].split(separator: ":").last!)!
                    return nodes.first { $0.port == port }!
                }
            }
        }
        throw CommandFailure(description: "no owner for slot \(slot)")
    }

    func stop() {
        for node in nodes { node.stopAndRemove() }
    }
}
