import NIOCore
import RoostProtocol

/// Looks a parsed command up in the table, applies Redis's checks in Redis's order (unknown command, arity,
/// authentication), runs it and records its statistics.
enum Dispatcher {
    static func execute(_ context: inout CommandContext) {
        let server = context.server
        server.statistics.commandsProcessed.add(1, ordering: .relaxed)
        guard let top = server.commands.lookup(context.arguments[0]) else {
            reject(&context, unknownCommandError(context))
            return
        }
        var command = top
        if !top.accepts(argumentCount: context.count) {
            top.statistics.recordRejection()
            reject(&context, .wrongArity(top.name))
            return
        }
        if !top.subcommands.isEmpty && (context.count >= 2 || top.handler == nil) {
            guard let sub = top.subcommand(in: context) else {
                reject(
                    &context,
                    CommandError(
                        "ERR unknown subcommand '\(sanitized(context.string(1), limit: 128))'. "
                            + "Try \(top.name.uppercased()) HELP."
                    )
                )
                return
            }
            command = sub
            if !sub.accepts(argumentCount: context.count) {
                sub.statistics.recordRejection()
                reject(&context, .wrongArity(sub.fullName))
                return
            }
        }
        if !context.authenticated && !command.flags.contains(.noAuth) {
            command.statistics.recordRejection()
            reject(&context, CommandError("NOAUTH Authentication required."))
            return
        }
        if server.memoryLimited.load(ordering: .relaxed),
            command.flags.contains(.write) || command.flags.contains(.denyOOM)
        {
            let now = server.clock()
            let withinLimit = server.keyspace.withLock { $0.enforceMemoryLimit(now: now) }
            if !withinLimit && command.flags.contains(.denyOOM) {
                command.statistics.recordRejection()
                reject(&context, CommandError("OOM command not allowed when used memory > 'maxmemory'."))
                return
            }
        }
        guard let handler = command.handler else {
            reject(&context, CommandError("ERR command '\(command.fullName)' is not implemented"))
            return
        }
        context.now = server.clock()
        let started = Clock.monotonicMicroseconds()
        var failed = false
        do {
            try handler(&context)
        } catch {
            failed = true
            server.statistics.errorReplies.add(1, ordering: .relaxed)
            context.out.writeRESPError(error.message)
        }
        command.statistics.recordCall(
            microseconds: Int(Clock.monotonicMicroseconds() - started),
            failed: failed
        )
        context.lastCommand = command
    }

    private static func reject(_ context: inout CommandContext, _ error: CommandError) {
        context.server.statistics.errorReplies.add(1, ordering: .relaxed)
        context.out.writeRESPError(error.message)
    }

    /// Redis's unknown-command error: the name and the first arguments, quoted, up to about 128 characters.
    static func unknownCommandError(_ context: CommandContext) -> CommandError {
        var arguments = ""
        var index = 1
        while index < context.count && arguments.utf8.count < 128 {
            let remaining = 128 - arguments.utf8.count
            arguments += "'\(prefix(context.string(index), bytes: remaining))' "
            index += 1
        }
        let name = prefix(context.string(0), bytes: 128)
        return CommandError("ERR unknown command '\(name)', with args beginning with: \(arguments)")
    }

    private static func prefix(_ string: String, bytes: Int) -> String {
        let utf8 = Array(string.utf8.prefix(bytes))
        return String(decoding: utf8, as: UTF8.self)
    }

    static func sanitized(_ string: String, limit: Int) -> String {
        prefix(string, bytes: limit)
    }
}
