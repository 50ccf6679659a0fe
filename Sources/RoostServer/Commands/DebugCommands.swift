import NIOCore
import RoostCluster
import RoostProtocol

/// `DEBUG`, gated by `enable-debug-command` as in Redis. Roost's subcommands are fault injection for tests:
/// `DEBUG CLUSTER-PARTITION node-id [node-id ...]` drops all cluster bus traffic to and from those nodes, and
/// `DEBUG CLUSTER-PARTITION OFF` heals (the fault harness's fallback where network namespaces are not allowed).
enum DebugCommands {
    static var all: [Command] {
        [
            Command(
                "debug", arity: -2, flags: [.admin, .noScript, .loading, .stale], group: .server, since: "1.0.0",
                summary: "A container for debugging commands.", handler: debug)
        ]
    }

    static func debug(_ context: inout CommandContext) throws(CommandError) {
        let setting = context.server.currentConfiguration.enableDebugCommand
        let local =
            context.session.address.hasPrefix("127.") || context.session.address.hasPrefix("[::1]")
            || context.session.address.hasPrefix("::1")
        guard setting == "yes" || (setting == "local" && local) else {
            throw CommandError(
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run "
                    + "it from a local connection, otherwise you need to set this option in the configuration file, "
                    + "and then restart the server.")
        }
        if context.argument(1, is: "CLUSTER-PARTITION") {
            guard let cluster = context.server.cluster else { throw ClusterCommands.disabled }
            guard context.count >= 3 else { throw .wrongArity("debug|cluster-partition") }
            if context.count == 3 && context.argument(2, is: "OFF") {
                cluster.setPartition([])
            } else {
                var nodes = Set<NodeID>()
                for index in 2..<context.count {
                    guard let id = NodeID(context.string(index)) else {
                        throw CommandError("ERR Unknown node \(Dispatcher.sanitized(context.string(index), limit: 64))")
                    }
                    nodes.insert(id)
                }
                cluster.setPartition(nodes)
            }
            context.replyOK()
            return
        }
        throw CommandError(
            "ERR unknown subcommand '\(Dispatcher.sanitized(context.string(1), limit: 128))'. Try DEBUG HELP.")
    }
}
