import Foundation
import NIOCore
import Synchronization
import Testing

@testable import RoostClient

/// The near cache's main promise, under load: writers on other connections keep writing increasing versions
/// (`INCR`, so the server's order is the version order) to a few keys while readers read them through the near
/// cache.
///
/// Checked: (1) no reader ever sees a key's version go backwards; (2) once a write has been acknowledged and its
/// invalidation has reached the client (``RoostClient/synchronizeNearCache()`` returned after the acknowledgement),
/// no read started afterwards returns an older version. Measured and printed: the staleness window, for each write
/// the time from its acknowledgement to the moment the near cache stopped holding any older version of the key
/// (zero when it held none then), taken from the near cache's own record of stores and removals.
@Suite("RoostClient near cache staleness under concurrent writers", .serialized, .timeLimit(.minutes(3)))
struct NearCacheStalenessTests {
    static let keys = ["version:a", "version:b", "version:c", "version:d"]
    static let writers = 4
    static let readers = 4
    /// The run lasts at least this long and until ``minimumWrites`` writes were acknowledged (the writers can be
    /// starved when other suites run in parallel), but no longer than ``maximumDuration``.
    static let duration: Duration = .seconds(3)
    static let minimumWrites = 400
    static let maximumDuration: Duration = .seconds(30)

    /// What happened, in order: writes acknowledged, and changes to the near cache's contents.
    struct Record: Sendable {
        var acknowledged: [(key: String, version: Int, at: ContinuousClock.Instant)] = []
        var events: [(event: TrackedNearCache.Event, at: ContinuousClock.Instant)] = []
        /// Per key, the highest version whose write was acknowledged and then synchronized with the near cache.
        var confirmed: [String: Int] = [:]
    }

    /// The shared ``Record``, locked.
    final class Recorder: Sendable {
        let state = Mutex(Record())
    }

    struct ReadTally: Sendable {
        var reads = 0
        var backwards: [String] = []
        var belowConfirmed: [String] = []
    }

    @Test(
        "No version goes backwards; nothing older than an acknowledged, delivered write is read",
        arguments: [TestCluster.Kind.redis, .roost])
    func staleness(_ kind: TestCluster.Kind) async throws {
        let server = try await NearCacheTests.start(kind)
        defer { server.stop() }
        let record = Recorder()

        var readerConfiguration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: server.port)
        readerConfiguration.nearCache = .init(heartbeatInterval: .milliseconds(200))
        let reader = RoostClient(configuration: readerConfiguration, logger: testLogger)
        reader.nearCache?.observe { event, at in record.state.withLock { $0.events.append((event, at)) } }

        var writerConfiguration = RoostClient.Configuration.standalone(host: "127.0.0.1", port: server.port)
        writerConfiguration.pool = .init(minimumConnections: 1, maximumConnections: Self.writers, pipelineThreshold: 1)
        let writer = RoostClient(configuration: writerConfiguration, logger: testLogger)

        for key in Self.keys { try await writer.set(key, "0") }

