import Foundation
import NIOCore
import RoostProtocol
import Synchronization
import Testing

@testable import RoostClient

/// The client against real standalone servers: `roostd` started from the build, and Debian's `redis-server`.
@Suite("RoostClient against a standalone roostd / redis-server", .serialized, .timeLimit(.minutes(2)))
struct StandaloneClientTests {
    private func client(_ server: ServerProcess, _ configure: (inout RoostClient.Configuration) -> Void = { _ in })
        -> RoostClient
    {
        var configuration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: server.port)
        configuration.commandTimeout = .seconds(5)
        configure(&configuration)
        return RoostClient(configuration: configuration, logger: testLogger)
    }

    struct Profile: Codable, Equatable {
        var name: String
        var tags: [String]
    }

    @Test("String and key commands round-trip against roostd")
    func commands() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        try await withRoostClient(configuration: .standalone(host: "127.0.0.1", port: server.port), logger: testLogger)
        { client in
            #expect(try await client.get("missing") == nil)
            #expect(try await client.set("k", "v1"))
            #expect(try await client.getString("k") == "v1")
            #expect(try await client.set("k", "v2", condition: .ifNotExists) == false)
            #expect(try await client.set("absent", "x", condition: .ifExists) == false)
            #expect(try await client.getString("k") == "v1")
            #expect(try await client.set("k", ByteBuffer(bytes: [0, 13, 10, 255]), ttl: .seconds(30)))
            #expect(try await client.get("k") == ByteBuffer(bytes: [0, 13, 10, 255]))
            guard case .expires(let remaining) = try await client.pttl("k") else {
                Issue.record("PTTL after SET PX should report a time to live")
                return
            }
            #expect(remaining > .seconds(29) && remaining <= .seconds(30))
            #expect(try await client.ttl("missing") == .missing)
            try await client.set("plain", "p")
            #expect(try await client.ttl("plain") == .persistent)
            #expect(try await client.expire("plain", in: .milliseconds(60_500)))
            #expect(try await client.expire("plain", in: .seconds(100), condition: .ifNoExpiry) == false)
            #expect(try await client.persist("plain"))
            #expect(try await client.ttl("plain") == .persistent)

            #expect(try await client.incr("n") == 1)
            #expect(try await client.incrby("n", 41) == 42)
            #expect(try await client.decr("n") == 41)
            #expect(try await client.decrby("n", 40) == 1)
            #expect(try await client.incrbyfloat("f", 1.5) == 1.5)
            #expect(try await client.append("s", "ab") == 2)
            #expect(try await client.append("s", "cd") == 4)
            #expect(try await client.strlen("s") == 4)
            #expect(try await client.getRange("s", start: 1, end: 2) == ByteBuffer(string: "bc"))
            #expect(try await client.setRange("s", offset: 4, "ef") == 6)
            #expect(try await client.getSet("s", "new").map { String(buffer: $0) } == "abcdef")
            #expect(try await client.getDel("s").map { String(buffer: $0) } == "new")
            #expect(try await client.get("s") == nil)
            #expect(try await client.type("n") == "string")
            #expect(try await client.rename("n", to: "n2"))

            try await client.mset([("a", "1"), ("b", "2"), ("c", "3")])
            let values = try await client.mget(["a", "missing", "c", "b"])
            #expect(values.map { $0.map { String(buffer: $0) } } == ["1", nil, "3", "2"])
            #expect(try await client.exists("a", "b", "missing", "a") == 3)
            #expect(try await client.del("a", "b", "missing") == 2)
            #expect(try await client.msetnx([("x", "1"), ("c", "9")]) == false)

            let profile = Profile(name: "Ada", tags: ["math", "engines"])
            try await client.set("profile", encoding: profile, ttl: .seconds(60))
            #expect(try await client.get("profile", as: Profile.self) == profile)
            #expect(try await client.get("nobody", as: Profile.self) == nil)
            await #expect(throws: RoostClientError.self) { try await client.get("c", as: Profile.self) }

            let echo = try await client.command("ECHO", ["hello"], readOnly: true)
            #expect(echo == .bulkString(ByteBuffer(string: "hello")))
            #expect(try await client.dbsize() >= 5)
            #expect(try await client.ping() < .seconds(5))
        }
    }

    @Test("Error replies become typed errors naming the command, code and node")
    func errorMapping() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let client = client(server)
        try await client.set("text", "not a number")
        do {
            try await client.incr("text")
            Issue.record("INCR on text should fail")
        } catch {
            #expect(error.code == .serverError)
            #expect(error.serverCode == "ERR")
            #expect(error.message == "ERR value is not an integer or out of range")
            #expect(error.command == "INCR")
            #expect(error.node == "127.0.0.1:\(server.port)")
        }
        do {
            _ = try await client.command("NOSUCHCOMMAND", ["x"])
            Issue.record("an unknown command should fail")
        } catch {
            #expect(error.serverCode == "ERR")
            #expect(error.command == "NOSUCHCOMMAND")
            #expect(error.message.hasPrefix("ERR unknown command"))
        }
        await #expect(throws: RoostClientError.self) { try await client.set("k", "v", ttl: .zero) }
    }

    @Test("WRONGTYPE from redis-server carries its code")
    func wrongTypeFromRedis() async throws {
        let server = try await ServerProcess.redis()
        defer { server.stop() }
        let client = client(server)
        _ = try await client.command("LPUSH", ["list", "x"], routingKey: "list")
        do {
            _ = try await client.get("list")
            Issue.record("GET on a list should fail")
        } catch {
            #expect(error.serverCode == "WRONGTYPE")
            #expect(error.description.hasPrefix("GET on 127.0.0.1:\(server.port): WRONGTYPE"))
        }
    }

    @Test("1000 concurrent tasks share pipelined connections; every reply reaches its own caller")
    func pipelining() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        func connectionsReceived() throws -> Int {
            let info = try redisCLI(port: server.port, ["INFO", "stats"])
            let line = info.split(separator: "\r\n").first { $0.hasPrefix("total_connections_received:") }
            return Int(line?.split(separator: ":").last ?? "") ?? -1
        }
        let before = try connectionsReceived()
        let client = client(server) { $0.pool = .init(maximumConnections: 2, pipelineThreshold: 64) }
        let tasks = 1000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<tasks {
                group.addTask {
                    try await client.set("key:\(index)", "value:\(index)")
                    try await client.incr("counter")
                    let value = try await client.getString("key:\(index)")
                    #expect(value == "value:\(index)", "task \(index) got another task's reply")
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.getString("counter") == "\(tasks)")
        let all = try await client.mget((0..<tasks).map { "key:\($0)" })
        #expect(all.enumerated().allSatisfy { String(buffer: $0.element!) == "value:\($0.offset)" })
        // 3000 commands from 1000 tasks went over at most the pool's 2 connections (the +1 is this redis-cli).
        let connections = try connectionsReceived() - before - 1
        #expect(connections >= 1 && connections <= 2, "connections: \(connections)")
    }

    @Test("A server that stops answering makes commands time out; the client recovers when it answers again")
    func timeouts() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let client = client(server) { $0.commandTimeout = .milliseconds(300) }
        try await client.set("k", "v")
        server.pause()
        let start = ContinuousClock.now
        do {
            _ = try await client.get("k")
            Issue.record("GET on a paused server should time out")
        } catch {
            #expect(error.code == .timeout, "\(error)")
            #expect(error.command == "GET")
        }
        #expect(ContinuousClock.now - start < .seconds(3))
        server.resume()
        #expect(try await client.getString("k") == "v")
    }

    @Test("In-flight commands fail when the server goes away; the client reconnects after a restart")
    func reconnect() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let client = client(server) {
            $0.commandTimeout = .seconds(1)
            $0.retry = .init(
                maximumAttempts: 20, backoff: .init(initial: .milliseconds(20), maximum: .milliseconds(200)))
        }
        try await client.set("k", "before")
        server.stop()
        do {
            _ = try await client.set("k", "while down")
            Issue.record("a write to a stopped server should fail")
        } catch {
            #expect(error.code == .connectionFailed || error.code == .connectionClosed, "\(error)")
        }
        try await server.restart()
        // Roost is a cache: the restarted server is empty. The first command may wait out the reconnect backoff.
        let deadline = ContinuousClock.now + .seconds(10)
        var reconnected = false
        while ContinuousClock.now < deadline {
            if (try? await client.set("k", "after")) != nil {
                reconnected = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(reconnected)
        #expect(try await client.getString("k") == "after")
    }

    @Test("RESP3 is negotiated by default; RESP2 is used when asked or when the server refuses HELLO")
    func protocolNegotiation() async throws {
        let server = try await ServerProcess.redis(extra: ["--rename-command", "HELLO", ""])
        defer { server.stop() }
        let roost = try await ServerProcess.roostd()
        defer { roost.stop() }
        let refusing = client(server)
        #expect(try await refusing.set("k", "v"))
        #expect(try await refusing.getString("k") == "v")
        #expect(
            try await refusing.pools.pool(host: "127.0.0.1", port: server.port, readOnly: false).connection()
                .protocolVersion == .resp2)

        let resp3 = client(roost)
        #expect(
            try await resp3.pools.pool(host: "127.0.0.1", port: roost.port, readOnly: false).connection()
                .protocolVersion == .resp3)
        let resp2 = client(roost) { $0.preferRESP3 = false }
        #expect(
            try await resp2.pools.pool(host: "127.0.0.1", port: roost.port, readOnly: false).connection()
                .protocolVersion == .resp2)
        #expect(try await resp2.mget(["nothing"]) == [nil])
    }

    @Test("RESP3 push frames (client-tracking invalidations) reach the push hook, not a caller")
    func pushFrames() async throws {
        let server = try await ServerProcess.redis()
        defer { server.stop() }
        let pushes = Mutex<[RESPValue]>([])
        var configuration = ConnectionConfiguration(
            commandTimeout: .seconds(5), connectTimeout: .seconds(2), preferRESP3: true)
        configuration.onPush = { value, _ in pushes.withLock { $0.append(value) } }
        let connection = try await RoostConnection.connect(
            host: "127.0.0.1", port: server.port, readOnly: false, configuration: configuration,
            eventLoopGroup: RoostClient.defaultEventLoopGroup, logger: testLogger)
        defer { connection.close() }
        func send(_ arguments: String...) async throws -> RESPValue {
            try await connection.send("test") { buffer in
                buffer.writeRESPArrayHeader(arguments.count)
                for argument in arguments { buffer.writeRESPBulkString(argument) }
            }.get()
        }
        #expect(try await send("CLIENT", "TRACKING", "ON") == .simpleString(ByteBuffer(string: "OK")))
        _ = try await send("GET", "tracked")
        try redisCLI(port: server.port, ["SET", "tracked", "changed"])
        let deadline = ContinuousClock.now + .seconds(5)
        while pushes.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        // The connection still matches replies in order after the push.
        #expect(try await send("PING") == .simpleString(ByteBuffer(string: "PONG")))
        let received = pushes.withLock { $0 }
        #expect(
            received.first
                == .push([
                    .bulkString(ByteBuffer(string: "invalidate")), .array([.bulkString(ByteBuffer(string: "tracked"))]),
                ]))
        // The connection reports that it broke (how a near cache learns its invalidations may be lost).
        server.stop()
        try await connection.closeFuture.get()
        #expect(!connection.isOpen)
    }
}
