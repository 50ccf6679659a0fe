import ArgumentParser
import RoostAdmin

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct RoostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roost",
        abstract: "Administer Roost servers.",
        subcommands: [ClusterCommand.self]
    )
}

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Create, check and inspect Roost clusters (like redis-cli --cluster).",
        subcommands: [Create.self, Check.self, Info.self, Failover.self, Demo.self]
    )
}

/// Parses a `HOST:PORT` argument.
func parseEndpoint(_ text: String) throws -> Endpoint {
    guard let endpoint = Endpoint(text) else { throw ValidationError("'\(text)' is not HOST:PORT") }
    return endpoint
}

/// Runs `body` and turns a failure into its message on standard error and exit status 1.
func runAdmin(_ body: () throws -> Bool) throws {
    do {
        guard try body() else { throw ExitCode.failure }
    } catch let error as ExitCode {
        throw error
    } catch {
        writeError("\(error)")
        throw ExitCode.failure
    }
}

func writeError(_ text: String) {
    var line = text
    line += "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Prints a line and flushes, so progress shows at once when the output is a pipe.
func printLine(_ text: String) {
    print(text)
    fflush(nil)
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a cluster of empty cluster-mode nodes, splitting the 16384 slots evenly among the primaries.",
        discussion: """
            With --replicas N the first nodes (taken one host at a time) become the primaries and the others their \
            replicas, N per primary, each on another host than its primary where possible; at least 3 x (N + 1) \
            nodes.
            """)

    @Argument(help: "The nodes, as HOST:PORT (at least 3, or 3 x (replicas + 1)).", transform: parseEndpoint)
    var nodes: [Endpoint]

    @Option(help: "Replicas per primary.")
    var replicas = 0

    @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
    var yes = false

    @Option(help: "Seconds to wait for the nodes to agree on the slot map and the replicas to link.")
    var timeout: Double = 30

    func run() throws {
        try runAdmin {
            try ClusterAdmin(output: printLine).create(nodes, replicas: replicas, convergenceTimeout: timeout) {
                question in
                if yes { return true }
                print(question, terminator: "")
                fflush(nil)
                return readLine()?.trimmingPrefix(" ") == "yes"
            }
        }
    }
}

struct Failover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a replica take over its primary's slots (CLUSTER FAILOVER) and wait until it is a primary.")

    @Argument(help: "The replica, as HOST:PORT.", transform: parseEndpoint)
    var replica: Endpoint

    @Flag var mode: FailoverMode?

    @Option(help: "Seconds to wait for the replica to become a primary.")
    var timeout: Double = 30

    func run() throws {
        try runAdmin {
            try ClusterAdmin(output: printLine).failover(replica, mode: mode?.adminMode ?? .default, timeout: timeout)
        }
    }
}

/// `--force` or `--takeover`.
enum FailoverMode: String, EnumerableFlag {
    case force
    case takeover

    var adminMode: ClusterAdmin.FailoverMode { self == .force ? .force : .takeover }

    static func help(for value: FailoverMode) -> ArgumentHelp? {
        switch value {
        case .force: "CLUSTER FAILOVER FORCE: do not wait for the primary (it may be down)."
        case .takeover: "CLUSTER FAILOVER TAKEOVER: take the slots without the other primaries' votes."
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every node agrees on the slot map, no slot is open and all slots are covered.")

    @Argument(help: "Any node of the cluster, as HOST:PORT.", transform: parseEndpoint)
    var node: Endpoint

    func run() throws {
        try runAdmin { try ClusterAdmin(output: printLine).check(node) }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each primary's address, ID, keys and slots.")

    @Argument(help: "Any node of the cluster, as HOST:PORT.", transform: parseEndpoint)
    var node: Endpoint

    func run() throws {
        try runAdmin { try ClusterAdmin(output: printLine).info(node) }
    }
}
