import Foundation
import Logging
import RoostClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A server process started by a test (`roostd` or Debian's `redis-server`) on a free loopback port, stopped by
/// PID. Every wait here is bounded.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test that owns this value, one call at a time.
    let port: Int
    let busPort: Int
    let binary: String
    let arguments: [String]
    let logPath: String
    private var process: Process

    var pid: Int32 { process.processIdentifier }
    var endpoint: RoostClient.Configuration.Endpoint { .init(host: "127.0.0.1", port: port) }

    private init(binary: String, arguments: [String], port: Int, busPort: Int, logPath: String) throws {
        self.binary = binary
        self.arguments = arguments
        self.port = port
        self.busPort = busPort
        self.logPath = logPath
        self.process = try Self.launch(binary, arguments, logPath: logPath)
    }

    private static func launch(_ binary: String, _ arguments: [String], logPath: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The `roostd` under test: `$ROOSTD`, else the one built next to the test bundle.
    static var roostdPath: String {
        if let path = ProcessInfo.processInfo.environment["ROOSTD"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("roostd").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return ".build/debug/roostd"
    }

    /// Starts `roostd` (standalone, or a cluster node with `cluster: true`), waiting until it answers PING.
    static func roostd(cluster: Bool = false, port: Int? = nil, extra: [String] = []) async throws -> ServerProcess {
        let binary = roostdPath
        try #require(
            FileManager.default.isExecutableFile(atPath: binary),
            "roostd not found at \(binary): run `swift build --product roostd` first or set ROOSTD")
        let port = port ?? freePort()
        let busPort = freePort()
        let directory = try temporaryDirectory()
        var arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--loglevel", "notice"]
        if cluster {
            arguments += [
                "--cluster-enabled", "yes", "--cluster-config-file", "\(directory)/nodes.conf",
                "--cluster-node-timeout", "2000", "--cluster-port", "\(busPort)",
            ]
        }
        let server = try ServerProcess(
            binary: binary, arguments: arguments + extra, port: port, busPort: busPort,
            logPath: "\(directory)/roostd.log")
        try await server.waitUntilReady()
        return server
    }

    /// Starts Debian's `redis-server` (standalone, or a cluster node), waiting until it answers PING.
    static func redis(cluster: Bool = false, extra: [String] = []) async throws -> ServerProcess {
        let binary = "/usr/bin/redis-server"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "redis-server is not installed")
        let port = freePort()
        let busPort = freePort()
        let directory = try temporaryDirectory()
        var arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
            "--daemonize", "no",
        ]
        if cluster {
            arguments += [
                "--cluster-enabled", "yes", "--cluster-config-file", "\(directory)/nodes.conf",
                "--cluster-node-timeout", "2000", "--cluster-port", "\(busPort)",
            ]
        }
        let server = try ServerProcess(
            binary: binary, arguments: arguments + extra, port: port, busPort: busPort,
            logPath: "\(directory)/redis.log")
        try await server.waitUntilReady()
        return server
    }

    /// Waits (at most 15 s) until `redis-cli PING` answers `PONG`.
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if (try? redisCLI(port: port, ["PING"]))?.hasPrefix("PONG") == true { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        Issue.record("server on port \(port) did not come up; log:\n\(log.suffix(2000))")
        stop()
        throw CancellationError()
    }

    /// SIGTERM (for `redis-server`, `SHUTDOWN NOSAVE` first: a child spawned from the test runner may start with
    /// SIGTERM blocked, and Redis does not unblock it), then SIGKILL after 5 s; waits for the process to exit.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGCONT)
        if binary.hasSuffix("redis-server") {
            _ = try? redisCLI(port: port, ["SHUTDOWN", "NOSAVE"], timeout: 5)
        }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Stops the process and deletes its directory (configuration and log).
    func stopAndRemove() {
        stop()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: logPath).deletingLastPathComponent().path)
    }

    /// Stops the process and starts it again with the same arguments (so the same port).
    func restart() async throws {
        stop()
        process = try Self.launch(binary, arguments, logPath: logPath)
        try await waitUntilReady()
    }

    /// SIGSTOP: the process keeps its sockets but answers nothing. Returns once the kernel reports it stopped
    /// (state `T` in /proc), at most 2 s: a signal is not acted on the instant it is sent, and a command sent
    /// in between would still be answered (a CI run failed that way).
    func pause() {
        kill(pid, SIGSTOP)
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let state = stat.split(separator: ")").last?.split(separator: " ").first, state == "T"
            {
                return
            }
            usleep(1_000)
        }
    }

    /// SIGCONT.
    func resume() { kill(pid, SIGCONT) }

    deinit { stopAndRemove() }
}

/// A port the kernel just handed out on 127.0.0.1 (bound, then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "roost-client-tests-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `redis-cli -p port args…` (killed after `timeout` seconds) and returns its standard output.
@discardableResult
func redisCLI(port: Int, _ arguments: [String], timeout: TimeInterval = 30) throws -> String {
    try run("/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", "\(port)"] + arguments, timeout: timeout)
}

/// Runs a program with a time bound and returns its standard output (and error, appended).
@discardableResult
func run(_ binary: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    var data = Data()
    let reader = output.fileHandleForReading
    while process.isRunning && Date() < deadline {
        usleep(5_000)
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw CommandFailure(description: "\(binary) \(arguments.joined(separator: " ")) timed out")
    }
    data.append(reader.readDataToEndOfFile())
    return String(decoding: data, as: UTF8.self)
}

/// A logger for clients under test: warnings only, so test output stays readable.
let testLogger: Logger = {
    var logger = Logger(label: "roost.client.tests")
    logger.logLevel = .warning
    return logger
}()
