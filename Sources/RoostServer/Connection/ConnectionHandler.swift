import NIOCore
import RoostProtocol

/// The per-connection NIO handler: it only moves bytes. Requests are parsed in place from the receive buffer,
/// executed through ``Dispatcher``, and all replies of one read batch leave in one write.
///
/// Memory per connection stays bounded: the receive buffer by `client-query-buffer-limit` and the parser's
/// limits, the unsent replies by the output limit. Like Redis, the server keeps executing a pipeline whose
/// replies the client is not reading yet (a client may write its whole pipeline before reading, as redis-py
/// does, so pausing would deadlock it), and closes a client whose unsent replies pass the limit.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replies beyond this many bytes are written out mid-batch rather than at the end of the read batch.
    static let replyFlushThreshold = 64 * 1024

    private let server: ServerState
    // Passed `inout` to every command: a class property would pay a dynamic exclusivity check per access, and only
    // this handler's event loop ever touches it.
    @exclusivity(unchecked) private var commandContext: CommandContext!
    // Only this handler's event loop touches these; they are passed `inout` for every read, where a class property
    // would pay a dynamic exclusivity check each time.
    @exclusivity(unchecked) private var parser = RESPRequestParser()
    @exclusivity(unchecked) private var inbound: ByteBuffer?
    @exclusivity(unchecked) private var limits = ConnectionLimits()
    private var closing = false
    private var registered = false
    /// A command is blocked (``CommandContext/blocked``): input is buffered, not executed, until it resumes.
    private var suspended = false
    /// When (monotonic milliseconds) the unsent output first passed the soft output limit, while it stays past it.
    private var softLimitSince: Int64?

    private let coalescer: FlushCoalescer?
    /// Set while a flush is queued on the coalescer (replies already written to the channel, not yet flushed).
    private var flushQueued = false
    private var channelContext: ChannelHandlerContext?

    init(server: ServerState, coalescer: FlushCoalescer? = nil) {
        self.server = server
        self.coalescer = coalescer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channelContext = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        channelContext = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        let now = Clock.wallMilliseconds()
        let id = server.nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue
        let session = ClientSession(id: id, channel: context.channel, now: now)
        limits.refresh(from: server)
        commandContext = CommandContext(
            server: server,
            session: session,
            out: context.channel.allocator.buffer(capacity: 1024),
            authenticated: limits.requirePass == nil
        )
        server.statistics.connectionsReceived.add(1, ordering: .relaxed)

        if let refusal = admissionRefusal(remote: context.channel.remoteAddress) {
            server.statistics.rejectedConnections.add(1, ordering: .relaxed)
            var buffer = context.channel.allocator.buffer(capacity: refusal.utf8.count + 3)
            buffer.writeRESPError(refusal)
            closing = true
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        server.clients.withLock { $0[id] = session }
        registered = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if registered, let id = commandContext?.session.id {
            _ = server.clients.withLock { $0.removeValue(forKey: id) }
            if commandContext.isReplicationFeed { server.replication.detach(clientID: id) }
            ClientCommands.disableTracking(&commandContext)
            PubSubCommands.unsubscribeAll(&commandContext)
            TransactionCommands.discard(&commandContext)
            server.blocking.cancel(clientID: id)
        }
        registered = false
        context.fireChannelInactive()
    }

    /// Redis's admission checks: `maxclients` first, then protected mode.
    private func admissionRefusal(remote: SocketAddress?) -> String? {
        let config = server.currentConfiguration
        if server.clients.withLock({ $0.count }) >= config.maxClients {
            return "ERR max number of clients reached"
        }
        if config.protectedMode, config.requirePass == nil, let remote, !remote.isLoopback {
            return ProtectedMode.deniedMessage
        }
        return nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = unwrapInboundIn(data)
        server.statistics.inputBytes.add(incoming.readableBytes, ordering: .relaxed)
        inbound.appendReceived(&incoming)
        if inbound!.readableBytes > limits.queryBufferLimit {
            server.logger.warning(
                "closing client that reached max query buffer length",
                metadata: ["client.id": "\(commandContext.session.id)", "bytes": "\(inbound!.readableBytes)"]
            )
            closing = true
            context.close(promise: nil)
            return
        }
        if !suspended { processBuffered(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let coalescer, !closing {
            // Hand the replies to the channel now; the flush (the `write` system call) waits for the end of the
            // loop's turn, when every ready connection has been served (see FlushCoalescer).
            if writeReplies(context: context), !flushQueued {
                flushQueued = true
                coalescer.flushAtEndOfTurn(self)
            }
        } else {
            flushReplies(context: context)
        }
        context.fireChannelReadComplete()
    }

    /// Called by the coalescer at the end of the loop's turn.
    func flushDeferred() {
        flushQueued = false
        channelContext?.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The unsent output drained below NIO's low-water mark (far below any soft limit): the soft limit's clock
    /// restarts, as Redis's does when a check finds the client under it. Without this a subscriber that drains
    /// between bursts was closed once its bursts had spanned the soft seconds, since the check runs only after a
    /// burst is written, when it is above the limit again.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { softLimitSince = nil }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PendingPushesEvent {
            // Invalidations queued by other connections: after every reply already produced (see Tracking).
            guard !closing, commandContext != nil else { return }
            recycleReplyBuffer(context: context)
            commandContext.writePendingPushes()
            flushReplies(context: context)
            // A client that never reads is closed at its output limit, as it would be for replies.
            if !context.channel.isWritable {
                _ = exceedsOutputLimit(context)
            } else {
                softLimitSince = nil
            }
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The peer half-closed: answer what it sent, then close, as Redis does on EOF.
            flushReplies(context: context)
            closing = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Parses and executes every complete command in the receive buffer, unless closing.
    private func processBuffered(context: ChannelHandlerContext) {
        guard var buffer = inbound else { return }
        inbound = nil  // hold the only reference while parsing, so slices do not force a copy on the next append
        defer {
            // The batch's writes enter the replication stream before its replies leave (see Replication).
            server.replication.propagate(server)
            Dispatcher.flushStatistics(&commandContext)  // however the batch ended, so INFO sees its commands
            commandContext.arguments.removeAll(keepingCapacity: true)
            if buffer.readableBytes > 0 {
                buffer.discardReadBytes()
                inbound = buffer
            }
        }
        if server.configurationGeneration.load(ordering: .acquiring) != limits.generation {
            limits.refresh(from: server)
        }
        limits.request.authenticated = commandContext.authenticated
        var executed = false
        // The replies of the previous batch were only marked read when handed to the channel: clearing now, once
        // the channel has written and released them, reuses the buffer's storage instead of allocating a new one
        // (clearing a buffer the channel still shares would copy it). A buffer grown past 64 KiB by a large reply
        // is dropped, so an idle connection does not keep it.
        recycleReplyBuffer(context: context)
        Dispatcher.beginBatch(&commandContext)
        // Invalidations queued for this connection before its new commands run go out before their replies, as
        // on Redis's single thread: a client that sends a read after another connection's write was acknowledged
        // gets that write's invalidation first. (The task that writes them may not have run yet: NIO serves I/O
        // before tasks within a loop turn.) One atomic load when nothing is queued.
        commandContext.writePendingPushes()
        while !closing {
            do {
                guard try parser.parse(&buffer, into: &commandContext.arguments, limits: limits.request) else { break }
            } catch {
                commandContext.out.writeRESPError("ERR " + error.message)
                closing = true
                flushReplies(context: context)
                context.close(promise: nil)
                return
            }
            executed = true
            Dispatcher.execute(&commandContext)
            server.blocking.serveReady(server)
            if let blocked = commandContext.blocked {
                suspend(on: blocked, arguments: commandContext.arguments)
                break
            }
            limits.request.authenticated = commandContext.authenticated
            if commandContext.closeAfterReply {
                closing = true
                flushReplies(context: context)
                context.close(promise: nil)
                return
            }
            if commandContext.out.readableBytes >= ConnectionHandler.replyFlushThreshold {
                server.replication.propagate(server)
                flushReplies(context: context)
                if !context.channel.isWritable, exceedsOutputLimit(context) { return }
            }
        }
        if executed {
            let session = commandContext.session
            let now = commandContext.now
            let pending = buffer.readableBytes
            session.visible.withLock {
                $0.lastInteraction = now
                $0.queryBufferBytes = pending
                $0.respVersion = commandContext.respVersion.rawValue
                if let last = commandContext.lastCommand { $0.lastCommand = last.takeUnretainedValue().fullName }
            }
        }
    }

    /// Starts the reply buffer afresh once everything in it was handed to the channel: cleared (its storage reused
    /// when the channel has released it), or replaced when a large reply grew it past 64 KiB. Done before every
    /// read batch and every batch of pushes, so a subscriber that never sends a command does not append to one
    /// ever-growing buffer whose storage every pending write would keep alive.
    private func recycleReplyBuffer(context: ChannelHandlerContext) {
        guard commandContext.out.readableBytes == 0 else { return }
        if commandContext.out.capacity > ConnectionHandler.replyFlushThreshold {
            commandContext.out = context.channel.allocator.buffer(capacity: 1024)
        } else {
            commandContext.out.clear()
        }
    }

    /// Stops executing this connection's pipeline until `blocked` completes; then answers (or runs the command
    /// again) and carries on with what arrived meanwhile.
    private func suspend(on blocked: EventLoopFuture<BlockedOutcome>, arguments: [ByteBuffer]) {
        commandContext.blocked = nil
        suspended = true
        blocked.whenComplete { [self] result in
            suspended = false
            guard let context = channelContext, !closing else { return }
            Dispatcher.beginBatch(&commandContext)
            switch result {
            case .success(.integer(let value)):
                commandContext.out.writeRESPInteger(value)
            case .success(.reply(var bytes)):
                commandContext.out.writeBuffer(&bytes)
            case .success(.retry):
                commandContext.arguments = arguments
                Dispatcher.execute(&commandContext)
                server.blocking.serveReady(server)
                commandContext.arguments.removeAll(keepingCapacity: true)
                if let again = commandContext.blocked {
                    suspend(on: again, arguments: arguments)
                    flushReplies(context: context)
                    return
                }
            case .failure:
                commandContext.out.writeRESPError("ERR the command was interrupted")
            }
            server.replication.propagate(server)
            processBuffered(context: context)
            flushReplies(context: context)
        }
    }

    /// Closes the connection if its unsent replies exceed its class's output limit (checked only once the socket
    /// has stopped accepting writes, so the common path pays nothing): a subscriber is held to the `pubsub` class
    /// of `client-output-buffer-limit` (closed at once past the hard limit, or after staying past the soft limit
    /// for its seconds, as Redis does), anything else to the `normal` class's hard limit.
    private func exceedsOutputLimit(_ context: ChannelHandlerContext) -> Bool {
        let pending = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        let subscriber = commandContext.pubsub.isSubscribed
        let limit = subscriber ? limits.pubsubOutputLimit : limits.normalOutputLimit
        var exceeded = limit.hard > 0 && pending > limit.hard
        if !exceeded && limit.soft > 0 && pending > limit.soft {
            let now = Clock.monotonicMicroseconds() / 1000
            let since = softLimitSince ?? now
            softLimitSince = since
            exceeded = now - since >= Int64(limit.seconds) * 1000
        } else if !exceeded {
            softLimitSince = nil
        }
        guard exceeded else { return false }
        server.logger.warning(
            subscriber
                ? "closing subscriber whose unsent messages exceed the pubsub output buffer limit"
                : "closing client whose unsent replies exceed the output buffer limit",
            metadata: ["client.id": "\(commandContext.session.id)", "bytes": "\(pending)"]
        )
        server.statistics.outputLimitDisconnections.add(1, ordering: .relaxed)
        closing = true
        context.close(promise: nil)
        return true
    }

    /// Writes and flushes the replies now, together with any written earlier whose flush is still queued on the
    /// coalescer (before a close, which would otherwise discard them).
    private func flushReplies(context: ChannelHandlerContext) {
        if writeReplies(context: context) || flushQueued { context.flush() }
    }

    /// Hands the pending replies to the channel without flushing and marks them read (the buffer is cleared at the
    /// next read, once the channel has released it). Returns whether there were any.
    private func writeReplies(context: ChannelHandlerContext) -> Bool {
        guard commandContext != nil else { return false }
        let written = context.writeUnflushed(&commandContext.out)
        guard written > 0 else { return false }
        server.statistics.outputBytes.add(written, ordering: .relaxed)
        return true
    }
}

/// Limits a connection caches from the configuration, re-read only when `CONFIG SET` changed something.
struct ConnectionLimits {
    var request = RESPRequestLimits()
    var queryBufferLimit = 1 << 30
    /// `client-output-buffer-limit normal`.
    var normalOutputLimit = ServerConfiguration.OutputBufferLimit(hard: 0, soft: 0, seconds: 0)
    /// `client-output-buffer-limit pubsub`, for a connection that subscribes to anything.
    var pubsubOutputLimit = ServerConfiguration.OutputBufferLimit(hard: 0, soft: 0, seconds: 0)
    var requirePass: String?
    var generation = -1

    mutating func refresh(from server: ServerState) {
        generation = server.configurationGeneration.load(ordering: .acquiring)
        let config = server.currentConfiguration
        request.maxBulkLength = config.protoMaxBulkLength
        queryBufferLimit = config.clientQueryBufferLimit
        requirePass = config.requirePass
        normalOutputLimit = config.outputBufferLimits.normal
        pubsubOutputLimit = config.outputBufferLimits.pubsub
    }
}

extension SocketAddress {
    /// Whether the address is on the loopback interface (or a Unix socket), for protected mode.
    var isLoopback: Bool {
        switch self {
        case .unixDomainSocket: return true
        case .v4:
            return ipAddress?.hasPrefix("127.") ?? false
        case .v6:
            guard let ip = ipAddress else { return false }
            return ip == "::1" || ip.hasPrefix("::ffff:127.")
        }
    }
}
