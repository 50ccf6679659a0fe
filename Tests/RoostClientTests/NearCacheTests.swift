import Foundation
import NIOCore
import Testing

@testable import RoostClient

/// The near cache against real servers (`redis-server` and `roostd`), with writes made by other connections
/// (`redis-cli`) and faults made by stopping, restarting and pausing the server.
@Suite("RoostClient near cache against roostd / redis-server", .serialized, .timeLimit(.minutes(3)))
struct NearCacheTests {
    static let kinds: [TestCluster.Kind] = [.redis, .roost]

    static func start(_ kind: TestCluster.Kind, extra: [String] = []) async throws -> ServerProcess {
        kind == .roost ? try await ServerProcess.roostd(extra: extra) : try await ServerProcess.redis(extra: extra)
    }

    /// Runs `body` with a running client (heartbeats on) whose near cache is `nearCache`.
    static func withNearClient<Result: Sendable>(
        _ server: ServerProcess,
        _ nearCache: RoostClient.Configuration.NearCache = .init(heartbeatInterval: .milliseconds(200)),
        _ body: (RoostClient) async throws -> Result
    ) async throws -> Result {
        var configuration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: server.port)
        configuration.nearCache = nearCache
        configuration.commandTimeout = .seconds(3)
        return try await withRoostClient(configuration: configuration, logger: testLogger, body)
    }

    /// `calls` of `cmdstat_<command>` in `INFO commandstats` (0 when the command was never run).
    static func calls(_ command: String, port: Int) throws -> Int {
        let info = try redisCLI(port: port, ["INFO", "commandstats"])
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_\(command):calls=") {
            let digits = line.dropFirst("cmdstat_\(command):calls=".count).prefix { $0.isNumber }
            return Int(digits) ?? 0
        }
        return 0
    }

    /// Polls `condition` every 10 ms for up to `timeout`; returns whether it became true.
    static func eventually(_ timeout: Duration = .seconds(5), _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return try condition()
    }

    @Test("A hit is served locally: the server's GET count does not move", arguments: kinds)
    func hitServedLocally(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "v1"])
        try await Self.withNearClient(server) { client async throws in
            #expect(try await client.getString("k") == "v1")
            #expect(client.nearCacheHolds("k"))
            let before = try Self.calls("get", port: server.port)
            for _ in 0..<200 { #expect(try await client.getString("k") == "v1") }
            #expect(try Self.calls("get", port: server.port) == before)
            // The Codable read goes through the near cache too.
            try redisCLI(port: server.port, ["SET", "json", "\"hello\""])
            #expect(try await client.get("json", as: String.self) == "hello")
            #expect(try await client.get("json", as: String.self) == "hello")
            #expect(try Self.calls("get", port: server.port) == before + 1)
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.hits >= 200)
            #expect(statistics.misses == 2)
            #expect(statistics.stores == 2)
            #expect(statistics.uncachedReads == 0)
            // A missing key is not cached: every read of it asks the server.
            #expect(try await client.get("absent") == nil)
            #expect(try await client.get("absent") == nil)
            #expect(try Self.calls("get", port: server.port) == before + 3)
        }
    }

    @Test("A write by another connection invalidates the local copy", arguments: kinds)
    func invalidationFromAnotherConnection(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["MSET", "k", "v1", "j", "w1"])
        try await Self.withNearClient(server) { client async throws in
            #expect(try await client.mget(["k", "j"]).map { $0.map { String(buffer: $0) } } == ["v1", "w1"])
            #expect(client.nearCacheHolds("k") && client.nearCacheHolds("j"))
            try redisCLI(port: server.port, ["SET", "k", "v2"])
            // The write was acknowledged; once the client has caught up with its tracking connection, the old value
            // is gone.
            await client.synchronizeNearCache()
            #expect(!client.nearCacheHolds("k"))
            #expect(client.nearCacheHolds("j"))
            #expect(try await client.getString("k") == "v2")
            #expect(try await client.getString("k") == "v2")
            // Deletion and expiry changes are writes too.
            try redisCLI(port: server.port, ["DEL", "j"])
            #expect(await Self.eventually { !client.nearCacheHolds("j") })
            #expect(try await client.get("j") == nil)
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.invalidationsReceived >= 2)
            #expect(statistics.flushes == 0)
        }
    }

    @Test("The client's own writes invalidate the local copy at once", arguments: kinds)
    func ownWrites(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try await Self.withNearClient(server) { client async throws in
            func cached(_ key: String) async throws -> String? {
                var value = try await client.getString(key)
                if !client.nearCacheHolds(key) {
                    // The invalidation of our own previous write may arrive while this read is in flight (on
                    // roostd it is queued to the tracking connection's event loop, so it can follow the read's
                    // reply); the gate then refuses to store. Once caught up, a read is stored.
                    await client.synchronizeNearCache()
                    value = try await client.getString(key)
                }
                #expect(
                    client.nearCacheHolds(key),
                    "\(key) should be cached after a read: \(String(describing: client.nearCacheStatistics))")
                return value
            }
            try await client.set("a", "1")
            #expect(try await cached("a") == "1")
            try await client.set("a", "2")
            #expect(try await client.getString("a") == "2")
            #expect(try await client.incr("a") == 3)
            #expect(try await client.getString("a") == "3")
            try await client.mset([("a", "4"), ("b", "x")])
            #expect(try await client.mget(["a", "b"]).map { $0.map { String(buffer: $0) } } == ["4", "x"])
            try await client.del("a")
            #expect(try await client.get("a") == nil)
            #expect(try await cached("b") == "x")
            try await client.append("b", "y")
            #expect(try await cached("b") == "xy")
            try await client.rename("b", to: "c")
            #expect(try await client.get("b") == nil)
            #expect(try await cached("c") == "xy")
            _ = try await client.command("SET", ["c", "escape"], routingKey: "c")
            #expect(try await client.getString("c") == "escape")
            #expect(try await cached("c") == "escape")
            try await client.flushall()
            #expect(!client.nearCacheHolds("c"))
            #expect(try await client.get("c") == nil)
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.localInvalidations >= 8)
        }
    }

    @Test("FLUSHALL by another connection empties the near cache", arguments: kinds)
    func flushAll(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        let keys = (0..<20).map { "key:\($0)" }
        try redisCLI(port: server.port, ["MSET"] + keys.flatMap { [$0, "value"] })
        try await Self.withNearClient(server) { client async throws in
            _ = try await client.mget(keys)
            #expect(try #require(client.nearCacheStatistics).entries == 20)
            try redisCLI(port: server.port, ["FLUSHALL"])
            await client.synchronizeNearCache()
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.entries == 0)
            #expect(statistics.flushes == 1)
            #expect(try await client.mget(keys).allSatisfy { $0 == nil })
        }
    }

    @Test("A server restart flushes the near cache; reads go to the server until tracking is back", arguments: kinds)
    func restartFlushes(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "before"])
        try await Self.withNearClient(server) { client async throws in
            #expect(try await client.getString("k") == "before")
            #expect(client.nearCacheHolds("k"))
            try await server.restart()  // same port, empty keyspace
            #expect(try await Self.eventually { try #require(client.nearCacheStatistics).flushes >= 1 })
            #expect(!client.nearCacheHolds("k"))
            try redisCLI(port: server.port, ["SET", "k", "after"])
            #expect(try await client.getString("k") == "after")
            // Tracking resumes on a new connection: the value is cached again and invalidated again.
            #expect(client.nearCacheHolds("k"))
            try redisCLI(port: server.port, ["SET", "k", "again"])
            await client.synchronizeNearCache()
            #expect(try await client.getString("k") == "again")
        }
    }

    @Test(
        "A paused server fails the heartbeat: the near cache is flushed and nothing is served locally", arguments: kinds
    )
    func pausedServerFlushes(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "v"])
        try await Self.withNearClient(
            server, .init(heartbeatInterval: .milliseconds(200), heartbeatTimeout: .milliseconds(500))
        ) {
            client async throws in
            #expect(try await client.getString("k") == "v")
            #expect(client.nearCacheHolds("k"))
            server.pause()
            defer { server.resume() }
            // Heartbeat every 200 ms, answered within 500 ms or the connection is given up.
            #expect(await Self.eventually(.seconds(3)) { !client.nearCacheHolds("k") })
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.flushes >= 1)
            server.resume()
            #expect(try await client.getString("k") == "v")
        }
    }

    @Test("The byte budget bounds the near cache", arguments: kinds)
    func byteBudget(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        let budget = 256 << 10
        let value = String(repeating: "x", count: 1024)
        let keys = (0..<1000).map { "big:\($0)" }
        try await Self.withNearClient(server, .init(maximumBytes: budget, heartbeatInterval: .milliseconds(200))) {
            client async throws in
            for chunk in stride(from: 0, to: keys.count, by: 100) {
                try await client.mset(keys[chunk..<chunk + 100].map { ($0, value) })
            }
            for chunk in stride(from: 0, to: keys.count, by: 100) {
                let values = try await client.mget(Array(keys[chunk..<chunk + 100]))
                #expect(values.allSatisfy { $0.map { String(buffer: $0) } == value })
            }
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.memoryUsage <= budget)
            #expect(statistics.stores == 1000)
            #expect(statistics.entries > 50 && statistics.entries < 300)
            #expect(statistics.evictions > 0)
            // Whatever is still held is correct.
            #expect(try await client.mget(keys).allSatisfy { $0.map { String(buffer: $0) } == value })
        }
    }

    @Test("The local lifetime bounds how long a value is served without asking the server", arguments: kinds)
    func localLifetime(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "v"])
        try await Self.withNearClient(
            server, .init(maximumLifetime: .milliseconds(300), heartbeatInterval: .milliseconds(200))
        ) {
            client async throws in
            #expect(try await client.getString("k") == "v")
            let before = try Self.calls("get", port: server.port)
            #expect(try await client.getString("k") == "v")
            #expect(try Self.calls("get", port: server.port) == before)
            try await Task.sleep(for: .milliseconds(400))
            #expect(!client.nearCacheHolds("k"))
            #expect(try await client.getString("k") == "v")
            #expect(try Self.calls("get", port: server.port) == before + 1)
            #expect(try #require(client.nearCacheStatistics).invalidationsReceived == 0)
        }
    }

    @Test("A key expiring on the server is invalidated in the near cache", arguments: kinds)
    func serverExpiry(_ kind: TestCluster.Kind) async throws {
        let server = try await Self.start(kind)
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "v", "PX", "300"])
        try await Self.withNearClient(server) { client async throws in
            #expect(try await client.getString("k") == "v")
            #expect(client.nearCacheHolds("k"))
            // Nobody touches the key: the server's active expiry deletes it and sends the invalidation.
            #expect(await Self.eventually(.seconds(5)) { !client.nearCacheHolds("k") })
            #expect(try #require(client.nearCacheStatistics).invalidationsReceived >= 1)
            #expect(try await client.get("k") == nil)
        }
    }

    @Test("Without RESP3 there is no near cache: every read goes to the server")
    func noResp3() async throws {
        let server = try await ServerProcess.redis(extra: ["--rename-command", "HELLO", ""])
        defer { server.stop() }
        try redisCLI(port: server.port, ["SET", "k", "v"])
        try await Self.withNearClient(server) { client async throws in
            let before = try Self.calls("get", port: server.port)
            for _ in 0..<5 { #expect(try await client.getString("k") == "v") }
            #expect(try Self.calls("get", port: server.port) == before + 5)
            let statistics = try #require(client.nearCacheStatistics)
            #expect(statistics.stores == 0)
            #expect(statistics.hits == 0)
            #expect(statistics.uncachedReads == 5)
        }
    }

    @Test("Only keys with a configured prefix are cached")
    func prefixes() async throws {
        let server = try await ServerProcess.redis()
        defer { server.stop() }
        try redisCLI(port: server.port, ["MSET", "user:1", "a", "other", "b"])
        try await Self.withNearClient(server, .init(keyPrefixes: ["user:"])) { client async throws in
            #expect(try await client.mget(["user:1", "other"]).map { $0.map { String(buffer: $0) } } == ["a", "b"])
            #expect(try await client.getString("other") == "b")
            #expect(client.nearCacheHolds("user:1"))
            #expect(!client.nearCacheHolds("other"))
        }
    }
}
