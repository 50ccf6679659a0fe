import NIOCore

/// The memcached listener's per-connection handler: it only moves bytes. Requests are parsed in place from the
/// receive buffer by ``MemcacheRequestParser``, executed by ``MemcacheSession``, and the replies of one read batch
/// leave in one write.
///
/// Admission is the RESP port's: `maxclients` is shared, and protected mode (no password set) refuses clients
/// that are not on loopback. memcached has no way to name the reason, so a refused client gets memcached's generic
/// `SERVER_ERROR` line and is closed.
final class MemcacheConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: ServerState
    private let service: MemcacheService
    private var session: MemcacheSession!
    private var parser = MemcacheRequestParser()
    private var inbound: ByteBuffer?
    private var generation = -1
    private var queryBufferLimit = 1 << 30
    private var closing = false
    /// A forwarded request is awaited (cluster mode): input is buffered, not executed, until its reply is relayed.
    private var suspended = false
    /// The client half-closed while suspended: close once the buffered requests are answered.
    private var inputEnded = false
    private var counted = false
    /// Defers flushes to the end of the loop's turn, as the RESP connections do (see FlushCoalescer).
    private let coalescer: FlushCoalescer?
    /// Replies were written to the channel and a flush is queued on the coalescer.
    private var flushQueued = false
    private var channelContext: ChannelHandlerContext?

    init(server: ServerState, service: MemcacheService, coalescer: FlushCoalescer? = nil) {
        self.server = server
        self.service = service
        self.coalescer = coalescer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channelContext = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        channelContext = nil
    }

    /// Called by the coalescer at the end of the loop's turn.
    func flushDeferred() {
        flushQueued = false
        channelContext?.flush()
    }

    func channelActive(context: ChannelHandlerContext) {
        session = MemcacheSession(
            server: server, service: service, out: context.channel.allocator.buffer(capacity: 1024))
        refreshLimits()
        let statistics = service.statistics
        let config = server.currentConfiguration
        let refused: String?
        if statistics.currentConnections.load(ordering: .relaxed) >= config.maxClients {
            refused = "SERVER_ERROR Too many open connections"
        } else if config.protectedMode, config.requirePass == nil, let remote = context.channel.remoteAddress,
            !remote.isLoopback
        {
            refused = "SERVER_ERROR protected mode: only loopback clients are served while no password is set"
        } else {
            refused = nil
        }
        if let refused {
            statistics.rejectedConnections.increment()
            closing = true
            var buffer = context.channel.allocator.buffer(capacity: refused.utf8.count + 2)
            buffer.writeString(refused + "\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        statistics.currentConnections.add(1, ordering: .relaxed)
        statistics.totalConnections.increment()
        counted = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { service.statistics.currentConnections.subtract(1, ordering: .relaxed) }
        counted = false
        context.fireChannelInactive()
    }

    private func refreshLimits() {
        let current = server.configurationGeneration.load(ordering: .acquiring)
        guard current != generation else { return }
        generation = current
        let config = server.currentConfiguration
        session.limits.maxItemSize = config.memcachedMaxItemSize
        queryBufferLimit = config.clientQueryBufferLimit
        session.limits.maxRetrievalLineLength = min(config.clientQueryBufferLimit, 64 * 1024 * 1024)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = unwrapInboundIn(data)
        service.statistics.bytesRead.add(incoming.readableBytes, ordering: .relaxed)
        inbound.appendReceived(&incoming)
        if inbound!.readableBytes > queryBufferLimit {
            closing = true
            context.close(promise: nil)
            return
        }
        if !suspended { process(context: context) }
    }

    private func process(context: ChannelHandlerContext) {
        guard var buffer = inbound else { return }
        inbound = nil
        defer {
            server.replication.propagate(server)
            if buffer.readableBytes > 0 {
                buffer.discardReadBytes()
                inbound = buffer
            }
        }
        refreshLimits()
        if session.out.readableBytes == 0 { session.out.clear() }
        session.beginBatch()
        let clustered = server.cluster != nil
        while !closing && !suspended {
            var start = buffer.readerIndex
            if case .swallow(let remaining) = parser.state { start += remaining }
            guard let request = parser.parse(&buffer, limits: session.limits) else {
                if clustered, case .data = parser.state {
                    // Keep the command line with its data block, so the whole request can be forwarded.
                    buffer.moveReaderIndex(to: start)
                    parser.state = .line(scanned: 0)
                }
                break
            }
            if clustered {
                let end = buffer.readerIndex
                buffer.moveReaderIndex(to: start)
                let bytes = buffer.readSlice(length: end - start)!
                switch session.route(request, bytes: bytes) {
                case .local: session.execute(request)
                case .answered: break
                case .forward(let forwarded): forward(forwarded, context: context)
                case .split(let split): forward(split, context: context)
                }
            } else {
                session.execute(request)
            }
            if session.closeAfterReply {
                closing = true
                server.replication.propagate(server)
                flush(context: context)
                context.close(promise: nil)
                return
            }
            if session.out.readableBytes >= ConnectionHandler.replyFlushThreshold {
                server.replication.propagate(server)
                flush(context: context)
            }
        }
        scheduleDelayedFlush(context: context)
    }

    // MARK: Cluster forwarding

    /// Sends a request to the node that owns its key. When the client is owed a reply, the connection stops
    /// executing its pipeline until the reply is relayed, so replies keep the order of the requests.
    private func forward(_ request: MemcacheForwardedRequest, context: ChannelHandlerContext) {
        let forwarder = service.forwarder(for: context.eventLoop)
        let response = forwarder.send(
            request.bytes, to: request.node.host, port: request.node.port, expecting: request.expectation)
        guard request.waits else { return }
        suspend(on: response) { session, result in
            switch result {
            case .success(var reply):
                if request.endsWithNoop {
                    reply = reply.getSlice(at: reply.readerIndex, length: reply.readableBytes - 4)!
                }
                session.out.writeImmutableBuffer(reply)
            case .failure:
                session.line(MemcacheSession.forwardingFailed)
            }
        }
    }

    /// Sends the remote parts of a multi-key retrieval and merges their answers with the local part.
    private func forward(_ split: MemcacheSplitRetrieval, context: ChannelHandlerContext) {
        let forwarder = service.forwarder(for: context.eventLoop)
        let responses = split.remote.map { part in
            forwarder.send(part.bytes, to: part.node.host, port: part.node.port, expecting: part.expectation)
                .map { Optional($0) }.recover { _ in nil }
        }
        let all = EventLoopFuture.whenAllSucceed(responses, on: context.eventLoop)
        suspend(on: all) { session, result in
            session.merge(split, responses: (try? result.get()) ?? split.remote.map { _ in nil })
        }
    }

    /// Stops executing this connection's pipeline until `response` completes; then `answer` writes the reply, and
    /// the requests that arrived meanwhile run.
    private func suspend<Value>(
        on response: EventLoopFuture<Value>,
        answer: @escaping (inout MemcacheSession, Result<Value, any Error>) -> Void
    ) {
        suspended = true
        if let context = channelContext { flush(context: context) }
        response.assumeIsolated().whenComplete { [self] result in
            suspended = false
            guard let context = channelContext, !closing else { return }
            answer(&session, result)
            process(context: context)
            flush(context: context)
            if inputEnded && !suspended {
                closing = true
                context.close(promise: nil)
            }
        }
    }

    /// A delayed `flush_all` also runs on time when no memcached request arrives (the keyspace is shared with RESP).
    private func scheduleDelayedFlush(context: ChannelHandlerContext) {
        guard let due = session.delayedFlushAt else { return }
        session.delayedFlushAt = nil
        let (server, service) = (self.server, self.service)
        let delay = max(0, due - server.clock())
        context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
            service.flushIfDue(server, now: server.clock())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let coalescer, !closing {
            if writeReplies(context: context), !flushQueued {
                flushQueued = true
                coalescer.flushAtEndOfTurn(self)
            }
        } else {
            flush(context: context)
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if suspended {
                inputEnded = true
                return
            }
            flush(context: context)
            closing = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Writes and flushes the replies now, with any written earlier whose flush is still queued.
    private func flush(context: ChannelHandlerContext) {
        if writeReplies(context: context) || flushQueued { context.flush() }
    }

    /// Hands the pending replies to the channel without flushing; returns whether there were any.
    private func writeReplies(context: ChannelHandlerContext) -> Bool {
        guard session != nil else { return false }
        let written = context.writeUnflushed(&session.out)
        guard written > 0 else { return false }
        service.statistics.bytesWritten.add(written, ordering: .relaxed)
        return true
    }
}
