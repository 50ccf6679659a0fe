import NIOCore
import RoostProtocol

/// `CLIENT` subcommands: `ID`, `SETNAME`, `GETNAME`, `LIST`, `INFO`, `KILL`, `HELP`, and the tracking family
/// (`TRACKING`, `CACHING`, `TRACKINGINFO`, `GETREDIR`, in ClientCommands+Tracking.swift).
enum ClientCommands {
    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "client", arity: -2, group: .connection, since: "2.4.0",
                summary: "A container for client connection commands.", complexity: "Depends on subcommand.",
                subcommands: [
                    Command(
                        "id", parent: "client", arity: 2, flags: [.noScript, .loading, .stale], group: .connection,
                        since: "5.0.0", summary: "Returns the unique client ID of the connection.",
                        handler: { context throws(CommandError) in context.replyInteger(Int(context.session.id)) }),
                    Command(
                        "setname", parent: "client", arity: 3, flags: [.noScript, .loading, .stale], group: .connection,
                        since: "2.6.9", summary: "Sets the connection name.", handler: setname),
                    Command(
                        "getname", parent: "client", arity: 2, flags: [.noScript, .loading, .stale], group: .connection,
                        since: "2.6.9", summary: "Returns the name of the connection.", handler: getname),
                    Command(
                        "list", parent: "client", arity: -2, flags: [.admin, .noScript, .loading, .stale],
                        group: .connection, since: "2.4.0", summary: "Lists open connections.",
                        complexity: "O(N) where N is the number of client connections", handler: list),
                    Command(
                        "info", parent: "client", arity: 2, flags: [.noScript, .loading, .stale], group: .connection,
                        since: "6.2.0", summary: "Returns information about the connection.",
                        handler: { context throws(CommandError) in
                            context.out.writeRESPVerbatimString(
                                format: "txt", describe(context.session, server: context.server, now: context.now),
                                context.respVersion)
                        }),
                    Command(
                        "kill", parent: "client", arity: -3, flags: [.admin, .noScript, .loading, .stale],
                        group: .connection, since: "2.4.0", summary: "Terminates open connections.",
                        complexity: "O(N) where N is the number of client connections", handler: kill),
                    Command(
                        "help", parent: "client", arity: 2, flags: [.loading, .stale], group: .connection,
                        since: "5.0.0", summary: "Returns helpful text about the different subcommands.", handler: help),
                ] + trackingCommands)
        ]
    }

    /// Redis's rule for connection names: printable ASCII without spaces.
    static func validateName(_ name: String) throws(CommandError) {
        for byte in name.utf8 where byte < 0x21 || byte > 0x7E {
            throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
    }

    static func setname(_ context: inout CommandContext) throws(CommandError) {
        let name = context.string(2)
        try validateName(name)
        context.session.visible.withLock { $0.name = name }
        context.replyOK()
    }

    static func getname(_ context: inout CommandContext) throws(CommandError) {
        let name = context.session.visible.withLock { $0.name }
        if name.isEmpty { context.replyNull() } else { context.out.writeRESPBulkString(name) }
    }

    /// One `CLIENT LIST` line (without the newline).
    static func describe(_ session: ClientSession, server: ServerState, now: Int64) -> String {
        let visible = session.visible.withLock { $0 }
        let age = (now - session.createdAt) / 1000
        let idle = max(0, (now - visible.lastInteraction) / 1000)
        let tracking = trackingFields(session.id, server: server)
        let subscribed = visible.subscriptions + visible.patternSubscriptions + visible.shardSubscriptions > 0
        let flags = flags(
            visible.kind, subscribed: subscribed, inMulti: visible.queuedCommands >= 0, tracking: tracking.flags)
        return "id=\(session.id) addr=\(session.address) laddr=\(session.localAddress) fd=\(session.descriptor) "
            + "name=\(visible.name) age=\(age) idle=\(idle) flags=\(flags) db=\(visible.database) "
            + "sub=\(visible.subscriptions) psub=\(visible.patternSubscriptions) ssub=\(visible.shardSubscriptions) "
            + "multi=\(visible.queuedCommands) qbuf=\(visible.queryBufferBytes) qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 "
            + "oll=0 omem=0 tot-mem=0 events=r cmd=\(visible.lastCommand) user=default redir=\(tracking.redirect) "
            + "resp=\(visible.respVersion)"
    }

    /// `CLIENT LIST`'s flags in Redis's order: `S` a replica, `M` a primary, `P` subscribed, `x` in a `MULTI`, then
    /// the tracking flags (`t`, `R`, `B`); `N` when none applies.
    static func flags(_ kind: String, subscribed: Bool = false, inMulti: Bool = false, tracking: String = "") -> String
    {
        var flags: String
        switch kind {
        case "replica": flags = "S"
        case "master": flags = "M"
        default: flags = ""
        }
        if subscribed { flags += "P" }
        if inMulti { flags += "x" }
        flags += tracking
        return flags.isEmpty ? "N" : flags
    }

    /// A `TYPE` argument as a ``ClientSession/Visible/kind`` (`slave` is `replica`).
    static func kind(_ type: String) -> String { type == "slave" ? "replica" : type }

    static func list(_ context: inout CommandContext) throws(CommandError) {
        var ids: Set<UInt64>?
        var wantedKind: String?
        if context.count > 2 {
            if context.argument(2, is: "TYPE"), context.count == 4 {
                let type = context.string(3).lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(type) else {
                    throw CommandError("ERR Unknown client type '\(context.string(3))'")
                }
                wantedKind = kind(type)
            } else if context.argument(2, is: "ID"), context.count >= 4 {
                var wanted = Set<UInt64>()
                for index in 3..<context.count {
                    let id = try context.integer(index)
                    guard id > 0 else { throw CommandError("ERR Invalid client ID") }
                    wanted.insert(UInt64(id))
                }
                ids = wanted
            } else {
                throw .syntax
            }
        }
        let sessions = context.server.clients.withLock { Array($0.values) }.sorted { $0.id < $1.id }
        var text = ""
        for session in sessions where ids?.contains(session.id) ?? true {
            if let wantedKind, session.visible.withLock({ $0.kind }) != wantedKind { continue }
            text += describe(session, server: context.server, now: context.now) + "\n"
        }
        context.out.writeRESPVerbatimString(format: "txt", text, context.respVersion)
    }

    static func kill(_ context: inout CommandContext) throws(CommandError) {
        let sessions = context.server.clients.withLock { Array($0.values) }
        if context.count == 3 {
            // Old form: CLIENT KILL addr:port, replies OK or an error.
            let address = context.string(2)
            guard let target = sessions.first(where: { $0.address == address }) else {
                throw CommandError("ERR No such client")
            }
            if target.id == context.session.id { context.closeAfterReply = true } else { target.close() }
            return context.replyOK()
        }
        guard context.count % 2 == 0 else { throw .syntax }
        var filters: [(ClientSession) -> Bool] = []
        var skipMe = true
        let myID = context.session.id
        for index in stride(from: 2, to: context.count, by: 2) {
            let value = context.string(index + 1)
            if context.argument(index, is: "ID") {
                guard let id = UInt64(value), id > 0 else {
                    throw CommandError("ERR client-id should be greater than 0")
                }
                filters.append { $0.id == id }
            } else if context.argument(index, is: "ADDR") {
                filters.append { $0.address == value }
            } else if context.argument(index, is: "LADDR") {
                filters.append { $0.localAddress == value }
            } else if context.argument(index, is: "USER") {
                filters.append { _ in value == "default" }
            } else if context.argument(index, is: "TYPE") {
                let type = value.lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(type) else {
                    throw CommandError("ERR Unknown client type '\(value)'")
                }
                let wanted = kind(type)
                filters.append { session in session.visible.withLock { $0.kind } == wanted }
            } else if context.argument(index, is: "SKIPME") {
                if value.lowercased() == "yes" {
                    skipMe = true
                } else if value.lowercased() == "no" {
                    skipMe = false
                } else {
                    throw .syntax
                }
            } else if context.argument(index, is: "MAXAGE") {
                guard let maxAge = Int64(value) else { throw .syntax }
                let now = context.now
                filters.append { (now - $0.createdAt) / 1000 >= maxAge }
            } else {
                throw .syntax
            }
        }
        var killed = 0
        for session in sessions where filters.allSatisfy({ $0(session) }) {
            if session.id == myID {
                if skipMe { continue }
                context.closeAfterReply = true
            } else {
                session.close()
            }
            killed += 1
        }
        context.replyInteger(killed)
    }

    static func help(_ context: inout CommandContext) throws(CommandError) {
        let lines = [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME", "    Return the name of the current connection.",
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "KILL <ip:port>", "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, USER, TYPE, SKIPME, MAXAGE.",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "TRACKINGINFO", "    Report tracking status for the current connection.",
            "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
            "HELP", "    Print this help.",
        ]
        context.out.writeRESPArrayHeader(lines.count)
        for line in lines { context.out.writeRESPSimpleString(line) }
    }
}
