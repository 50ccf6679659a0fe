import NIOCore
import RoostProtocol

/// Looks a parsed command up in the table, applies Redis's checks in Redis's order (unknown command, arity,
/// authentication), runs it and records its statistics.
enum Dispatcher {
    /// Starts a batch of commands that arrived in one read: they all see the wall-clock time read here (as one
    /// command sees one time in Redis; a batch takes microseconds), and each command's duration is measured from
    /// the end of the one before, so a pipelined command costs one clock read instead of three. Call before
    /// ``execute(_:)``.
    static func beginBatch(_ context: inout CommandContext) {
        flushStatistics(&context)
        context.now = context.server.clock()
        context.tick = Clock.monotonicMicroseconds()
    }

    /// Adds the counts a batch gathered to the shared statistics. Consecutive calls of one command (a pipeline of
    /// GETs) are counted locally and added with one atomic operation per counter instead of three per command;
    /// the connection flushes at the end of every read batch, so `INFO` sees them within microseconds.
    static func flushStatistics(_ context: inout CommandContext) {
        let pending = context.pendingStatistics
        guard pending.processed > 0 || pending.calls > 0 else { return }
        if pending.processed > 0 {
            context.server.statistics.commandsProcessed.add(pending.processed, ordering: .relaxed)
        }
        if pending.calls > 0, let command = pending.command {
            command._withUnsafeGuaranteedRef {
                $0.statistics.recordCalls(pending.calls, microseconds: pending.microseconds, failed: pending.failed)
            }
        }
        // The counts start again; the command stays, so a command that flushes while it runs (INFO) is still
        // counted when it finishes.
        context.pendingStatistics = CommandContext.PendingStatistics()
        context.pendingStatistics.command = pending.command
    }

    /// Runs one parsed command (after ``beginBatch(_:)`` for its batch).
    static func execute(_ context: inout CommandContext) {
        guard let found = context.server.commands.find(context.arguments[0]) else {
            reject(&context, unknownCommandError(context))
            return
        }
        // The table owns its commands for the server's lifetime: no reference counting per command.
        found._withUnsafeGuaranteedRef { top in run(top, &context) }
    }

    @inline(__always)
    private static func run(_ top: Command, _ context: inout CommandContext) {
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
            if !sub.accepts(argumentCount: context.count) {
                sub.statistics.recordRejection()
                reject(&context, .wrongArity(sub.fullName))
                return
            }
            call(sub, &context)
            return
        }
        call(top, &context)
    }

    @inline(__always)
    private static func call(_ command: Command, _ context: inout CommandContext) {
        if !context.authenticated && !command.flags.contains(.noAuth) {
            command.statistics.recordRejection()
            reject(&context, CommandError("NOAUTH Authentication required."))
            return
        }
        if context.transaction.inMulti && !TransactionCommands.runsInsideMulti(command) {
            queue(command, &context)
            return
        }
        if context.fromPrimary {
            runHandler(command, &context)
            return
        }
        // Cluster mode: one load and one predictable branch when it is off.
        if let cluster = context.server.cluster, let error = ClusterRedirection.check(command, &context, cluster) {
            command.statistics.recordRejection()
            reject(&context, error)
            return
        }
        if command.flags.contains(.write) {
            let replication = context.server.replication
            if replication.isReplica.load(ordering: .relaxed) {
                command.statistics.recordRejection()
                reject(&context, CommandError("READONLY You can't write against a read only replica."))
                return
            }
            if replication.writesPaused.load(ordering: .acquiring) {
                // A manual failover is handing this primary's slots over: the write waits for the pause to end,
                // then runs (or is redirected to the new primary).
                let loop = context.session.channel.eventLoop
                context.blocked = loop.scheduleTask(in: .milliseconds(10)) { BlockedOutcome.retry }.futureResult
                return
            }
        }
        if command.flags.contains(.write) || command.flags.contains(.denyOOM),
            context.server.memoryLimited.load(ordering: .relaxed)
        {
            let now = context.now
            let withinLimit = context.server.keyspace.withLock { $0.enforceMemoryLimit(now: now) }
            if !withinLimit && command.flags.contains(.denyOOM) {
                command.statistics.recordRejection()
                reject(&context, CommandError("OOM command not allowed when used memory > 'maxmemory'."))
                return
            }
        }
        if context.hasConnectionModes {
            runWithConnectionModes(command, &context)
            return
        }
        runHandler(command, &context)
    }

    @inline(__always)
    static func runHandler(_ command: Command, _ context: inout CommandContext) {
        guard let handler = command.handler else {
            reject(&context, CommandError("ERR command '\(command.fullName)' is not implemented"))
            return
        }
        // Counts of an earlier, different command are published before this one runs, so a command that reads
        // the statistics (INFO, CONFIG RESETSTAT) sees every command before it, as in Redis.
        let reference = Unmanaged.passUnretained(command)
        if context.pendingStatistics.command?.toOpaque() != reference.toOpaque() {
            flushStatistics(&context)
            context.pendingStatistics.command = reference
        }
        var failed = false
        do {
            try handler(&context)
        } catch {
            failed = true
            context.server.statistics.errorReplies.add(1, ordering: .relaxed)
            context.out.writeRESPError(error.message)
        }
        let finished = Clock.monotonicMicroseconds()
        let elapsed = Int(finished - context.tick)
        context.tick = finished
        context.pendingStatistics.processed += 1
        context.pendingStatistics.calls += 1
        context.pendingStatistics.microseconds += elapsed
        if failed { context.pendingStatistics.failed += 1 }
        context.lastCommand = reference
    }

    /// Answers `error` instead of running the command; inside `MULTI` the refusal dooms the transaction (Redis's
    /// `flagTransaction`).
    /// A refused `EXEC` discards the transaction and says why (Redis's `execCommandAbort`).
    static func reject(_ context: inout CommandContext, _ error: CommandError) {
        var message = error.message
        if context.count > 0, context.argument(0, is: "EXEC") {
            TransactionCommands.discard(&context)
            message =
                "EXECABORT Transaction discarded because of: "
                + (message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message)
        } else if context.transaction.inMulti {
            context.transaction.failed = true
        }
        context.pendingStatistics.processed += 1
        context.server.statistics.errorReplies.add(1, ordering: .relaxed)
        context.out.writeRESPError(message)
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
