import Logging
import NIOCore
import NIOPosix
import RoostCore
import RoostProtocol

extension Replication {
    // MARK: Roles

    /// Makes this server a replica of `host:port` (`REPLICAOF`, `CLUSTER REPLICATE`, or a primary that lost its
    /// slots): its own replicas are dropped, changes are no longer recorded, and a link to the primary is opened
    /// (and reopened every second while it fails). Does nothing if it already replicates that address.
    func becomeReplica(of host: String, port: Int, server: ServerState, on eventLoop: any EventLoop) {
        let (generation, oldLink, feeds, waiters) = state.withLock {
            state -> (Int?, (any Channel)?, [any Channel], [Waiter]) in
            if state.role == .replica(host: host, port: port) { return (nil, nil, [], []) }
            state.role = .replica(host: host, port: port)
            state.linkGeneration += 1
            state.linkState = .connecting
            let old = state.linkChannel
            state.linkChannel = nil
            let feeds = state.feeds.values.map(\.channel)
            state.feeds = [:]
            defer { state.waiters = [] }
            return (state.linkGeneration, old, feeds, state.waiters)
        }
        Self.complete(waiters.map { ($0.promise, 0) })
        guard let generation else { return }
        isReplica.store(true, ordering: .relaxed)
        recording.store(false, ordering: .relaxed)
        server.keyspace.withLock { keyspace in
            keyspace.recordsChanges = false
            keyspace.retainsExpired = true
            _ = keyspace.takeChanges { _ in () }
        }
        oldLink?.close(promise: nil)
        for channel in feeds { channel.close(promise: nil) }
        logger.notice("Replicating \(host):\(port)")
        connect(server, generation: generation, on: eventLoop)
    }

    /// Makes this server a primary (`REPLICAOF NO ONE`, or a replica promoted by a failover): the link to the old
    /// primary closes, the replication ID changes and the old one becomes `master_replid2`, so replicas of the old
    /// primary that follow this node can continue from their offsets. Does nothing on a primary.
    func becomePrimary(_ server: ServerState) {
        let oldLink = state.withLock { state -> (any Channel)?? in
            guard case .replica = state.role else { return .none }
            state.role = .primary
            state.linkGeneration += 1
            state.replicationID2 = state.replicationID
            state.secondOffset = state.offset + 1
            state.replicationID = Self.newReplicationID()
            if state.backlog == nil {
                state.backlog = ReplicationBacklog(
                    capacity: server.currentConfiguration.replBacklogSize, endOffset: state.offset)
            }
            defer { state.linkChannel = nil }
            return .some(state.linkChannel)
        }
        guard case .some(let link) = oldLink else { return }
        link?.close(promise: nil)
        server.keyspace.withLock { keyspace in
            keyspace.recordsChanges = true
            keyspace.retainsExpired = false
            _ = keyspace.takeChanges { _ in () }
        }
        recording.store(true, ordering: .relaxed)
        isReplica.store(false, ordering: .relaxed)
        logger.notice("Now a primary", metadata: ["replid": "\(state.withLock { $0.replicationID })"])
    }

    // MARK: The link (replica side)

