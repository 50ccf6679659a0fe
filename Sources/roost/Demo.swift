import ArgumentParser
import Foundation
import RoostAdmin

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a local cluster of roostd processes and keep it running until Ctrl-C or SIGTERM.")

    @Option(help: "How many nodes to start; at least 3 x (replicas + 1).")
    var nodes = 3

    @Option(help: "Replicas per primary (default: 1 when --nodes is 6 or more, else 0).")
    var replicas: Int?

    @Option(help: "The first node's client port; the others follow it. Bus ports are client ports + 10000.")
    var basePort = 7000

    @Option(help: "Where the nodes keep nodes-<port>.conf and their logs (default: a new temporary directory).")
    var dir: String?

    @Option(help: "The roostd binary (default: the one next to this roost binary).")
    var roostd: String?

    /// Replicas per primary: as given, else 1 from six nodes up.
    var replicasPerPrimary: Int { replicas ?? (nodes >= 6 ? 1 : 0) }

    func validate() throws {
        guard nodes >= 3 else { throw ValidationError("--nodes must be at least 3") }
        guard replicasPerPrimary >= 0 else { throw ValidationError("--replicas must be 0 or more") }
        guard nodes >= ClusterPlan.minimumNodes(replicas: replicasPerPrimary) else {
            throw ValidationError(
                "--nodes \(nodes) is too few for --replicas \(replicasPerPrimary): at least "
                    + "\(ClusterPlan.minimumNodes(replicas: replicasPerPrimary)) nodes")
        }
        guard basePort > 0, basePort + nodes - 1 + 10000 <= 65535 else {
            throw ValidationError("--base-port leaves no room for the bus ports (client port + 10000)")
        }
    }

    func run() throws {
        let binary = roostd ?? Self.siblingExecutable("roostd")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            writeError("roost cluster demo: roostd not found at \(binary) (build it, or pass --roostd PATH)")
            throw ExitCode.failure
        }
        let directory: String
        let temporary = dir == nil
        if let dir {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            directory = dir
        } else {
            var template = Array((NSTemporaryDirectory() + "roost-demo-XXXXXX").utf8CString)
            guard mkdtemp(&template) != nil else {
                writeError("roost cluster demo: cannot create a temporary directory")
                throw ExitCode.failure
            }
            directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }

        // SIGINT and SIGTERM are taken with sigwait below; the nodes get their own process group and the default
        // dispositions, so a Ctrl-C reaches only this process, which then stops them.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        sigprocmask(SIG_BLOCK, &stopSignals, nil)

        var children: [(port: Int, pid: pid_t)] = []
        defer {
            Self.stop(children)
            if temporary { try? FileManager.default.removeItem(atPath: directory) }
        }
        let ports = (0..<nodes).map { basePort + $0 }
        for port in ports {
            let arguments = [
                binary, "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", "\(directory)/nodes-\(port).conf", "--cluster-node-timeout", "2000",
            ]
            let pid = try Self.spawn(arguments, log: "\(directory)/roostd-\(port).log")
            children.append((port, pid))
            printLine("Started roostd on port \(port) (pid \(pid), log \(directory)/roostd-\(port).log)")
        }
        for (port, pid) in children {
            try Self.waitUntilAnswering(port: port, pid: pid, log: "\(directory)/roostd-\(port).log")
        }

        let endpoints = ports.map { Endpoint(host: "127.0.0.1", port: $0) }
        try runAdmin {
            try ClusterAdmin(output: printLine).create(endpoints, replicas: replicasPerPrimary) { _ in true }
        }

        let primaries = nodes / (replicasPerPrimary + 1)
        printLine("")
        printLine(
            "A \(nodes)-node Roost cluster (\(primaries) primaries, \(nodes - primaries) replicas) is running on "
                + "127.0.0.1 ports \(ports.first!)-\(ports.last!).")
        printLine("  redis-cli -c -p \(basePort)                  # follows -MOVED redirections")
        printLine("  roost cluster check 127.0.0.1:\(basePort)")
        if primaries < nodes {
            printLine("  roost cluster failover 127.0.0.1:\(basePort + primaries)   # a replica takes over its primary")
        }
        printLine("Node files and logs: \(directory)\(temporary ? " (removed on exit)" : "")")
        printLine("Press Ctrl-C to stop the nodes.")

        while true {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 {
                var received: Int32 = 0
                sigwait(&stopSignals, &received)
                printLine("\nStopping \(children.count) nodes (signal \(received))")
                return
            }
            for (port, pid) in children {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    children.removeAll { $0.pid == pid }
                    writeError("roost cluster demo: the node on port \(port) (pid \(pid)) exited; stopping the others")
                    throw ExitCode.failure
                }
            }
            usleep(200_000)
        }
    }

    /// The path of `name` in the directory of the running executable.
    static func siblingExecutable(_ name: String) -> String {
        let me = Bundle.main.executablePath ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    /// Starts `arguments` in a process group of its own, with output appended to `log` and signals unblocked.
    static func spawn(_ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard status == 0 else {
            writeError("roost cluster demo: cannot start \(arguments[0]): \(String(cString: strerror(status)))")
            throw ExitCode.failure
        }
        return pid
    }

    /// Waits (at most 20 s) until the node on `port` answers PING; fails if it exits first.
    static func waitUntilAnswering(port: Int, pid: pid_t, log: String) throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while ContinuousClock.now < deadline {
            if let client = try? RESPClient(host: "127.0.0.1", port: port, timeout: 1),
                (try? client.text("PING")) == "PONG"
            {
                return
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
                writeError("roost cluster demo: roostd on port \(port) exited at start-up; its log:\n\(tail)")
                throw ExitCode.failure
            }
            usleep(50_000)
        }
        writeError("roost cluster demo: roostd on port \(port) did not answer PING within 20 s (log: \(log))")
        throw ExitCode.failure
    }

    /// Stops the nodes: SIGTERM, then SIGKILL for any still running after 10 s.
    static func stop(_ children: [(port: Int, pid: pid_t)]) {
        for child in children { kill(child.pid, SIGTERM) }
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        var running = children.map(\.pid)
        while !running.isEmpty {
            running.removeAll { pid in
                var status: Int32 = 0
                return waitpid(pid, &status, WNOHANG) != 0
            }
            if running.isEmpty { break }
            if ContinuousClock.now >= deadline {
                for pid in running {
                    kill(pid, SIGKILL)
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                }
                break
            }
            usleep(50_000)
        }
        if !children.isEmpty { printLine("Stopped \(children.count) nodes.") }
    }
}
