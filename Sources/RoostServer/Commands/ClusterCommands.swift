import NIOCore
import RoostCluster
import RoostCore
import RoostProtocol

/// `CLUSTER` and its subcommands, and `ASKING`, `READONLY`, `READWRITE`, with Redis 7.0's replies and errors.
/// Without `cluster-enabled yes` each answers `-ERR This instance has cluster support disabled`, as Redis does.
enum ClusterCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "cluster", arity: -2, group: .server, since: "3.0.0",
                summary: "A container for Redis Cluster commands.", complexity: "Depends on subcommand.",
                subcommands: (subcommands + replicaSubcommands).map {
                    name, arity, flags, summary, complexity, handler in
                    Command(
                        name, parent: "cluster", arity: arity, flags: flags, group: .server, since: "3.0.0",
                        summary: summary, complexity: complexity, handler: enabled(handler))
                }),
            Command(
                "asking", arity: 1, flags: [.fast, .asking], group: .server, since: "3.0.0",
                summary: "Signals that a cluster client is following an -ASK redirect.",
                handler: enabled { context throws(CommandError) in
                    context.asking = true
                    context.replyOK()
                }),
            Command(
                "readonly", arity: 1, flags: [.loading, .stale, .fast], group: .server, since: "3.0.0",
                summary: "Enables read-only queries for a connection to a Redis Cluster replica node.",
                handler: enabled { context throws(CommandError) in
                    context.readOnly = true
                    context.replyOK()
                }),
            Command(
                "readwrite", arity: 1, flags: [.loading, .stale, .fast], group: .server, since: "3.0.0",
                summary: "Enables read-write queries for a connection to a Reids Cluster replica node.",
                handler: enabled { context throws(CommandError) in
                    context.readOnly = false
                    context.replyOK()
                }),
        ]
    }

    private static let admin: Command.Flags = [.admin, .noScript, .stale]
    private static let info: Command.Flags = [.loading, .stale]

    private static var subcommands:
        [(
            String, Int, Command.Flags, String, String,
            @Sendable (inout CommandContext, ClusterController) throws(CommandError) -> Void
        )]
    {
        [
            (
                "addslots", -3, admin, "Assigns new hash slots to a node.", "O(N) where N is the number of slots",
                addSlots
            ),
            (
                "addslotsrange", -4, admin, "Assigns new hash slot ranges to a node.",
                "O(N) where N is the number of slots", addSlotsRange
            ),
            ("bumpepoch", 2, admin, "Advances the cluster config epoch.", "O(1)", bumpEpoch),
            (
                "count-failure-reports", 3, admin, "Returns the number of active failure reports active for a node.",
                "O(N) where N is the number of failure reports", countFailureReports
            ),
            (
                "countkeysinslot", 3, info, "Returns the number of keys in a hash slot.",
                "O(N) where N is the number of keys in the keyspace (Roost scans it)", countKeysInSlot
            ),
            ("delslots", -3, admin, "Sets hash slots as unbound for a node.", "O(N)", deleteSlots),
            ("delslotsrange", -4, admin, "Sets hash slot ranges as unbound for a node.", "O(N)", deleteSlotsRange),
            ("flushslots", 2, admin, "Deletes all slots information from a node.", "O(1)", flushSlots),
            ("forget", 3, admin, "Removes a node from the nodes table.", "O(1)", forget),
            (
                "getkeysinslot", 4, info, "Returns the key names in a hash slot.",
                "O(N) where N is the number of keys in the keyspace (Roost scans it)", getKeysInSlot
            ),
            ("help", 2, info, "Returns helpful text about the different subcommands.", "O(1)", help),
            ("info", 2, info, "Returns information about the state of a node.", "O(1)", clusterInfo),
            (
                "keyslot", 3, info, "Returns the hash slot for a key.", "O(N) where N is the number of bytes",
                keySlotCommand
            ),
            ("links", 2, info, "Returns a list of all TCP links to and from peer nodes.", "O(N)", links),
            ("meet", -4, admin, "Forces a node to handshake with another node.", "O(1)", meet),
            ("myid", 2, info, "Returns the ID of a node.", "O(1)", myID),
            ("nodes", 2, info, "Returns the cluster configuration for a node.", "O(N)", nodes),
            ("reset", -2, admin, "Resets a node.", "O(N)", reset),
            ("set-config-epoch", 3, admin, "Sets the configuration epoch for a new node.", "O(1)", setConfigEpoch),
            ("setslot", -4, admin, "Binds a hash slot to a node.", "O(1)", setSlot),
            ("shards", 2, info, "Returns the mapping of cluster slots to shards.", "O(N)", shards),
            ("slots", 2, info, "Returns the mapping of cluster slots to nodes.", "O(N)", slots),
        ]
    }

    static let disabled = CommandError("ERR This instance has cluster support disabled")

    /// Wraps a handler that needs cluster mode.
    private static func enabled(
        _ handler: @escaping @Sendable (inout CommandContext, ClusterController) throws(CommandError) -> Void
    ) -> Command.Handler {
        { context throws(CommandError) in
            guard let cluster = context.server.cluster else { throw disabled }
            try handler(&context, cluster)
        }
    }

    private static func enabled(
        _ handler: @escaping @Sendable (inout CommandContext) throws(CommandError) -> Void
    ) -> Command.Handler {
        { context throws(CommandError) in
            guard context.server.cluster != nil else { throw disabled }
            try handler(&context)
        }
    }

    // MARK: Arguments

    /// A slot number argument (Redis's `getSlotOrReply`).
    static func slot(_ context: CommandContext, _ index: Int) throws(CommandError) -> Int {
        guard let value = try? context.integer(index), value >= 0, value < Int64(clusterSlotCount) else {
            throw CommandError("ERR Invalid or out of range slot")
        }
        return Int(value)
    }

    static func node(_ context: CommandContext, _ index: Int, in gossip: Gossip.Instance) throws(CommandError)
        -> NodeID
    {
        let text = context.string(index)
        guard let id = NodeID(text), gossip.topology[id] != nil else {
            throw CommandError("ERR Unknown node \(text)")
        }
        return id
    }

    // MARK: Slots

    static func addSlots(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        var slots: [Int] = []
        for index in 2..<context.count { slots.append(try slot(context, index)) }
        try assign(slots, cluster)
        context.replyOK()
    }

    static func addSlotsRange(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.count % 2 == 0 else { throw .wrongArity("cluster|addslotsrange") }
        try assign(try ranges(context), cluster)
        context.replyOK()
    }

    static func deleteSlots(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        var slots: [Int] = []
        for index in 2..<context.count { slots.append(try slot(context, index)) }
        try unassign(slots, cluster)
        context.replyOK()
    }

    static func deleteSlotsRange(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.count % 2 == 0 else { throw .wrongArity("cluster|delslotsrange") }
        try unassign(try ranges(context), cluster)
        context.replyOK()
    }

    private static func ranges(_ context: CommandContext) throws(CommandError) -> [Int] {
        var slots: [Int] = []
        var index = 2
        while index + 1 < context.count {
            let start = try slot(context, index)
            let end = try slot(context, index + 1)
            guard start <= end else {
                throw CommandError("ERR start slot number \(start) is greater than end slot number \(end)")
            }
            slots += Array(start...end)
            index += 2
        }
        return slots
    }

    private static func assign(_ slots: [Int], _ cluster: ClusterController) throws(CommandError) {
        try cluster.update { (gossip, _, _) throws(CommandError) in
            var seen = SlotSet()
            for slot in slots {
                if gossip.topology.slots.owner(of: slot) != nil {
                    throw CommandError("ERR Slot \(slot) is already busy")
                }
                if seen.contains(slot) { throw CommandError("ERR Slot \(slot) specified multiple times") }
                seen.insert(slot)
            }
            gossip.administer { topology in
                for slot in slots { topology.slots.setImporting(slot, from: nil) }
                topology.slots.assign(seen, to: topology.myself)
            }
        }
    }

    private static func unassign(_ slots: [Int], _ cluster: ClusterController) throws(CommandError) {
        try cluster.update { (gossip, _, _) throws(CommandError) in
            var seen = SlotSet()
            for slot in slots {
                if gossip.topology.slots.owner(of: slot) == nil {
                    throw CommandError("ERR Slot \(slot) is already unassigned")
                }
                if seen.contains(slot) { throw CommandError("ERR Slot \(slot) specified multiple times") }
                seen.insert(slot)
            }
            gossip.administer { topology in
                for slot in slots {
                    topology.slots.setImporting(slot, from: nil)
                    topology.slots.setMigrating(slot, to: nil)
                }
                topology.slots.assign(seen, to: nil)
            }
        }
    }

    static func flushSlots(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.server.keyspace.withLock({ $0.count }) == 0 else {
            throw CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
        }
        cluster.update { gossip, _, _ in
            gossip.administer { $0.slots.removeOwner($0.myself) }
        }
        context.replyOK()
    }

    /// `CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE node-id` and `CLUSTER SETSLOT slot STABLE`.
    static func setSlot(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let slot = try slot(context, 2)
        let invalid = CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
        let action = context.string(3).lowercased()
        if action == "stable" {
            guard context.count == 4 else { throw invalid }
            cluster.update { gossip, _, _ in
                gossip.administer {
                    $0.slots.setMigrating(slot, to: nil)
                    $0.slots.setImporting(slot, from: nil)
                }
            }
            context.replyOK()
            return
        }
        guard context.count == 5, ["importing", "migrating", "node"].contains(action) else { throw invalid }
        let text = context.string(4)
        let server = context.server
        let now = context.now
        try cluster.update { (gossip, _, _) throws(CommandError) in
            guard let id = NodeID(text), gossip.topology[id] != nil else {
                throw CommandError("ERR I don't know about node \(text)")
            }
            let myself = gossip.myself
            let owner = gossip.topology.slots.owner(of: slot)
            switch action {
            case "migrating":
                guard owner == myself else { throw CommandError("ERR I'm not the owner of hash slot \(slot)") }
                guard id != myself else { throw CommandError("ERR I'm the owner of hash slot \(slot)") }
                gossip.administer { $0.slots.setMigrating(slot, to: id) }
            case "importing":
                guard owner != myself else { throw CommandError("ERR I'm already the owner of hash slot \(slot)") }
                gossip.administer { $0.slots.setImporting(slot, from: id) }
            default:
                if owner == myself && id != myself {
                    let keys = server.keyspace.withLock { keyspace in
                        var count = 0
                        keyspace.forEach(now: now) { key, _ in if keySlot(key) == slot { count += 1 } }
                        return count
                    }
                    if keys > 0 {
                        throw CommandError(
                            "ERR Can't assign hashslot \(slot) to a different node while I still hold keys for this hash slot."
                        )
                    }
                }
                gossip.administer { topology in
                    topology.slots.setMigrating(slot, to: nil)
                    let wasImporting = topology.slots.importing[slot] != nil
                    topology.slots.setImporting(slot, from: nil)
                    topology.slots.assign(slot, to: id)
                    // Finishing an import: a new config epoch makes this node's claim win everywhere.
                    if id == myself && wasImporting && owner != myself { topology.bumpConfigEpoch() }
                }
            }
        }
        context.replyOK()
    }

    // MARK: Keys

    static func keySlotCommand(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        context.replyInteger(context.withArgument(2) { keySlot($0) })
    }

    static func countKeysInSlot(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let slot = try slot(context, 2)
        let now = context.now
        let count = context.server.keyspace.withLock { keyspace in
            var count = 0
            keyspace.forEach(now: now) { key, _ in if keySlot(key) == slot { count += 1 } }
            return count
        }
        context.replyInteger(count)
    }

    static func getKeysInSlot(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let slot = try slot(context, 2)
        guard let limit = try? context.integer(3), limit >= 0 else {
            throw CommandError("ERR Invalid number of keys")
        }
        let now = context.now
        let keys = context.server.keyspace.withLock { keyspace in
            var keys: [[UInt8]] = []
            keyspace.forEach(now: now) { key, _ in
                if keys.count < limit && keySlot(key) == slot { keys.append(key) }
            }
            return keys
        }
        context.out.writeRESPArrayHeader(keys.count)
        for key in keys { context.out.writeRESPBulkString(key) }
    }

    // MARK: Nodes and epochs

    static func myID(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        context.out.writeRESPBulkString(cluster.read { $0.myself.description })
    }

    static func nodes(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let text = cluster.read { $0.topology.nodesDescription }
        context.out.writeRESPVerbatimString(format: "txt", text, context.respVersion)
    }

    static func slots(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        write(cluster.read { $0.topology.slotsReply() }, &context)
    }

    static func shards(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        write(cluster.read { $0.topology.shardsReply() }, &context)
    }

    static func write(_ value: ClusterReplyValue, _ context: inout CommandContext) {
        switch value {
        case .integer(let number): context.out.writeRESPInteger(number)
        case .bulkString(let text): context.out.writeRESPBulkString(text)
        case .array(let elements):
            context.out.writeRESPArrayHeader(elements.count)
            for element in elements { write(element, &context) }
        case .map(let fields):
            context.out.writeRESPMapHeader(fields.count, context.respVersion)
            for field in fields {
                context.out.writeRESPBulkString(field.key)
                write(field.value, &context)
            }
        }
    }

    static func clusterInfo(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let routing = cluster.routing
        let (sent, received) = cluster.messageCounts
        let text = cluster.read { gossip -> String in
            let topology = gossip.topology
            var possiblyFailed = 0
            var failed = 0
            for (owner, count) in topology.slots.slotCounts {
                guard let node = topology[owner] else { continue }
                if node.isFailed {
                    failed += count
                } else if node.flags.contains(.possiblyFailed) {
                    possiblyFailed += count
                }
            }
            let assigned = topology.slots.assignedCount
            let lines = [
                "cluster_state:\(routing.isOK ? "ok" : "fail")",
                "cluster_slots_assigned:\(assigned)",
                "cluster_slots_ok:\(assigned - possiblyFailed - failed)",
                "cluster_slots_pfail:\(possiblyFailed)",
                "cluster_slots_fail:\(failed)",
                "cluster_known_nodes:\(topology.nodes.count)",
                "cluster_size:\(topology.slotOwningPrimaries.count)",
                "cluster_current_epoch:\(topology.currentEpoch)",
                "cluster_my_epoch:\(topology.myselfNode.configEpoch)",
                "cluster_stats_messages_sent:\(sent)",
                "cluster_stats_messages_received:\(received)",
                "total_cluster_links_buffer_limit_exceeded:0",
            ]
            return lines.joined(separator: "\r\n") + "\r\n"
        }
        context.out.writeRESPVerbatimString(format: "txt", text, context.respVersion)
    }

    static func meet(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.count <= 5 else { throw .syntax }
        let host = context.string(2)
        guard let port = try? context.integer(3), (0...65535).contains(port) else {
            throw CommandError("ERR Invalid base port specified: \(context.string(3))")
        }
        var busPort = Int(port) + 10000
        if context.count == 5 {
            guard let value = try? context.integer(4), (0...65535).contains(value) else {
                throw CommandError("ERR Invalid bus port specified: \(context.string(4))")
            }
            busPort = Int(value)
        }
        guard (try? SocketAddress(ipAddress: host, port: busPort)) != nil, busPort <= 65535 else {
            throw CommandError("ERR Invalid node address specified: \(host):\(port)")
        }
        let hello = cluster.update { gossip, now, _ in gossip.introduction(now: now) }
        cluster.send(hello, toHost: host, port: busPort)
        context.replyOK()
    }

    static func forget(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let text = context.string(2)
        try cluster.update { (gossip, now, _) throws(CommandError) in
            guard let id = NodeID(text), gossip.topology[id] != nil else {
                throw CommandError("ERR Unknown node \(text)")
            }
            guard id != gossip.myself else { throw CommandError("ERR I tried hard but I can't forget myself...") }
            gossip.forget(id, now: now)
        }
        context.replyOK()
    }

    static func reset(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard context.count <= 3 else { throw .syntax }
        var hard = false
        if context.count == 3 {
            if context.argument(2, is: "HARD") {
                hard = true
            } else if !context.argument(2, is: "SOFT") {
                throw .syntax
            }
        }
        guard context.server.keyspace.withLock({ $0.count }) == 0 else {
            throw CommandError("ERR CLUSTER RESET can't be called with master nodes containing keys")
        }
        cluster.reset(hard: hard)
        context.replyOK()
    }

    static func setConfigEpoch(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        guard let epoch = try? context.integer(2), epoch >= 0 else {
            throw CommandError("ERR Invalid config epoch specified: \(context.string(2))")
        }
        try cluster.update { (gossip, _, _) throws(CommandError) in
            do throws(ClusterTopology.ConfigEpochError) {
                try gossip.administer { (topology) throws(ClusterTopology.ConfigEpochError) in
                    try topology.setConfigEpoch(UInt64(epoch))
                }
            } catch {
                throw CommandError("ERR " + error.message)
            }
        }
        context.replyOK()
    }

    static func bumpEpoch(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let (bumped, epoch) = cluster.update { gossip, _, _ in gossip.administer { $0.bumpConfigEpoch() } }
        context.out.writeRESPSimpleString("\(bumped ? "BUMPED" : "STILL") \(epoch)")
    }

    static func countFailureReports(_ context: inout CommandContext, _ cluster: ClusterController)
        throws(CommandError)
    {
        let text = context.string(2)
        let count = try cluster.update { (gossip, now, _) throws(CommandError) -> Int in
            guard let id = NodeID(text), gossip.topology[id] != nil else {
                throw CommandError("ERR Unknown node \(text)")
            }
            return gossip.failureReports(about: id, now: now).count
        }
        context.replyInteger(count)
    }

    static func links(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let links = cluster.linkDescriptions
        context.out.writeRESPArrayHeader(links.count)
        for link in links {
            context.out.writeRESPMapHeader(6, context.respVersion)
            context.out.writeRESPBulkString("direction")
            context.out.writeRESPBulkString(link.direction)
            context.out.writeRESPBulkString("node")
            context.out.writeRESPBulkString(link.peer)
            context.out.writeRESPBulkString("create-time")
            context.out.writeRESPInteger(Int(link.since))
            context.out.writeRESPBulkString("events")
            context.out.writeRESPBulkString(link.direction == "to" ? "w" : "r")
            context.out.writeRESPBulkString("send-buffer-allocated")
            context.out.writeRESPInteger(0)
            context.out.writeRESPBulkString("send-buffer-used")
            context.out.writeRESPInteger(0)
        }
    }

    static func help(_ context: inout CommandContext, _ cluster: ClusterController) throws(CommandError) {
        let lines = [
            "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ADDSLOTS <slot> [<slot> ...]", "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "BUMPEPOCH", "COUNT-FAILURE-REPORTS <node-id>", "COUNTKEYSINSLOT <slot>", "DELSLOTS <slot> [<slot> ...]",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]", "FLUSHSLOTS", "FORGET <node-id>",
            "GETKEYSINSLOT <slot> <count>", "INFO", "KEYSLOT <key>", "LINKS", "MEET <ip> <port> [<bus-port>]", "MYID",
            "NODES", "RESET [HARD|SOFT]", "SET-CONFIG-EPOCH <epoch>",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)", "SHARDS", "SLOTS",
            "HELP",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
