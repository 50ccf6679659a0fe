import Foundation
import NIOCore
import RoostClient

/// `roost-client-example stampede …`: many tasks ask for the same missing keys at once through
/// `get(_:ttl:loadingWith:)`; the loader counts its runs on the server (`INCR stampede:loads:<key>`), so several
/// of these processes started together show how often each value was computed (once per key per expiry is the
/// promise). Phases start at fixed wall-clock times so that processes started together stampede together.
///
///     roost-client-example stampede --tasks 25 --keys 3 --phases 2 --phase-ms 1500 --ttl-ms 1000 \
///         --start-at <unix ms> HOST:PORT
struct Stampede {
    var tasks = 25
    var keys = 3
    var phases = 2
    var phaseMilliseconds = 1500
    var ttlMilliseconds = 1000
    var loaderMilliseconds = 50
    var startAt = 0.0
    var prefix = "stampede"

    /// Parses the options before the endpoints; returns the remaining arguments.
    mutating func parse(_ arguments: [String]) -> [String] {
        var rest = arguments[...]
        while let option = rest.first, option.hasPrefix("--"), rest.count >= 2 {
            let value = rest[rest.startIndex + 1]
            switch option {
            case "--tasks": tasks = Int(value) ?? tasks
            case "--keys": keys = Int(value) ?? keys
            case "--phases": phases = Int(value) ?? phases
            case "--phase-ms": phaseMilliseconds = Int(value) ?? phaseMilliseconds
            case "--ttl-ms": ttlMilliseconds = Int(value) ?? ttlMilliseconds
            case "--loader-ms": loaderMilliseconds = Int(value) ?? loaderMilliseconds
            case "--start-at": startAt = Double(value) ?? startAt
            case "--prefix": prefix = value
            default: return Array(rest)
            }
            rest = rest.dropFirst(2)
        }
        return Array(rest)
    }

    /// Runs every phase; prints one line per phase: the gets made and the loads this process ran.
    func run(_ client: RoostClient) async throws {
        let start = startAt > 0 ? startAt : Date().timeIntervalSince1970 * 1000
        for phase in 0..<phases {
            let due = start + Double(phase * phaseMilliseconds)
            let wait = due - Date().timeIntervalSince1970 * 1000
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int64(wait))) }
            let loads = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        var loaded = 0
                        for index in 0..<keys {
                            let key = "\(prefix):\((index + task) % keys)"
                            let ran = LoaderRuns()
                            let value = try await client.get(key, ttl: .milliseconds(ttlMilliseconds)) {
                                ran.mark()
                                let count = try await client.incr("\(prefix):loads:\(key)")
                                try await Task.sleep(for: .milliseconds(loaderMilliseconds))
                                return ByteBuffer(string: "computed \(count)")
                            }
                            guard String(buffer: value).hasPrefix("computed ") else { throw ExampleFailure() }
                            if ran.didRun { loaded += 1 }
                        }
                        return loaded
                    }
                }
                return try await group.reduce(0, +)
            }
            print("phase \(phase): \(tasks * keys) gets, \(loads) loads in this process")
        }
    }
}

/// Whether this task's loader ran (the client shares one load between the tasks of a process).
final class LoaderRuns: @unchecked Sendable {
    private let lock = NSLock()
    private var ran = false
    func mark() { lock.withLock { ran = true } }
    var didRun: Bool { lock.withLock { ran } }
}