        let (tallies, stats): ([ReadTally], RoostClient.NearCacheStatistics) = try await withThrowingTaskGroup(
            of: Void.self
        ) { services in
            services.addTask { try await reader.run() }
            services.addTask { try await writer.run() }
            defer { services.cancelAll() }
            let start = ContinuousClock.now
            @Sendable func running() -> Bool {
                let elapsed = ContinuousClock.now - start
                if elapsed < Self.duration { return true }
                if elapsed > Self.maximumDuration { return false }
                return record.state.withLock { $0.acknowledged.count } < Self.minimumWrites
            }
            let tallies = try await withThrowingTaskGroup(of: ReadTally?.self) { group in
                for index in 0..<Self.writers {
                    group.addTask {
                        var generator = SystemRandomNumberGenerator()
                        while running() {
                            let key = Self.keys[Int(generator.next() % UInt64(Self.keys.count))]
                            let version = Int(try await writer.incr(key))
                            let acknowledged = ContinuousClock.now
                            record.state.withLock { $0.acknowledged.append((key, version, acknowledged)) }
                            // Every other writer confirms delivery of its invalidation, for check (2).
                            if index % 2 == 0 {
                                await reader.synchronizeNearCache()
                                record.state.withLock { $0.confirmed[key] = max($0.confirmed[key] ?? 0, version) }
                            }
                            try await Task.sleep(for: .microseconds(Int(generator.next() % 2000)))
                        }
                        return nil
                    }
                }
                for _ in 0..<Self.readers {
                    group.addTask {
                        var tally = ReadTally()
                        var lastSeen: [String: Int] = [:]
                        var generator = SystemRandomNumberGenerator()
                        while running() {
                            let key = Self.keys[Int(generator.next() % UInt64(Self.keys.count))]
                            let floor = record.state.withLock { $0.confirmed[key] ?? 0 }
                            guard let bytes = try await reader.get(key), let version = Int(String(buffer: bytes))
                            else {
                                Issue.record("\(key) read no version")
                                return tally
                            }
                            tally.reads += 1
                            if version < lastSeen[key, default: 0] {
                                tally.backwards.append("\(key): \(lastSeen[key]!) then \(version)")
                            }
                            if version < floor {
                                tally.belowConfirmed.append("\(key): read \(version) after \(floor) was confirmed")
                            }
                            lastSeen[key] = version
                            await Task.yield()  // hits do not suspend; let the writers run
                        }
                        return tally
                    }
                }
                var tallies: [ReadTally] = []
                for try await tally in group { if let tally { tallies.append(tally) } }
                return tallies
            }
            // Quiesce, then the near cache must hold nothing older than the server.
            await reader.synchronizeNearCache()
            for key in Self.keys {
                let server = try await writer.get(key).map { String(buffer: $0) }
                let local = try await reader.get(key).map { String(buffer: $0) }
                #expect(local == server, "\(key): near cache \(local ?? "nil"), server \(server ?? "nil")")
            }
            return (tallies, try #require(reader.nearCacheStatistics))
        }

        let reads = tallies.reduce(0) { $0 + $1.reads }
        let backwards = tallies.flatMap(\.backwards)
        let belowConfirmed = tallies.flatMap(\.belowConfirmed)
        #expect(backwards.isEmpty, "versions went backwards: \(backwards.prefix(5))")
        #expect(belowConfirmed.isEmpty, "stale reads after a confirmed invalidation: \(belowConfirmed.prefix(5))")
        let snapshot = record.state.withLock { $0 }
        #expect(reads > 1000)
        #expect(snapshot.acknowledged.count >= Self.minimumWrites)
        #expect(stats.hits > stats.misses, "the near cache should serve most reads: \(stats)")
        #expect(stats.invalidationsReceived > snapshot.acknowledged.count / 10)
        #expect(stats.flushes == 0)

        let windows = Self.stalenessWindows(snapshot)
        let positive = windows.filter { $0 > .zero }.sorted()
        let all = windows.sorted()
        func percentile(_ sorted: [Duration], _ fraction: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
            return Self.format(sorted[max(0, index)])
        }
        print(
            """
            near-cache staleness [\(kind)]: \(snapshot.acknowledged.count) writes, \(reads) reads \
            (\(stats.hits) local hits, \(stats.misses) misses, \(stats.discardedReplies) replies discarded in flight, \
            \(stats.invalidationsReceived) invalidations)
              window after ack, all writes:        median \(percentile(all, 0.5)) p99 \(percentile(all, 0.99)) \
            max \(percentile(all, 1))
              writes with an older version held:   \(positive.count) — median \(percentile(positive, 0.5)) \
            p99 \(percentile(positive, 0.99)) max \(percentile(positive, 1))
            """)
        // A loopback invalidation lags its acknowledgement by far less than a heartbeat interval.
        #expect(all.last ?? .zero < .milliseconds(200), "staleness window too large: \(Self.format(all.last ?? .zero))")
    }

    /// For each acknowledged write, how long after its acknowledgement the near cache still held an older version
    /// of its key (zero if it held none).
    static func stalenessWindows(_ record: Record) -> [Duration] {
        // Intervals during which each key held each version, from the near cache's own record.
        struct Held {
            var version: Int
            var from: ContinuousClock.Instant
            var until: ContinuousClock.Instant?
        }
        var held: [String: [Held]] = [:]
        func close(_ key: String, at instant: ContinuousClock.Instant) {
            if let last = held[key]?.indices.last, held[key]![last].until == nil { held[key]![last].until = instant }
        }
        for (event, at) in record.events {
            switch event {
            case .stored(let key, let value):
                close(key, at: at)
                held[key, default: []].append(Held(version: Int(String(buffer: value)) ?? -1, from: at, until: nil))
            case .removed(let key):
                close(key, at: at)
            case .flushed:
                for key in held.keys { close(key, at: at) }
            }
        }
        let end = ContinuousClock.now
        return record.acknowledged.map { write in
            var window = Duration.zero
            for interval in held[write.key] ?? [] where interval.version < write.version {
                let until = interval.until ?? end
                if until > write.at { window = max(window, until - write.at) }
            }
            return window
        }
    }

    static func format(_ duration: Duration) -> String {
        String(
            format: "%.3f ms",
            Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1e3)
    }
}
