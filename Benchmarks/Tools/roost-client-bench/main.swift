// Load generator for `scripts/bench-client`: RoostClient against one server, with a fixed number of concurrent
// tasks. Prints one JSON line: ops/s and latency percentiles. Not a benchmark of the server (use scripts/bench).
//
//     roost-client-bench --port 6379 --tasks 50 --seconds 5 [--value-size 32] [--keys 10000] [--get-ratio 0.9]
//     roost-client-bench --port 6379 --near-cache-hits     time 1,000,000 gets of one key served by the near cache
import Foundation
import Logging
import RoostClient

struct Options {
    var host = "127.0.0.1"
    var port = 6379
    var tasks = 50
    var seconds = 5.0
    var valueSize = 32
    var keys = 10_000
    var getRatio = 0.9
    var nearCacheHits = false

    init(_ arguments: [String]) {
        var index = 1
        func next() -> String {
            index += 1
            guard index < arguments.count else { fatalError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--host": host = next()
            case "--port": port = Int(next())!
            case "--tasks": tasks = Int(next())!
            case "--seconds": seconds = Double(next())!
            case "--value-size": valueSize = Int(next())!
            case "--keys": keys = Int(next())!
            case "--get-ratio": getRatio = Double(next())!
            case "--near-cache-hits": nearCacheHits = true
            case "--help":
                print("options: --host --port --tasks --seconds --value-size --keys --get-ratio --near-cache-hits")
                exit(0)
            default: fatalError("unknown option \(arguments[index])")
            }
            index += 1
        }
    }
}

/// Latencies of one task, in nanoseconds, and its operation count.
struct TaskResult: Sendable {
    var operations = 0
    var latencies: [Int64] = []
}

let options = Options(CommandLine.arguments)
let value = String(repeating: "x", count: options.valueSize)
let logger = Logger(label: "roost-client-bench")
var configuration = RoostClient.Configuration.standalone(host: options.host, port: options.port)

if options.nearCacheHits {
    configuration.nearCache = RoostClient.Configuration.NearCache()
    let nanoseconds = try await withRoostClient(configuration: configuration, logger: logger) { client in
        try await client.set("near", value)
        _ = try await client.get("near")
        await client.synchronizeNearCache()
        guard client.nearCacheStatistics?.entries == 1 else { fatalError("the value was not cached") }
        let count = 1_000_000
        // Off the main actor: top-level code runs on it, and every call from there would hop executors twice.
        let elapsed = try await Task.detached {
            let clock = ContinuousClock()
            let began = clock.now
            for _ in 0..<count { _ = try await client.get("near") }
            return began.duration(to: clock.now)
        }.value
        guard let statistics = client.nearCacheStatistics, statistics.hits >= count else {
            fatalError("gets went to the server")
        }
        return Double(elapsed.components.seconds) * 1e9 / Double(count)
            + Double(elapsed.components.attoseconds) / 1e9 / Double(count)
    }
    print("{\"near_cache_hit_ns\": \(nanoseconds)}")
    exit(0)
}

let summary = try await withRoostClient(configuration: configuration, logger: logger) { client in
    for start in stride(from: 0, to: options.keys, by: 1000) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in start..<min(start + 1000, options.keys) {
                group.addTask { try await client.set("key:\(key)", value) }
            }
            try await group.waitForAll()
        }
    }
    let clock = ContinuousClock()
    let began = clock.now
    let deadline = began + .milliseconds(Int64(options.seconds * 1000))
    let results = try await withThrowingTaskGroup(of: TaskResult.self) { group in
        for task in 0..<options.tasks {
            group.addTask {
                var generator = SystemRandomNumberGenerator()
                var result = TaskResult()
                result.latencies.reserveCapacity(1 << 16)
                var keyIndex = task * 7919
                while true {
                    let now = clock.now
                    if now >= deadline { break }
                    keyIndex = (keyIndex &+ 104_729) % options.keys
                    let key = "key:\(keyIndex)"
                    if Double.random(in: 0..<1, using: &generator) < options.getRatio {
                        _ = try await client.get(key)
                    } else {
                        try await client.set(key, value)
                    }
                    let elapsed = now.duration(to: clock.now)
                    result.operations += 1
                    if result.latencies.count < 1 << 16 {
                        result.latencies.append(elapsed.components.attoseconds / 1_000_000_000)
                    }
                }
                return result
            }
        }
        var all: [TaskResult] = []
        for try await result in group { all.append(result) }
        return all
    }
    let elapsed = began.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let operations = results.reduce(0) { $0 + $1.operations }
    let latencies = results.flatMap(\.latencies).sorted()
    func percentile(_ p: Double) -> Double {
        latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
    }
    return [
        "tasks": Double(options.tasks), "ops_per_second": Double(operations) / seconds,
        "p50_us": percentile(0.5), "p99_us": percentile(0.99),
    ]
}
let json = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
