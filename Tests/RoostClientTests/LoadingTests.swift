import Foundation
import NIOCore
import Synchronization
import Testing

@testable import RoostClient

/// Stampede-safe loading (`get(_:ttl:options:loadingWith:)`) against real servers: single flight within a
/// process, leases across processes (`roost-client-example stampede`), stale values served while one caller
/// recomputes, a failed loader giving its lease back, and the plain fallback on redis-server.
@Suite("RoostClient stampede-safe loading", .serialized, .timeLimit(.minutes(2)))
struct LoadingTests {
    private func client(_ server: ServerProcess) -> RoostClient {
        var configuration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: server.port)
        configuration.commandTimeout = .seconds(5)
        return RoostClient(configuration: configuration, logger: testLogger)
    }

    /// The example program next to the test bundle (built by `swift build`).
    private var examplePath: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("roost-client-example").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return ".build/debug/roost-client-example"
    }

    @Test("100 concurrent tasks in one process: the loader runs once, every task gets its value")
    func singleFlightInProcess() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let client = client(server)
        let runs = Counter()
        let values = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let value = try await client.get("report", ttl: .seconds(30)) {
                        let run = runs.increment()
                        try await Task.sleep(for: .milliseconds(100))
                        return ByteBuffer(string: "computed \(run)")
                    }
                    return String(buffer: value)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(runs.value == 1)
        #expect(Set(values) == ["computed 1"])
        #expect(values.count == 100)
        // Stored with its time to live: a later call is a hit and does not load.
        let again = try await client.get("report", ttl: .seconds(30)) {
            runs.increment()
            return ByteBuffer(string: "recomputed")
        }
        #expect(String(buffer: again) == "computed 1")
        #expect(runs.value == 1)
        guard case .expires(let left) = try await client.pttl("report") else {
            Issue.record("the loaded value should have a time to live")
            return
        }
        #expect(left > .seconds(25) && left <= .seconds(30))
    }

    @Test("4 processes x 25 tasks stampede on 3 keys over 2 expiries: each key is computed once per expiry")
    func leasesAcrossProcesses() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let example = examplePath
        try #require(
            FileManager.default.isExecutableFile(atPath: example),
            "roost-client-example not found at \(example): run `swift build` first")
        let startAt = Int(Date().timeIntervalSince1970 * 1000) + 2000
        let arguments = [
            "stampede", "--tasks", "25", "--keys", "3", "--phases", "2", "--phase-ms", "1500", "--ttl-ms", "1000",
            "--loader-ms", "100", "--start-at", "\(startAt)", "127.0.0.1:\(server.port)",
        ]
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 {
                group.addTask { try run(example, arguments, timeout: 30) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var loadsInProcesses = 0
        for output in outputs {
            let phases = output.split(separator: "\n").filter { $0.hasPrefix("phase ") }
            #expect(phases.count == 2, "every process ran both phases: \(output)")
            for line in phases {
                #expect(line.contains("75 gets"), "\(line)")
                if let loads = line.split(separator: " ").dropLast(4).last.flatMap({ Int($0) }) {
                    loadsInProcesses += loads
                }
            }
        }
        for key in 0..<3 {
            let loads = try redisCLI(port: server.port, ["GET", "stampede:loads:stampede:\(key)"])
            #expect(
                loads.trimmingCharacters(in: .whitespacesAndNewlines) == "2",
                "key \(key): loaded \(loads) times in 2 expiries by 100 tasks in 4 processes")
        }
        #expect(loadsInProcesses == 6, "the processes report 6 loads in all: \(outputs)")
    }

    @Test("An invalidated value is served stale to other processes while one recomputes it")
    func staleWhileRecomputing() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        // Two clients stand for two processes: the single flight is per client.
        let first = client(server)
        let second = client(server)
        _ = try await first.get("page", ttl: .seconds(60)) { ByteBuffer(string: "v1") }
        #expect(try await first.invalidate("page"))
        #expect(try await first.invalidate("absent") == false)

        let recomputing = Counter()
        async let winner = first.get("page", ttl: .seconds(60)) {
            recomputing.increment()
            try await Task.sleep(for: .milliseconds(1500))
            return ByteBuffer(string: "v2")
        }
        while recomputing.value == 0 { try await Task.sleep(for: .milliseconds(5)) }
        _ = try await second.ping()  // connect first: only the read is timed
        let began = ContinuousClock.now
        let stale = try await second.get("page", ttl: .seconds(60)) {
            Issue.record("the second caller must not recompute while the first holds the lease")
            return ByteBuffer(string: "v3")
        }
        #expect(String(buffer: stale) == "v1")
        #expect(ContinuousClock.now - began < .milliseconds(1200), "the stale value comes without the winner's 1.5 s")
        #expect(String(buffer: try await winner) == "v2")
        #expect(try await second.getString("page") == "v2")

        // With servesStale off, the other caller waits for the new value instead.
        #expect(try await first.invalidate("page"))
        async let winner2 = first.get("page", ttl: .seconds(60)) {
            try await Task.sleep(for: .milliseconds(300))
            return ByteBuffer(string: "v4")
        }
        try await Task.sleep(for: .milliseconds(100))
        let waited = try await second.get("page", ttl: .seconds(60), options: .init(servesStale: false)) {
            ByteBuffer(string: "v5")
        }
        #expect(String(buffer: waited) == "v4")
        #expect(String(buffer: try await winner2) == "v4")
    }

    @Test("A failing loader gives its lease back: the next caller loads at once instead of waiting")
    func failedLoaderReleasesTheLease() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let first = client(server)
        let second = client(server)
        struct SourceDown: Error {}
        await #expect(throws: SourceDown.self) {
            _ = try await first.get("flaky", ttl: .seconds(60), options: .init(lease: .seconds(30))) {
                throw SourceDown()
            }
        }
        _ = try await second.ping()  // connect first: only the load is timed
        let began = ContinuousClock.now
        let value = try await second.get("flaky", ttl: .seconds(60), options: .init(lease: .seconds(30))) {
            ByteBuffer(string: "recovered")
        }
        #expect(String(buffer: value) == "recovered")
        #expect(ContinuousClock.now - began < .seconds(5), "not blocked by the failed holder's 30 s lease")
    }

    @Test("A caller that waits longer than maximumWait computes the value itself without storing it")
    func waitingIsBounded() async throws {
        let server = try await ServerProcess.roostd()
        defer { server.stop() }
        let holder = client(server)
        let other = client(server)
        // The holder wins and never stores (its loader outlives the test's patience).
        let holding = Task {
            try await holder.get("slow", ttl: .seconds(60), options: .init(lease: .seconds(30))) {
                try await Task.sleep(for: .seconds(10))
                return ByteBuffer(string: "late")
            }
        }
        defer { holding.cancel() }
        try await Task.sleep(for: .milliseconds(200))
        _ = try await other.ping()  // connect first: only the waiting is timed
        let began = ContinuousClock.now
        let value = try await other.get(
            "slow", ttl: .seconds(60), options: .init(lease: .seconds(30), maximumWait: .milliseconds(300))
        ) { ByteBuffer(string: "own") }
        let waited = ContinuousClock.now - began
        #expect(String(buffer: value) == "own")
        // Bounded by maximumWait (plus round trips on a loaded CI machine), far below the holder's 30 s lease.
        #expect(waited >= .milliseconds(250) && waited < .seconds(10), "waited \(waited)")
        #expect(try await other.getString("slow") == "", "the placeholder is still the holder's: nothing stored")
    }

    @Test("Against redis-server (no LEASE.*): loading is single flight within the process")
    func plainFallbackOnRedis() async throws {
        let server = try await ServerProcess.redis()
        defer { server.stop() }
        let client = client(server)
        let runs = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let value = try await client.get("report", ttl: .seconds(30)) {
                        runs.increment()
                        try await Task.sleep(for: .milliseconds(100))
                        return ByteBuffer(string: "computed")
                    }
                    #expect(String(buffer: value) == "computed")
                }
            }
            try await group.waitForAll()
        }
        #expect(runs.value == 1)
        #expect(try await client.getString("report") == "computed")
        guard case .expires = try await client.ttl("report") else {
            Issue.record("the fallback stores the value with its time to live")
            return
        }
    }
}

/// A counter shared by concurrent tasks.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    /// Adds one and returns the new count.
    @discardableResult func increment() -> Int { count.add(1, ordering: .relaxed).newValue }
    var value: Int { count.load(ordering: .relaxed) }
}