    private func connect(_ server: ServerState, generation: Int, on eventLoop: any EventLoop) {
        let target = state.withLock { state -> (String, Int)? in
            guard state.linkGeneration == generation, case .replica(let host, let port) = state.role else {
                return nil
            }
            state.linkState = .connecting
            return (host, port)
        }
        guard let (host, port) = target else { return }
        let timeout = Int64(server.currentConfiguration.replTimeout) * 1000
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ReplicaLinkHandler(
                            replication: self, server: server, generation: generation, timeout: timeout))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let current = self.state.withLock { state -> Bool in
                        guard state.linkGeneration == generation else { return false }
                        state.linkChannel = channel
                        return true
                    }
                    if !current { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in
                        self.linkClosed(server, generation: generation, on: eventLoop)
                    }
                case .failure:
                    self.linkClosed(server, generation: generation, on: eventLoop)
                }
            }
    }

    private func linkClosed(_ server: ServerState, generation: Int, on eventLoop: any EventLoop) {
        let retry = state.withLock { state -> TimeAmount? in
            guard state.linkGeneration == generation else { return nil }
            // A link that was up is retried at once (a dropped connection); a primary that cannot be reached,
            // every second.
            let wasUp = state.linkState == .connected
            state.linkChannel = nil
            state.linkState = .connecting
            return wasUp ? .milliseconds(50) : .seconds(1)
        }
        guard let retry else { return }
        eventLoop.scheduleTask(in: retry) { self.connect(server, generation: generation, on: eventLoop) }
    }

    /// The `PSYNC` arguments for the current history: the replication ID and offset, or `?` and -1 when this node
    /// has never synchronised.
    func resumePoint() -> (id: String, offset: Int64) {
        state.withLock { state in
            state.backlog == nil ? ("?", -1) : (state.replicationID, state.offset + 1)
        }
    }

    /// `+FULLRESYNC id offset`: the keyspace is replaced by the snapshot that follows.
    func beginFullSync(_ server: ServerState, id: String, offset: Int64, generation: Int) -> Bool {
        let capacity = server.currentConfiguration.replBacklogSize
        let now = server.clock()
        let current = state.withLock { state -> Bool in
            guard state.linkGeneration == generation else { return false }
            state.replicationID = id
            state.replicationID2 = String(repeating: "0", count: 40)
            state.secondOffset = -1
            state.offset = offset
            state.backlog = ReplicationBacklog(capacity: capacity, endOffset: offset)
            state.linkState = .sync
            state.syncStarted = now
            state.lastPrimaryIO = now
            return true
        }
        guard current else { return false }
        server.keyspace.withLock { $0.removeAll() }
        logger.notice("Full resync from the primary", metadata: ["replid": "\(id)", "offset": "\(offset)"])
        return true
    }

    /// `+CONTINUE [id]`: the stream resumes at this node's offset; a new ID means the primary was promoted.
    func continueSync(id: String?, generation: Int) -> Bool {
        state.withLock { state in
            guard state.linkGeneration == generation else { return false }
            if let id, id != state.replicationID {
                state.replicationID2 = state.replicationID
                state.secondOffset = state.offset + 1
                state.replicationID = id
            }
            state.linkState = .connected
            return true
        }
    }

    /// The snapshot ended: the stream that follows counts toward the offset.
    func snapshotFinished(generation: Int) {
        state.withLock { state in
            guard state.linkGeneration == generation else { return }
            state.linkState = .connected
        }
        logger.notice("Full resync finished")
    }

    /// Records stream bytes the replica applied.
    func applied(_ bytes: ByteBuffer, generation: Int, now: Int64) -> Int64? {
        state.withLock { state in
            guard state.linkGeneration == generation else { return nil }
            state.offset += Int64(bytes.readableBytes)
            bytes.withUnsafeReadableBytes { state.backlog?.append($0) }
            state.lastPrimaryIO = now
            return state.offset
        }
    }

    func heardFromPrimary(now: Int64) {
        state.withLock { $0.lastPrimaryIO = now }
    }
}

