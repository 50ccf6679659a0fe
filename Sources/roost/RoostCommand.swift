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
        subcommands: [Create.self, Check.self, Info.self, Demo.self]
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
        abstract: "Make a cluster of empty cluster-mode nodes, splitting the 16384 slots evenly among them.")

    @Argument(help: "The nodes, as HOST:PORT (at least 3).", transform: parseEndpoint)
    var nodes: [Endpoint]

    @Option(help: "Replicas per primary (replicas are not supported yet: issue 6).")
    var replicas = 0

    @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
    var yes = false

    @Option(help: "Seconds to wait for the nodes to agree on the slot map.")
    var timeout: Double = 30

    func run() throws {
        guard replicas == 0 else {
            writeError(
                "roost cluster create: --replicas \(replicas): replicas come with issue 6 and are not supported yet")
            throw ExitCode.failure
        }
        try runAdmin {
            try ClusterAdmin(output: printLine).create(nodes, convergenceTimeout: timeout) { question in
                if yes { return true }
                print(question, terminator: "")
                fflush(nil)
                return readLine()?.trimmingPrefix(" ") == "yes"
            }
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
