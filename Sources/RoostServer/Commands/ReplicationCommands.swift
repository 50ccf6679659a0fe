import NIOCore
import RoostCore
import RoostProtocol

/// Replication commands: `REPLICAOF`/`SLAVEOF`, `ROLE`, `WAIT`, and the replication protocol's `PSYNC` and
/// `REPLCONF` (see ``Replication``).
enum ReplicationCommands {
    private static let admin: Command.Flags = [.admin, .noScript, .stale]

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "replicaof", arity: 3, flags: admin, group: .server, since: "5.0.0",
                summary: "Configures a server as replica of another, or promotes it to a master.",
                handler: replicaOf),
            Command(
                "slaveof", arity: 3, flags: admin, group: .server, since: "1.0.0",
                summary: "Sets a Redis server as a replica of another, or promotes it to being a master.",
                handler: replicaOf),
            Command(
                "role", arity: 1, flags: [.noScript, .loading, .stale, .fast], group: .server, since: "2.8.12",
                summary: "Returns the replication role.", handler: role),
            Command(
                "wait", arity: 3, flags: [.noScript], group: .generic, since: "3.0.0",
                summary: "Blocks until the asynchronous replication of all preceding write commands sent by the "
                    + "connection is completed.",
                handler: wait),
            Command(
                "psync", arity: -3, flags: [.admin, .noScript, .noMulti], group: .server, since: "2.8.0",
                summary: "An internal command used in replication.", handler: psync),
            Command(
                "itemset", arity: -5, flags: [.write, .noScript], keys: .init(first: 1, last: 1, step: 1),
                group: .server, since: "roost",
                summary: "Internal: a memcached item (value, client flags, absolute expiry in ms or 0, lease marks "
                    + "STALE and PLACEHOLDER) in the replication stream; refused from clients.",
                handler: itemSet),
            Command(
                "replconf", arity: -1, flags: [.admin, .noScript, .loading, .stale, .allowBusy], group: .server,
                since: "3.0.0", summary: "An internal command for configuring the replication stream.",
                handler: replconf),
        ]
    }

    /// `REPLICAOF host port` / `REPLICAOF NO ONE` (standalone only: a cluster uses `CLUSTER REPLICATE`).
    static func replicaOf(_ context: inout CommandContext) throws(CommandError) {
        if context.server.cluster != nil { throw CommandError("ERR REPLICAOF not allowed in cluster mode.") }
        let replication = context.server.replication
        if context.argument(1, is: "NO") && context.argument(2, is: "ONE") {
            replication.becomePrimary(context.server)
            context.replyOK()
            return
        }
        guard let port = Int(context.string(2)), (0...65535).contains(port) else {
            throw CommandError("ERR Invalid master port")
        }
        let host = context.string(1)
        if case .replica(host: host, port: port) = replication.state.withLock({ $0.role }) {
            context.out.writeRESPSimpleString("OK Already connected to specified master")
            return
        }
        replication.becomeReplica(
            of: host, port: port, server: context.server, on: context.session.channel.eventLoop)
        context.replyOK()
    }

    /// `ROLE`: `master offset [[ip port offset] ...]`, or `slave host port state offset`.
    static func role(_ context: inout CommandContext) throws(CommandError) {
        let state = context.server.replication.state.withLock { $0 }
        switch state.role {
        case .primary:
            context.out.writeRESPArrayHeader(3)
            context.out.writeRESPBulkString("master")
            context.out.writeRESPInteger(Int(state.offset))
            let feeds = state.feeds.values.filter(\.online).sorted { $0.address < $1.address }
            context.out.writeRESPArrayHeader(feeds.count)
            for feed in feeds {
                context.out.writeRESPArrayHeader(3)
                context.out.writeRESPBulkString(feed.ip)
                context.out.writeRESPBulkString(String(feed.listeningPort))
                context.out.writeRESPBulkString(String(feed.ackOffset))
            }
        case .replica(let host, let port):
            context.out.writeRESPArrayHeader(5)
            context.out.writeRESPBulkString("slave")
            context.out.writeRESPBulkString(host)
            context.out.writeRESPInteger(port)
            context.out.writeRESPBulkString(state.linkState.rawValue)
            context.out.writeRESPInteger(state.linkState == .connected ? Int(state.offset) : -1)
        }
    }

    /// `WAIT numreplicas timeout`: blocks the connection until that many replicas acknowledged every write this
    /// server had propagated when `WAIT` ran, or the timeout (milliseconds, 0 for none) passed; replies with the
    /// number that did.
    static func wait(_ context: inout CommandContext) throws(CommandError) {
        let replicas = try context.integer(1)
        guard let timeout = try? context.integer(2) else {
            throw CommandError("ERR timeout is not an integer or out of range")
        }
        guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
        if context.server.replication.isReplica.load(ordering: .relaxed) {
            throw CommandError(
                "ERR WAIT cannot be used with replica instances. Please also note that since Redis "
                    + "4.0 if a replica is configured to be writable (which is not the default) writes to replicas "
                    + "are just local and are not propagated.")
        }
        let outcome = context.server.replication.wait(
            context.server, replicas: Int(clamping: max(replicas, 0)), timeout: timeout,
            on: context.session.channel.eventLoop)
        switch outcome {
        case .now(let count): context.replyInteger(count)
        case .later(let future): context.blocked = future
        }
    }

    /// `PSYNC replicationid offset`: a replica asks for the stream from `offset` of history `replicationid` (`?` and
    /// -1 for a first synchronisation). Answers `+CONTINUE id` and the missing bytes from the backlog, or
    /// `+FULLRESYNC id offset` and a snapshot.
    static func psync(_ context: inout CommandContext) throws(CommandError) {
        let replication = context.server.replication
        if replication.isReplica.load(ordering: .relaxed) {
            throw CommandError("ERR Roost replicas do not serve replicas of their own (no chained replication)")
        }
        guard let offset = Int64(context.string(2)) else { throw .notInteger }
        let server = context.server
        let session = context.session
        let decision = replication.attach(
            server, clientID: session.id, channel: session.channel, address: session.address,
            listeningPort: context.replicaListeningPort, requestedID: context.string(1), requestedOffset: offset)
        context.isReplicationFeed = true
        session.visible.withLock { $0.kind = "replica" }
        switch decision {
        case .partial(let id):
            context.out.writeRESPSimpleString("CONTINUE \(id)")
        case .full(let id, let start):
            context.out.writeRESPSimpleString("FULLRESYNC \(id) \(start)")
            let channel = session.channel
            // Queued behind this batch's replies, so the snapshot follows `+FULLRESYNC` on the wire.
            channel.eventLoop.execute { replication.streamSnapshot(server, to: session.id, channel: channel) }
        }
        server.logger.notice(
            "Replica \(session.address) asked for synchronisation",
            metadata: ["psync": "\(context.string(1)) \(offset)", "decision": "\(decision)"])
    }

    /// `ITEMSET key value flags expireAt [STALE] [PLACEHOLDER]`: how the replication stream carries a memcached
    /// item (its client flags and lease marks included; see ``ItemLease``). Only the link to the primary may send
    /// it; to anyone else it is an unknown command.
    static func itemSet(_ context: inout CommandContext) throws(CommandError) {
        guard context.fromPrimary else { throw Dispatcher.unknownCommandError(context) }
        guard let flags = UInt32(context.string(3)), let expireAt = Int64(context.string(4)) else { throw .syntax }
        var (isStale, isPlaceholder) = (false, false)
        for index in 5..<max(5, context.count) {
            if context.argument(index, is: "STALE") {
                isStale = true
            } else if context.argument(index, is: "PLACEHOLDER") {
                isPlaceholder = true
            } else {
                throw .syntax
            }
        }
        let now = context.now
        context.withArgument(1) { key in
            context.withArgument(2) { value in
                context.server.keyspace.withLock { keyspace in
                    _ = keyspace.storeItem(
                        key, value: value, expireAt: expireAt == 0 ? Entry.noExpiry : expireAt, clientFlags: flags,
                        now: now, isStale: isStale, isPlaceholder: isPlaceholder)
                }
            }
        }
        context.replyOK()
    }

    /// `REPLCONF option value ...`: `listening-port`, `ip-address`, `capa` are recorded or accepted; `ACK offset`
    /// from an attached replica records its acknowledgement and is not answered.
    static func replconf(_ context: inout CommandContext) throws(CommandError) {
        guard context.count % 2 == 1 else { throw .syntax }
        var index = 1
        while index < context.count {
            if context.argument(index, is: "LISTENING-PORT") {
                guard let port = Int(context.string(index + 1)), (0...65535).contains(port) else {
                    throw .notInteger
                }
                context.replicaListeningPort = port
            } else if context.argument(index, is: "ACK") {
                guard let offset = Int64(context.string(index + 1)) else { return }
                context.server.replication.acknowledge(
                    clientID: context.session.id, offset: offset, now: context.server.clock())
                return
            } else if context.argument(index, is: "GETACK") {
                return
            } else if !context.argument(index, is: "CAPA") && !context.argument(index, is: "IP-ADDRESS") {
                throw CommandError(
                    "ERR Unrecognized REPLCONF option: \(Dispatcher.sanitized(context.string(index), limit: 64))")
            }
            index += 2
        }
        context.replyOK()
    }
}

extension Replication.Feed {
    /// The replica's IP as its connection shows it (`ip:port` without the port).
    var ip: String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }
}
