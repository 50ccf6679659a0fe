import NIOCore
import RoostProtocol

/// `CLIENT TRACKING`, `CLIENT CACHING`, `CLIENT TRACKINGINFO` and `CLIENT GETREDIR` (client-side caching; the
/// mechanism is described in ``Tracking``). Replies and errors are Redis 7.0's.
extension ClientCommands {
    static var trackingCommands: [Command] {
        [
            Command(
                "tracking", parent: "client", arity: -3, flags: [.noScript, .loading, .stale], group: .connection,
                since: "6.0.0", summary: "Controls server-assisted client-side caching for the connection.",
                complexity: "O(1). Some options may introduce additional complexity.", handler: tracking),
            Command(
                "caching", parent: "client", arity: 3, flags: [.noScript, .loading, .stale], group: .connection,
                since: "6.0.0", summary: "Instructs the server whether to track the keys in the next request.",
                handler: caching),
            Command(
                "trackinginfo", parent: "client", arity: 2, flags: [.noScript, .loading, .stale],
                group: .connection, since: "6.2.0",
                summary: "Returns information about server-assisted client-side caching for the connection.",
                handler: trackingInfo),
            Command(
                "getredir", parent: "client", arity: 2, flags: [.noScript, .loading, .stale], group: .connection,
                since: "6.0.0",
                summary: "Returns the client ID to which the connection's tracking notifications are "
                    + "redirected.", handler: getRedirect),
        ]
    }

    /// `CLIENT TRACKING on|off [REDIRECT id] [PREFIX prefix ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`.
    static func tracking(_ context: inout CommandContext) throws(CommandError) {
        var options = TrackingTable.Options()
        var prefixes: [[UInt8]] = []
        var index = 3
        while index < context.count {
            let more = index + 1 < context.count
            if context.argument(index, is: "REDIRECT") && more {
                index += 1
                if options.redirect != 0 {
                    throw CommandError("ERR A client can only redirect to a single other client")
                }
                let id = try context.integer(index)
                guard id > 0, context.server.clients.withLock({ $0[UInt64(id)] != nil }) else {
                    throw CommandError("ERR The client ID you want redirect to does not exist")
                }
                options.redirect = UInt64(id)
            } else if context.argument(index, is: "BCAST") {
                options.broadcast = true
            } else if context.argument(index, is: "OPTIN") {
                options.optIn = true
            } else if context.argument(index, is: "OPTOUT") {
                options.optOut = true
            } else if context.argument(index, is: "NOLOOP") {
                options.noLoop = true
            } else if context.argument(index, is: "PREFIX") && more {
                index += 1
                prefixes.append(context.bytes(index))
            } else {
                throw .syntax
            }
            index += 1
        }
        let id = context.session.id
        if context.argument(2, is: "ON") {
            try context.server.tracking.enable(id, options: options, prefixes: prefixes, server: context.server)
            context.tracking.enabled = true
            context.tracking.options = options
        } else if context.argument(2, is: "OFF") {
            disableTracking(&context)
        } else {
            throw .syntax
        }
        context.refreshConnectionModes()
        context.replyOK()
    }

    /// Turns tracking off for the connection (`CLIENT TRACKING off`, `RESET`).
    static func disableTracking(_ context: inout CommandContext) {
        guard context.tracking.enabled else { return }
        context.server.tracking.disable(context.session.id, server: context.server)
        context.tracking = CommandContext.ConnectionTracking()
        context.refreshConnectionModes()
    }

    /// `CLIENT CACHING yes|no`: the next command's reads are (OPTIN) or are not (OPTOUT) remembered.
    static func caching(_ context: inout CommandContext) throws(CommandError) {
        guard context.tracking.enabled else {
            throw CommandError(
                "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT "
                    + "mode enabled")
        }
        if context.argument(2, is: "YES") {
            guard context.tracking.options.optIn else {
                throw CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
            }
        } else if context.argument(2, is: "NO") {
            guard context.tracking.options.optOut else {
                throw CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
            }
        } else {
            throw .syntax
        }
        context.tracking.cachingGiven = true
        context.replyOK()
    }

    /// `CLIENT TRACKINGINFO`: a map (an array in RESP2) of `flags` (a set), `redirect` and `prefixes`.
    static func trackingInfo(_ context: inout CommandContext) throws(CommandError) {
        let state = context.tracking.enabled ? context.server.tracking.client(context.session.id) : nil
        var flags = [state == nil ? "off" : "on"]
        if let state {
            if state.options.broadcast { flags.append("bcast") }
            if state.options.optIn {
                flags.append("optin")
                if context.tracking.cachingGiven { flags.append("caching-yes") }
            }
            if state.options.optOut {
                flags.append("optout")
                if context.tracking.cachingGiven { flags.append("caching-no") }
            }
            if state.options.noLoop { flags.append("noloop") }
            if state.brokenRedirect { flags.append("broken_redirect") }
        }
        let version = context.respVersion
        context.out.writeRESPMapHeader(3, version)
        context.out.writeRESPBulkString("flags")
        context.out.writeRESPSetHeader(flags.count, version)
        for flag in flags { context.out.writeRESPBulkString(flag) }
        context.out.writeRESPBulkString("redirect")
        context.out.writeRESPInteger(state.map { Int($0.options.redirect) } ?? -1)
        context.out.writeRESPBulkString("prefixes")
        let prefixes = state?.prefixes ?? []
        context.out.writeRESPArrayHeader(prefixes.count)
        for prefix in prefixes { context.out.writeRESPBulkString(prefix) }
    }

    /// `CLIENT GETREDIR`: the redirect target, 0 when tracking without one, -1 when not tracking.
    static func getRedirect(_ context: inout CommandContext) throws(CommandError) {
        context.replyInteger(context.tracking.enabled ? Int(context.tracking.options.redirect) : -1)
    }

    /// `CLIENT LIST`'s tracking fields for a client: flags `t` (tracking), `R` (broken redirect), `B` (BCAST) in
    /// Redis's order, and `redir=` (-1 when not tracking).
    static func trackingFields(_ id: UInt64, server: ServerState) -> (flags: String, redirect: Int) {
        guard let state = server.tracking.client(id) else { return ("", -1) }
        var flags = "t"
        if state.brokenRedirect { flags += "R" }
        if state.options.broadcast { flags += "B" }
        return (flags, Int(state.options.redirect))
    }
}
