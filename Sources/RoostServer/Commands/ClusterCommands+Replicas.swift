import NIOCore
import RoostCluster
import RoostCore
import RoostProtocol

/// `CLUSTER REPLICATE`, `REPLICAS`/`SLAVES` and `FAILOVER`: replicas and handing a primary's slots to one.
extension ClusterCommands {
    static var replicaSubcommands:
        [(
            String, Int, Command.Flags, String, String,
            @Sendable (inout CommandContext, ClusterController) throws(CommandError) -> Void
        )]
    {
        let admin: Command.Flags = [.admin, .noScript, .stale]
        let info: Command.Flags = [.loading, .stale]
        return [
            ("replicate", 3, admin, "Configure a node as replica of a master node.", "O(1)", replicate),
            ("replicas", 3, admin.union(info), "Lists the replica nodes of a master node.", "O(N)", replicas),
            ("slaves", 3, admin.union(info), "Lists the replica nodes of a master node.", "O(N)", replicas),
            ("failover", -2, admin, "Forces a replica to perform a manual failover of its master.", "O(1)", failover),
        ]
    }

    /// `CLUSTER REPLICATE node-id`: this node becomes a replica of that primary (it must hold no slots and, as a
    /// primary, no keys) and synchronises from it.
    static func replicate(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let text = context.string(2)
        let hasKeys = context.server.keyspace.withLock { $0.count } > 0
        try cluster.update { (gossip, now, out) throws(CommandError) in
            guard let id = NodeID(text), gossip.topology[id] != nil else {
                throw CommandError("ERR Unknown node \(text)")
            }
            let me = gossip.topology.myselfNode
            if hasKeys && !me.flags.contains(.replica) && id != gossip.myself
                && !(gossip.topology[id]?.flags.contains(.replica) ?? false)
            {
                throw CommandError("ERR To set a master the node must be empty and without assigned slots.")
            }
            do throws(Gossip.FailoverCommandError) {
                out += try gossip.replicate(id, now: now)
            } catch {
                throw CommandError("ERR " + Self.withoutErrPrefix(error.message))
            }
        }
        context.replyOK()
    }

    /// `CLUSTER REPLICAS node-id`: the `CLUSTER NODES` lines of that primary's replicas.
    static func replicas(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let text = context.string(2)
        let found = cluster.read { gossip -> Result<[String], CommandError> in
            guard let id = NodeID(text), let node = gossip.topology[id] else {
                return .failure(CommandError("ERR Unknown node \(text)"))
            }
            guard node.isPrimary else { return .failure(CommandError("ERR The specified node is not a master")) }
            return .success(
                gossip.topology.nodesDescription.split(separator: "\n").map(String.init).filter { line in
                    let fields = line.split(separator: " ")
                    return fields.count > 3 && fields[3] == text
                })
        }
        let lines = try found.get()
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPBulkString(line) }
    }

    /// `CLUSTER FAILOVER [FORCE|TAKEOVER]`, sent to a replica.
    static func failover(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.count <= 3 else { throw .syntax }
        var mode = ManualFailoverMode.default
        if context.count == 3 {
            if context.argument(2, is: "FORCE") {
                mode = .force
            } else if context.argument(2, is: "TAKEOVER") {
                mode = .takeover
            } else {
                throw .syntax
            }
        }
        try cluster.update { (gossip, now, out) throws(CommandError) in
            do throws(Gossip.FailoverCommandError) {
                out += try gossip.startManualFailover(mode, now: now)
            } catch {
                throw CommandError("ERR " + Self.withoutErrPrefix(error.message))
            }
        }
        context.replyOK()
    }

    private static func withoutErrPrefix(_ message: String) -> String {
        message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message
    }
}
