import NIOCore
import RoostCore
import RoostProtocol

/// Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`, with Redis 7.0's semantics.
///
/// - After `MULTI` the dispatcher queues every command except `EXEC`, `DISCARD`, `MULTI`, `WATCH`, `QUIT` and
///   `RESET` (``Dispatcher/queue(_:_:)``), answering `+QUEUED`. A command refused while queueing (unknown, wrong
///   arity, `NOAUTH`, `MOVED`/`CROSSSLOT` in cluster mode, `READONLY`, `OOM`) dooms the transaction: `EXEC` answers
///   `EXECABORT` and runs nothing. An error a queued command meets when it runs (`WRONGTYPE`) is its own reply in
///   `EXEC`'s array; the others still run.
/// - `EXEC` runs in one critical section over the keyspace (``KeyspaceLock/withExclusiveSection(_:)``): no other
///   connection, on any event loop or the memcached port, sees part of a transaction or changes a key in the
///   middle of one. The `WATCH` check is inside the same section.
/// - A transaction that changed keys enters the replication stream as `MULTI`, its records, `EXEC`, and a replica
///   applies that as a transaction too.
/// - In cluster mode every key of a transaction must hash to one slot: each command is checked when queued (as
///   Redis does), and all together at `EXEC` (`CROSSSLOT`, which discards the transaction).
enum TransactionCommands {
    private static let controlFlags: Command.Flags = [.noScript, .loading, .stale, .fast, .allowBusy]

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "multi", arity: 1, flags: controlFlags, group: .transactions, since: "1.2.0",
                summary: "Starts a transaction.", handler: multi),
            Command(
                "exec", arity: 1, flags: [.noScript, .loading, .stale], group: .transactions, since: "1.2.0",
                summary: "Executes all commands in a transaction.",
                complexity: "Depends on commands in the transaction", handler: exec),
            Command(
                "discard", arity: 1, flags: controlFlags, group: .transactions, since: "2.0.0",
                summary: "Discards a transaction.", complexity: "O(N), when N is the number of queued commands",
                handler: discardCommand),
            Command(
                "watch", arity: -2, flags: controlFlags, keys: Command.KeyPositions(first: 1, last: -1, step: 1),
                group: .transactions, since: "2.2.0",
                summary: "Monitors changes to keys to determine the execution of a transaction.",
                complexity: "O(1) for every key.", handler: watch),
            Command(
                "unwatch", arity: 1, flags: controlFlags, group: .transactions, since: "2.2.0",
                summary: "Forgets about watched keys of a transaction.", handler: unwatch),
        ]
    }

    /// Commands that run at once inside `MULTI` instead of being queued (Redis's list).
    static func runsInsideMulti(_ command: Command) -> Bool {
        switch command.name {
        case "exec", "discard", "multi", "watch", "quit", "reset": true
        default: false
        }
    }

    static let execAbort = CommandError("EXECABORT Transaction discarded because of previous errors.")

    // MARK: Commands

    static func multi(_ context: inout CommandContext) throws(CommandError) {
        guard !context.transaction.inMulti else { throw CommandError("ERR MULTI calls can not be nested") }
        context.transaction.inMulti = true
        publishQueueLength(&context)
        context.replyOK()
    }

    static func discardCommand(_ context: inout CommandContext) throws(CommandError) {
        guard context.transaction.inMulti else { throw CommandError("ERR DISCARD without MULTI") }
        discard(&context)
        context.replyOK()
    }

    static func watch(_ context: inout CommandContext) throws(CommandError) {
        guard !context.transaction.inMulti else { throw CommandError("ERR WATCH inside MULTI is not allowed") }
        let id = context.session.id
        let server = context.server
        let now = context.now
        let keys = (1..<context.count).map { context.bytes($0) }
        server.keyspace.withLock { keyspace in
            var first = false
            for key in keys {
                let live = key.withUnsafeBytes { keyspace.currentState(of: $0, now: now) { _, _ in true } } ?? false
                if server.watches.watch(key, live: live, for: id) { first = true }
            }
            if first { ServerKeyspaceObserver.update(&keyspace, server: server, watching: true) }
        }
        context.transaction.watching = true
        context.refreshConnectionModes()
        context.replyOK()
    }

    static func unwatch(_ context: inout CommandContext) throws(CommandError) {
        dropWatches(&context)
        context.replyOK()
    }

    /// `EXEC`: the queued commands' replies as one array, or null when a watched key changed, or `EXECABORT` when
    /// a command was refused while queueing.
    static func exec(_ context: inout CommandContext) throws(CommandError) {
        guard context.transaction.inMulti else { throw CommandError("ERR EXEC without MULTI") }
        if context.transaction.failed {
            discard(&context)
            throw execAbort
        }
        let flags = context.transaction.flags
        if !context.fromPrimary {
            if let cluster = context.server.cluster,
                let error = ClusterRedirection.checkTransaction(context.transaction.queued, &context, cluster)
            {
                discard(&context)
                throw error
            }
            if flags.contains(.write) && context.server.replication.writesPaused.load(ordering: .acquiring) {
                // A manual failover is handing this primary's slots over: EXEC waits for the pause to end, then
                // runs (or is redirected), as a lone write does.
                let loop = context.session.channel.eventLoop
                context.blocked = loop.scheduleTask(in: .milliseconds(10)) { BlockedOutcome.retry }.futureResult
                return
            }
            if flags.contains(.denyOOM), context.server.memoryLimited.load(ordering: .relaxed) {
                let now = context.now
                if !context.server.keyspace.withLock({ $0.enforceMemoryLimit(now: now) }) {
                    discard(&context)
                    throw CommandError(
                        "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > "
                            + "'maxmemory'.")
                }
            }
        }
        let queued = context.transaction.queued
        let savedArguments = context.arguments
        let server = context.server
        let id = context.session.id
        let now = context.now
        let watching = context.transaction.watching
        let ran = server.keyspace.withExclusiveSection { () -> Bool in
            if watching,
                server.keyspace.withLock({ keyspace in server.watches.isDoomed(id, keyspace: keyspace, now: now) })
            {
                return false
            }
            // Changes made before the EXEC (earlier commands of this batch) enter the stream on their own.
            server.replication.propagate(server)
            context.out.writeRESPArrayHeader(queued.count)
            for entry in queued {
                context.arguments = entry.arguments
                entry.command._withUnsafeGuaranteedRef { Dispatcher.runQueued($0, &context) }
            }
            server.replication.propagateTransaction(server)
            return true
        }
        context.arguments = savedArguments
        discard(&context)
        if !ran { context.out.writeRESPNullArray(context.respVersion) }
    }

    // MARK: State

    /// Ends any open `MULTI` and drops the watches (`EXEC`, `DISCARD`, `RESET`, a closed connection).
    static func discard(_ context: inout CommandContext) {
        if context.transaction.inMulti {
            context.transaction.endMulti()
            publishQueueLength(&context)
        }
        dropWatches(&context)
    }

    /// Forgets the connection's watched keys; the last watcher of the server removes the keyspace observer.
    static func dropWatches(_ context: inout CommandContext) {
        guard context.transaction.watching else { return }
        let server = context.server
        let id = context.session.id
        server.keyspace.withLock { keyspace in
            if server.watches.unwatchAll(for: id) {
                ServerKeyspaceObserver.update(&keyspace, server: server, watching: false)
            }
        }
        context.transaction.watching = false
        context.refreshConnectionModes()
    }

    /// Publishes the queue length to `CLIENT LIST` (`multi=`, -1 outside `MULTI`) and the dispatcher's mode flag.
    static func publishQueueLength(_ context: inout CommandContext) {
        let length = context.transaction.inMulti ? context.transaction.queued.count : -1
        context.session.visible.withLock { $0.queuedCommands = length }
        context.refreshConnectionModes()
    }
}

