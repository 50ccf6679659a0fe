import Foundation
import NIOCore
import RoostCluster
import Testing

@testable import RoostClient

/// The client against real clusters: three `roostd` nodes, and a Redis Cluster of Debian's `redis-server`.
@Suite("RoostClient against a Roost cluster and a Redis Cluster", .serialized, .timeLimit(.minutes(3)))
struct ClusterClientTests {
    private func client(_ cluster: TestCluster, _ configure: (inout RoostClient.Configuration) -> Void = { _ in })
        -> RoostClient
    {
        var configuration = RoostClient.Configuration.cluster(seeds: cluster.seeds)
        configuration.commandTimeout = .seconds(5)
        configure(&configuration)
        return RoostClient(configuration: configuration, logger: testLogger)
    }

    private func dbsize(_ node: ServerProcess) throws -> Int {
        Int(try redisCLI(port: node.port, ["DBSIZE"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test(
        "Multi-key commands are split by slot across the nodes and merged in order",
        arguments: TestCluster.Kind.allCases)
    func multiKey(kind: TestCluster.Kind) async throws {
        let cluster = try await TestCluster.start(kind)
        defer { cluster.stop() }
        let client = client(cluster)
        let keys = (0..<300).map { "multi:\($0)" }
        try await client.mset(keys.enumerated().map { ($0.element, "v\($0.offset)") })
        #expect(try cluster.nodes.allSatisfy { try dbsize($0) > 50 }, "keys landed on every node")
        let asked = keys.flatMap { [$0, "\($0):missing"] }
        let values = try await client.mget(asked)
        #expect(values.count == asked.count)
        for (index, value) in values.enumerated() {
            let expected: String? = index % 2 == 0 ? "v\(index / 2)" : nil
            #expect(value.map { String(buffer: $0) } == expected, "position \(index)")
        }
        #expect(try await client.exists(keys + ["nope"]) == 300)
        #expect(try await client.incr("{multi:1}.counter") == 1)
        #expect(try await client.del(keys) == 300)
        #expect(try await client.dbsize() == 1)
        let map = try #require(client.clusterRouter?.slotMap)
        #expect(map.shards.count == 3)
    }

    @Test(
        "A slot moved to another node answers MOVED; the client follows it and patches its map",
        arguments: TestCluster.Kind.allCases)
    func movedAfterResharding(kind: TestCluster.Kind) async throws {
        let cluster = try await TestCluster.start(kind)
        defer { cluster.stop() }
        let client = client(cluster)
        let key = "moving-key"
        let slot = keySlot(key)
        #expect(try await client.get(key) == nil)  // loads the map
        let source = try cluster.owner(ofSlot: slot)
        let target = cluster.nodes.first { $0.port != source.port }!
        let targetID = try cluster.id(of: target)
        for node in [target, source] + cluster.nodes.filter({ $0 !== target && $0 !== source }) {
            _ = try redisCLI(port: node.port, ["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID])
        }
        try await cluster.waitUntil(timeout: .seconds(10), "every node routes the slot to the target") {
            try cluster.nodes.allSatisfy {
                try redisCLI(port: $0.port, ["GET", key]).hasPrefix("MOVED") == ($0.port != target.port)
            }
        }
        #expect(client.clusterRouter?.slotMap?.shard(forSlot: slot)?.primary.port == source.port)
        try await client.set(key, "after the move")
        #expect(try redisCLI(port: target.port, ["GET", key]).hasPrefix("after the move"))
        #expect(client.clusterRouter?.slotMap?.shard(forSlot: slot)?.primary.port == target.port)
        #expect(try await client.getString(key) == "after the move")
    }

    @Test(
        "A slot being migrated answers ASK for a missing key; the client sends ASKING and the command to the target",
        arguments: TestCluster.Kind.allCases)
    func askDuringMigration(kind: TestCluster.Kind) async throws {
        let cluster = try await TestCluster.start(kind)
        defer { cluster.stop() }
        let client = client(cluster)
        let key = "asked-key"
        let slot = keySlot(key)
        #expect(try await client.get(key) == nil)
        let source = try cluster.owner(ofSlot: slot)
        let target = cluster.nodes.first { $0.port != source.port }!
        _ = try redisCLI(port: target.port, ["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", try cluster.id(of: source)])
        _ = try redisCLI(port: source.port, ["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", try cluster.id(of: target)])
        #expect(try redisCLI(port: source.port, ["GET", key]).hasPrefix("ASK \(slot)"))
        try await client.set(key, "imported")
        #expect(try redisCLI(port: target.port, ["CLUSTER", "COUNTKEYSINSLOT", "\(slot)"]).hasPrefix("1"))
        #expect(try dbsize(source) == 0)
        // ASK is one-shot: the map still names the source.
        #expect(client.clusterRouter?.slotMap?.shard(forSlot: slot)?.primary.port == source.port)
    }

    @Test(
        "Redis Cluster: reads go to replicas when asked; after CLUSTER FAILOVER writes follow MOVED to the new primary")
    func replicasAndFailover() async throws {
        let cluster = try await TestCluster.start(.redis, primaries: 3, replicas: 1)
        defer { cluster.stop() }
        let key = "failover-key"
        let slot = keySlot(key)
        let reader = client(cluster) { $0.readFromReplicas = true }
        let writer = client(cluster)
        try await writer.set(key, "one")
        let acknowledged = try await writer.command("WAIT", ["1", "2000"], routingKey: key)
        #expect(acknowledged == .integer(1), "the replica acknowledged the write")
        let primary = try cluster.owner(ofSlot: slot)
        let map = try #require(
            await { () async throws -> ClusterSlotMap? in
                _ = try await reader.get("warm-up")
                return reader.clusterRouter?.slotMap
            }())
        let shards = try redisCLI(port: primary.port, ["CLUSTER", "SHARDS"])
        let replicaPort = try #require(map.shard(forSlot: slot)?.replicas.first?.port, "\(map.shards)\n\(shards)")
        let replica = try #require(cluster.nodes.first { $0.port == replicaPort })
        for _ in 0..<20 {
            let value = try await reader.getString(key)
            #expect(value == "one")
        }
        let stats = try redisCLI(port: replica.port, ["INFO", "commandstats"])
        let gets = stats.split(separator: "\r\n").first { $0.hasPrefix("cmdstat_get:") } ?? ""
        #expect(gets.hasPrefix("cmdstat_get:calls=2"), "the replica served the reads: \(gets)")

        #expect(try redisCLI(port: replica.port, ["CLUSTER", "FAILOVER"]).hasPrefix("OK"))
        try await cluster.waitUntil(timeout: .seconds(20), "the replica is the slot's primary") {
            try redisCLI(port: replica.port, ["ROLE"]).hasPrefix("master")
                && redisCLI(port: primary.port, ["ROLE"]).hasPrefix("slave")
        }
        #expect(writer.clusterRouter?.slotMap?.shard(forSlot: slot)?.primary.port == primary.port)
        try await writer.set(key, "two")  // the old primary answers MOVED
        #expect(writer.clusterRouter?.slotMap?.shard(forSlot: slot)?.primary.port == replica.port)
        #expect(try redisCLI(port: replica.port, ["GET", key]).hasPrefix("two"))
        #expect(try await writer.getString(key) == "two")
    }

    @Test("A stopped seed is skipped: the map loads from the next seed")
    func seedFallback() async throws {
        let cluster = try await TestCluster.start(.roost)
        defer { cluster.stop() }
        let dead = ClusterSlotMap.Node(host: "127.0.0.1", port: freePort())
        var configuration = RoostClient.Configuration.cluster(
            seeds: [.init(host: dead.host, port: dead.port), cluster.nodes[1].endpoint])
        configuration.connectTimeout = .seconds(1)
        let client = RoostClient(configuration: configuration, logger: testLogger)
        try await client.set("seeded", "yes")
        #expect(try await client.getString("seeded") == "yes")
    }
}

extension RoostClient {
    /// The cluster router, in cluster mode (for tests).
    var clusterRouter: ClusterRouter? {
        if case .cluster(let router) = router { return router }
        return nil
    }
}
