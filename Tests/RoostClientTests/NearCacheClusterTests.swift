import Foundation
import NIOCore
import RoostCluster
import Testing

@testable import RoostClient

/// The near cache in cluster mode: one tracking connection per primary, invalidations from every node, and a flush
/// when the slot map changes.
@Suite("RoostClient near cache in a Roost cluster and a Redis Cluster", .serialized, .timeLimit(.minutes(3)))
struct NearCacheClusterTests {
    @Test(
        "Keys from every node are cached and invalidated; a MOVED flushes the near cache",
        arguments: TestCluster.Kind.allCases)
    func cluster(kind: TestCluster.Kind) async throws {
        let cluster = try await TestCluster.start(kind)
        defer { cluster.stop() }
        var configuration = RoostClient.Configuration.cluster(seeds: cluster.seeds)
        configuration.commandTimeout = .seconds(5)
        configuration.nearCache = .init(heartbeatInterval: .milliseconds(200))
        try await withRoostClient(configuration: configuration, logger: testLogger) { client async throws in
            let keys = (0..<60).map { "near:\($0)" }
            try await client.mset(keys.map { ($0, "v1") })
            #expect(try await client.mget(keys).allSatisfy { $0.map { String(buffer: $0) } == "v1" })
            var statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.entries == 60)
            #expect(statistics.stores == 60)
            for node in cluster.nodes {
                #expect(client.nearCache?.isTracking(node: "127.0.0.1:\(node.port)") == true, "node \(node.port)")
            }
            let before = statistics.hits
            #expect(try await client.mget(keys).allSatisfy { $0.map { String(buffer: $0) } == "v1" })
            #expect(try #require(client.nearCacheStatistics).hits == before + 60)

            // A write by another client, on whichever node serves the key, reaches the near cache.
            for key in keys.prefix(10) {
                let owner = try cluster.owner(ofSlot: keySlot(key))
                try redisCLI(port: owner.port, ["SET", key, "v2"])
            }
            await client.synchronizeNearCache()
            for key in keys.prefix(10) { #expect(!client.nearCacheHolds(key), "\(key) should be invalidated") }
            #expect(try await client.mget(Array(keys.prefix(10))).allSatisfy { $0.map { String(buffer: $0) } == "v2" })
            statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.invalidationsReceived >= 10)
            #expect(statistics.flushes == 0)

            // Move an empty slot to another node: the client learns it from a MOVED and flushes.
            let key = "moving-key"
            let slot = keySlot(key)
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
            #expect(try #require(client.nearCacheStatistics).entries > 0)
            try await client.set(key, "moved")
            statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.flushes >= 1)
            #expect(statistics.entries == 0)
            #expect(try await client.getString(key) == "moved")
            #expect(try await client.getString(key) == "moved")
            #expect(client.nearCacheHolds(key))
        }
    }

    @Test("After CLUSTER FAILOVER the heartbeat finds the old primary demoted and flushes, with no command sent")
    func failover() async throws {
        let cluster = try await TestCluster.start(.redis, primaries: 3, replicas: 1)
        defer { cluster.stop() }
        var configuration = RoostClient.Configuration.cluster(seeds: cluster.seeds)
        configuration.commandTimeout = .seconds(5)
        configuration.nearCache = .init(heartbeatInterval: .milliseconds(200))
        try await withRoostClient(configuration: configuration, logger: testLogger) { client async throws in
            let key = "failover-key"
            let slot = keySlot(key)
            try await client.set(key, "one")
            #expect(try await client.getString(key) == "one")
            #expect(client.nearCacheHolds(key))
            let primary = try cluster.owner(ofSlot: slot)
            let map = try #require(client.clusterRouter?.slotMap)
            let replicaPort = try #require(map.shard(forSlot: slot)?.replicas.first?.port)
            let replica = try #require(cluster.nodes.first { $0.port == replicaPort })
            #expect(try redisCLI(port: replica.port, ["CLUSTER", "FAILOVER"]).hasPrefix("OK"))
            try await cluster.waitUntil(timeout: .seconds(20), "the replica is the slot's primary") {
                try redisCLI(port: replica.port, ["ROLE"]).hasPrefix("master")
                    && redisCLI(port: primary.port, ["ROLE"]).hasPrefix("slave")
            }
            // Nothing is sent through the client: the heartbeat's ROLE sees the demotion.
            #expect(
                try await NearCacheTests.eventually(.seconds(3)) {
                    try #require(client.nearCacheStatistics).flushes >= 1
                })
            #expect(!client.nearCacheHolds(key))
            try redisCLI(port: replica.port, ["SET", key, "two"])
            #expect(try await client.getString(key) == "two")
        }
    }
}