extension Dispatcher {
    /// Queues `command` in the open `MULTI` after the checks Redis makes before queueing (cluster routing, a
    /// replica's `READONLY`, the memory limit); a refusal dooms the transaction (``reject(_:_:)``).
    static func queue(_ command: Command, _ context: inout CommandContext) {
        if !context.fromPrimary {
            if let cluster = context.server.cluster, let error = ClusterRedirection.check(command, &context, cluster) {
                command.statistics.recordRejection()
                reject(&context, error)
                return
            }
            if command.flags.contains(.write) && context.server.replication.isReplica.load(ordering: .relaxed) {
                command.statistics.recordRejection()
                reject(&context, CommandError("READONLY You can't write against a read only replica."))
                return
            }
            if command.flags.contains(.denyOOM), context.server.memoryLimited.load(ordering: .relaxed) {
                let now = context.now
                if !context.server.keyspace.withLock({ $0.enforceMemoryLimit(now: now) }) {
                    command.statistics.recordRejection()
                    reject(&context, CommandError("OOM command not allowed when used memory > 'maxmemory'."))
                    return
                }
            }
        }
        var bytes = 0
        for argument in context.arguments { bytes += argument.readableBytes }
        context.transaction.queuedBytes += bytes
        if context.transaction.queuedBytes > context.server.currentConfiguration.clientQueryBufferLimit {
            // As a query buffer over its limit does: the transaction could otherwise grow without bound.
            context.server.logger.warning(
                "closing client whose queued transaction exceeds client-query-buffer-limit",
                metadata: ["client.id": "\(context.session.id)"])
            reject(&context, CommandError("ERR transaction exceeds client-query-buffer-limit"))
            context.closeAfterReply = true
            return
        }
        context.transaction.queued.append(
            TransactionState.QueuedCommand(command: Unmanaged.passUnretained(command), arguments: context.arguments))
        context.transaction.flags.formUnion(command.flags)
        context.pendingStatistics.processed += 1
        context.out.writeRESPSimpleString("QUEUED")
        TransactionCommands.publishQueueLength(&context)
    }