/// The replica's end of its link to the primary: the handshake (`REPLCONF listening-port`, `PSYNC`), then the
/// snapshot and the stream, each command applied through the command table as if from a trusted client; it
/// acknowledges its offset every second and when asked.
final class ReplicaLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Waiting for the replies to `REPLCONF listening-port` and `PSYNC`.
        case handshake(repliesLeft: Int)
        case snapshot
        case stream
    }

    private let replication: Replication
    private let server: ServerState
    private let generation: Int
    private let timeout: Int64
    private var phase = Phase.handshake(repliesLeft: 2)
    private var inbound: ByteBuffer?
    private var parser = RESPRequestParser()
    private var limits = RESPRequestLimits()
    private var commandContext: CommandContext!
    private var ackTask: RepeatedTask?
    private var snapshotKeys = 0

    init(replication: Replication, server: ServerState, generation: Int, timeout: Int64) {
        self.replication = replication
        self.server = server
        self.generation = generation
        self.timeout = timeout
        limits.authenticated = true
        limits.maxBulkLength = max(server.currentConfiguration.protoMaxBulkLength, 512 << 20)
    }

    func channelActive(context: ChannelHandlerContext) {
        let clientID = server.nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue
        let session = ClientSession(id: clientID, channel: context.channel, now: server.clock())
        session.visible.withLock { $0.kind = "master" }
        server.clients.withLock { $0[clientID] = session }
        commandContext = CommandContext(
            server: server, session: session, out: context.channel.allocator.buffer(capacity: 256), authenticated: true)
        commandContext.fromPrimary = true
        replication.state.withLock { $0.linkState = .handshake }
        let (id, offset) = replication.resumePoint()
        var request = context.channel.allocator.buffer(capacity: 128)
        ReplicationRecord.writeCommand(
            &request, ["REPLCONF", "listening-port", String(server.boundPort.load(ordering: .relaxed))])
        ReplicationRecord.writeCommand(&request, ["PSYNC", id, String(offset)])
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        let channel = context.channel
        let timeout = self.timeout
        ackTask = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            let now = server.clock()
            let (last, connected) = replication.state.withLock { ($0.lastPrimaryIO, $0.linkState == .connected) }
            if now - last > timeout {
                replication.logger.warning("Timeout on the link to the primary: no data for repl-timeout")
                channel.close(promise: nil)
                return
            }
            if connected { sendAcknowledgement(channel) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ackTask?.cancel()
        ackTask = nil
        if let id = commandContext?.session.id { _ = server.clients.withLock { $0.removeValue(forKey: id) } }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replication.logger.warning("Replication link error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func sendAcknowledgement(_ channel: any Channel) {
        var ack = channel.allocator.buffer(capacity: 64)
        ReplicationRecord.writeCommand(&ack, ["REPLCONF", "ACK", String(replication.offset)])
        channel.writeAndFlush(ack, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        inbound.appendReceived(&incoming)
        guard var buffer = inbound else { return }
        inbound = nil
        defer {
            if buffer.readableBytes > 0 {
                buffer.discardReadBytes()
                inbound = buffer
            }
        }
        let now = server.clock()
        replication.heardFromPrimary(now: now)
        Dispatcher.beginBatch(&commandContext)
        while context.channel.isActive {
            if case .handshake(let left) = phase {
                guard let line = Self.readLine(&buffer) else { return }
                if !handshakeReply(line, repliesLeft: left, context: context) { return }
                continue
            }
            let before = buffer
            do {
                guard try parser.parse(&buffer, into: &commandContext.arguments, limits: limits) else { break }
            } catch {
                replication.logger.error("Bad data on the replication link", metadata: ["error": "\(error.message)"])
                context.close(promise: nil)
                return
            }
            let consumed = before.getSlice(at: before.readerIndex, length: before.readableBytes - buffer.readableBytes)!
            apply(context: context, record: consumed, now: now)
        }
        commandContext.out.clear()
        commandContext.arguments.removeAll(keepingCapacity: true)
    }

    /// Applies one record of the snapshot or the stream.
    private func apply(context: ChannelHandlerContext, record: ByteBuffer, now: Int64) {
        let arguments = commandContext.arguments
        let isReplconf = arguments.count >= 2 && commandContext.argument(0, is: "REPLCONF")
        if isReplconf && commandContext.argument(1, is: "SNAPSHOT-END") {
            phase = .stream
            replication.snapshotFinished(generation: generation)
            replication.logger.notice("Snapshot applied", metadata: ["keys": "\(snapshotKeys)"])
            sendAcknowledgement(context.channel)
            return
        }
        if !isReplconf {
            Dispatcher.execute(&commandContext)
            if commandContext.out.readableBytes > 4096 { commandContext.out.clear() }
        }
        guard case .stream = phase else {
            snapshotKeys += 1
            return
        }
        guard replication.applied(record, generation: generation, now: now) != nil else {
            context.close(promise: nil)
            return
        }
        if isReplconf && commandContext.argument(1, is: "GETACK") { sendAcknowledgement(context.channel) }
    }

    /// Handles one reply line of the handshake; returns false to stop reading.
    private func handshakeReply(_ line: String, repliesLeft: Int, context: ChannelHandlerContext) -> Bool {
        if line.hasPrefix("-") {
            replication.logger.error("The primary refused replication", metadata: ["reply": "\(line)"])
            context.close(promise: nil)
            return false
        }
        if repliesLeft > 1 {
            phase = .handshake(repliesLeft: repliesLeft - 1)
            return true
        }
        let words = line.dropFirst().split(separator: " ").map(String.init)
        if words.first == "FULLRESYNC", words.count == 3, let offset = Int64(words[2]) {
            guard replication.beginFullSync(server, id: words[1], offset: offset, generation: generation) else {
                context.close(promise: nil)
                return false
            }
            phase = .snapshot
            return true
        }
        if words.first == "CONTINUE" {
            guard replication.continueSync(id: words.count > 1 ? words[1] : nil, generation: generation) else {
                context.close(promise: nil)
                return false
            }
            replication.logger.notice("Partial resync from the primary")
            phase = .stream
            return true
        }
        replication.logger.error("Unexpected reply to PSYNC", metadata: ["reply": "\(line)"])
        context.close(promise: nil)
        return false
    }

    /// One `\r\n`-terminated line (without the terminator), or nil when incomplete.
    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let end = view.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let length = view.distance(from: view.startIndex, to: end) + 1
        guard var line = buffer.readString(length: length) else { return nil }
        while let last = line.last, last.isNewline { line.removeLast() }
        return line
    }
}
