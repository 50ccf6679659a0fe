import NIOCore
import RoostProtocol

/// Connection commands: `PING`, `ECHO`, `HELLO`, `AUTH`, `QUIT`, `RESET`, `SELECT`.
enum ConnectionCommands {
    /// The Redis version whose semantics Roost matches; `HELLO` and `INFO` report it so clients pick features.
    static let redisVersion = "7.0.15"
    /// Roost's own version.
    static let roostVersion = "0.1.0"

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "ping", arity: -1, flags: [.fast], group: .connection, since: "1.0.0",
                summary: "Returns the server's liveliness response.", handler: ping),
            Command(
                "echo", arity: 2, flags: [.fast], group: .connection, since: "1.0.0",
                summary: "Returns the given string.",
                handler: { context throws(CommandError) in
                    context.out.writeRESPBulkString(context.arguments[1].readableBytesView)
                }),
            Command(
                "hello", arity: -1, flags: [.noAuth, .fast], group: .connection, since: "6.0.0",
                summary: "Handshakes with the Redis server.", handler: hello),
            Command(
                "auth", arity: -2, flags: [.noAuth, .fast], group: .connection, since: "1.0.0",
                summary: "Authenticates the connection.",
                complexity: "O(N) where N is the number of passwords defined for the user", handler: auth),
            Command(
                "quit", arity: -1, flags: [.noAuth, .fast], group: .connection, since: "1.0.0",
                summary: "Closes the connection.",
                handler: { context throws(CommandError) in
                    context.replyOK()
                    context.closeAfterReply = true
                }),
            Command(
                "reset", arity: 1, flags: [.noAuth, .fast], group: .connection, since: "6.2.0",
                summary: "Resets the connection.", handler: reset),
            Command(
                "select", arity: 2, flags: [.loading, .stale, .fast], group: .connection, since: "1.0.0",
                summary: "Changes the selected database.", handler: select),
        ]
    }

    static func ping(_ context: inout CommandContext) throws(CommandError) {
        if context.pubsub.isSubscribed && context.respVersion == .resp2 {
            // A RESP2 subscriber gets PING's answer in the shape of a message: `pong` and the argument or "".
            guard context.count <= 2 else { throw .wrongArity("ping") }
            context.out.writeRESPArrayHeader(2)
            context.out.writeRESPBulkString("pong")
            if context.count == 2 {
                context.out.writeRESPBulkString(context.arguments[1].readableBytesView)
            } else {
                context.out.writeRESPBulkString("")
            }
            return
        }
        switch context.count {
        case 1: context.out.writeRESPSimpleString("PONG")
        case 2: context.out.writeRESPBulkString(context.arguments[1].readableBytesView)
        default: throw .wrongArity("ping")
        }
    }

    /// Checks a password for `user` against `requirepass`: the only user is `default`.
    static func authenticate(user: String, password: [UInt8], _ context: CommandContext) -> Bool {
        guard user == "default" else { return false }
        guard let required = context.server.currentConfiguration.requirePass else { return true }
        return constantTimeEqual(Array(required.utf8), password)
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    static let wrongPassword = CommandError("WRONGPASS invalid username-password pair or user is disabled.")

    static func auth(_ context: inout CommandContext) throws(CommandError) {
        guard context.count <= 3 else { throw .syntax }
        let user = context.count == 3 ? context.string(1) : "default"
        if context.count == 2 && context.server.currentConfiguration.requirePass == nil {
            throw CommandError(
                "ERR AUTH <password> called without any password configured for the default user. "
                    + "Are you sure your configuration is correct?")
        }
        guard authenticate(user: user, password: context.bytes(context.count - 1), context) else {
            throw wrongPassword
        }
        context.authenticated = true
        context.replyOK()
    }

    static func hello(_ context: inout CommandContext) throws(CommandError) {
        var version = context.respVersion
        var index = 1
        if context.count >= 2 {
            guard let requested = try? context.integer(1) else {
                throw CommandError("ERR Protocol version is not an integer or out of range")
            }
            guard let chosen = RESPVersion(rawValue: Int(requested)) else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            version = chosen
            index = 2
        }
        var name: String?
        var credentials: (String, [UInt8])?
        while index < context.count {
            let remaining = context.count - index - 1
            if context.argument(index, is: "AUTH") && remaining >= 2 {
                credentials = (context.string(index + 1), context.bytes(index + 2))
                index += 3
            } else if context.argument(index, is: "SETNAME") && remaining >= 1 {
                name = context.string(index + 1)
                index += 2
            } else {
                throw CommandError(
                    "ERR Syntax error in HELLO option '\(Dispatcher.sanitized(context.string(index), limit: 128))'")
            }
        }
        if let (user, password) = credentials {
            guard authenticate(user: user, password: password, context) else { throw wrongPassword }
            context.authenticated = true
        }
        guard context.authenticated else {
            throw CommandError(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                    + "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                    + "protocol version at the same time")
        }
        if let name {
            try ClientCommands.validateName(name)
            context.session.visible.withLock { $0.name = name }
        }
        context.respVersion = version
        let out = version
        context.out.writeRESPMapHeader(7, out)
        context.out.writeRESPBulkString("server")
        context.out.writeRESPBulkString("redis")
        context.out.writeRESPBulkString("version")
        context.out.writeRESPBulkString(redisVersion)
        context.out.writeRESPBulkString("proto")
        context.out.writeRESPInteger(version.rawValue)
        context.out.writeRESPBulkString("id")
        context.out.writeRESPInteger(Int(context.session.id))
        context.out.writeRESPBulkString("mode")
        context.out.writeRESPBulkString("standalone")
        context.out.writeRESPBulkString("role")
        context.out.writeRESPBulkString("master")
        context.out.writeRESPBulkString("modules")
        context.out.writeRESPArrayHeader(0)
    }

    static func reset(_ context: inout CommandContext) throws(CommandError) {
        ClientCommands.disableTracking(&context)
        PubSubCommands.unsubscribeAll(&context)
        TransactionCommands.discard(&context)
        context.respVersion = .resp2
        context.authenticated = context.server.currentConfiguration.requirePass == nil
        context.session.visible.withLock { $0.name = "" }
        context.out.writeRESPSimpleString("RESET")
    }

    static func select(_ context: inout CommandContext) throws(CommandError) {
        let index = try context.integer(1)
        guard index == 0 else { throw CommandError("ERR DB index is out of range") }
        context.replyOK()
    }
}