    /// Runs one command of an `EXEC` (inside its critical section): registers a tracking client's read, runs the
    /// handler (an error is the command's reply in `EXEC`'s array) and counts the call in the command's statistics.
    static func runQueued(_ command: Command, _ context: inout CommandContext) {
        guard let handler = command.handler else {
            context.out.writeRESPError("ERR command '\(command.fullName)' is not implemented")
            return
        }
        let start = Clock.monotonicMicroseconds()
        if context.tracking.enabled, command.flags.contains(.readonly), command.keys.first > 0,
            TrackingTable.remembersRead(context.tracking.options, cachingGiven: context.tracking.cachingGiven)
        {
            var keys: [[UInt8]] = []
            for index in command.keyIndexes(argumentCount: context.count, numkeys: { Int(context.string($0)) }) {
                keys.append(context.bytes(index))
            }
            context.server.tracking.remember(keys, for: context.session.id, server: context.server)
        }
        var failed = false
        do {
            if context.tracking.enabled && context.tracking.options.noLoop && command.flags.contains(.write) {
                let outcome: Result<Void, CommandError> = CurrentWriter.withWriter(context.session.id) {
                    do throws(CommandError) {
                        try handler(&context)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
                try outcome.get()
            } else {
                try handler(&context)
            }
        } catch {
            failed = true
            context.server.statistics.errorReplies.add(1, ordering: .relaxed)
            context.out.writeRESPError(error.message)
        }
        if let blocked = context.blocked {
            // Nothing inside a transaction may wait (Redis runs WAIT inside MULTI without blocking).
            _ = blocked
            context.blocked = nil
        }
        let elapsed = Int(Clock.monotonicMicroseconds() - start)
        command.statistics.recordCalls(1, microseconds: elapsed, failed: failed ? 1 : 0)
        context.server.statistics.commandsProcessed.add(1, ordering: .relaxed)
    }
}
