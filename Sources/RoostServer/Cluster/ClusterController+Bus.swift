import Logging
import NIOCore
import NIOPosix
import RoostCluster
import Synchronization

/// The bus's NIO state: listeners, one outbound link per peer address, and the tick timer. Guarded by the
/// controller's `bus` mutex; channel operations happen after the lock is released.
struct BusState: Sendable {
    /// One outbound link: frames wait while the connection is being made.
    enum Link: Sendable {
        case connecting(pending: [ByteBuffer], since: Int64)
        case connected(any Channel, since: Int64)
    }

    var loop: (any EventLoop)?
    var listeners: [any Channel] = []
    var links: [String: Link] = [:]
    var inbound: [ObjectIdentifier: (channel: any Channel, since: Int64)] = [:]
    var timer: (deadline: Int64, task: Scheduled<Void>)?
    var stopped = false
    /// Shared by every inbound link, so a flood of refused connections or bad frames logs a few lines a minute.
    var refusalLog = BusInboundLimits.LogBudget()
}

extension ClusterController {
    /// Frames that may queue on a link that is still connecting; more are dropped (the protocol tolerates loss).
    static let maximumPendingFrames = 256

    /// The limits on inbound bus connections, from the node timeout.
    var inboundLimits: BusInboundLimits { BusInboundLimits(nodeTimeout: settings.nodeTimeout) }

    /// Starts the bus on `loop`: announces the node's address, listens on `busPort` at each of `hosts`, and starts
    /// the state machine's clock.
    func startBus(on loop: any EventLoop, hosts: [String], ip: String, port: Int, busPort: Int) async throws {
        update { gossip, _, _ in
            let known = gossip.topology.myselfNode.ip
            gossip.announce(ip: ip.isEmpty ? known : ip, port: port, busPort: busPort)
        }
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BusInboundHandler(controller: self))
                }
            }
        var listeners: [any Channel] = []
        for address in hosts {
            let optional = address.hasPrefix("-")
            let host = optional ? String(address.dropFirst()) : address
            do {
                listeners.append(try await bootstrap.bind(host: host, port: busPort).get())
            } catch  where optional {
                continue
            } catch {
                for listener in listeners { try? await listener.close() }
                throw ServerError("Could not bind the cluster bus on \(host):\(busPort): \(error)")
            }
        }
        bus.withLock {
            $0.loop = loop
            $0.listeners = listeners
        }
        for listener in listeners {
            logger.notice("Cluster bus listening", metadata: ["address": "\(listener.localAddress!)"])
        }
        rescheduleTick()
    }

    /// Stops the bus: closes listeners and links and cancels the timer.
    func stopBus() async {
        let (listeners, timer) = bus.withLock { state in
            state.stopped = true
            defer {
                state.listeners = []
                state.timer = nil
            }
            return (state.listeners, state.timer?.task)
        }
        timer?.cancel()
        for listener in listeners { try? await listener.close() }
        closeLinks()
    }

    /// Closes every outbound and inbound link (they reconnect on demand).
    func closeLinks() {
        let channels = bus.withLock { state -> [any Channel] in
            var channels = state.inbound.values.map(\.channel)
            for link in state.links.values {
                if case .connected(let channel, _) = link { channels.append(channel) }
            }
            state.links = [:]
            state.inbound = [:]
            return channels
        }
        for channel in channels { channel.close(promise: nil) }
    }

    // MARK: Timer

    /// Makes sure a tick is scheduled at the state machine's next deadline (earlier than any scheduled one).
    func rescheduleTick() {
        let deadline = read { $0.nextDeadline }
        let now = clock()
        bus.withLock { state in
            guard let loop = state.loop, !state.stopped else { return }
            if let timer = state.timer {
                if timer.deadline <= deadline { return }
                timer.task.cancel()
            }
            let delay = TimeAmount.milliseconds(max(0, deadline - now))
            let task = loop.scheduleTask(in: delay) { [self] in
                bus.withLock { $0.timer = nil }
                tick()
            }
            state.timer = (deadline, task)
        }
    }

    // MARK: Sending

    /// Sends each message down the link to its receiver's address, connecting first if needed.
    func send(_ messages: [Gossip.Outgoing]) {
        for message in messages where !message.ip.isEmpty && message.busPort > 0 && !isPartitioned(message.to) {
            var frame = ByteBuffer()
            frame.writeBusFrame(message.message)
            send(frame, toHost: message.ip, port: message.busPort, node: message.to)
        }
    }

    /// Sends `message` to whatever node listens at `host:port` (`CLUSTER MEET`).
    func send(_ message: BusMessage, toHost host: String, port: Int) {
        var frame = ByteBuffer()
        frame.writeBusFrame(message)
        send(frame, toHost: host, port: port)
    }

    /// Sends a frame that may be lost (a publish): dropped rather than buffered when the link is not writable.
    func sendDroppable(_ frame: ByteBuffer, toHost host: String, port: Int, node: NodeID) {
        send(frame, toHost: host, port: port, node: node, droppable: true)
    }

    private func send(
        _ frame: ByteBuffer, toHost host: String, port: Int, node: NodeID? = nil, droppable: Bool = false
    ) {
        let key = "\(host):\(port)"
        let now = clock()
        enum Action {
            case write(any Channel)
            case connect(any EventLoop)
            case none
        }
        let action = bus.withLock { state -> Action in
            guard let loop = state.loop, !state.stopped else { return .none }
            switch state.links[key] {
            case .connected(let channel, _):
                return .write(channel)
            case .connecting(var pending, let since):
                if pending.count < Self.maximumPendingFrames { pending.append(frame) }
                state.links[key] = .connecting(pending: pending, since: since)
                return .none
            case nil:
                state.links[key] = .connecting(pending: [frame], since: now)
                return .connect(loop)
            }
        }
        switch action {
        case .write(let channel):
            if droppable && !channel.isWritable {
                logger.debug(
                    "Dropping a publish frame for a cluster bus link that is behind", metadata: ["peer": "\(key)"])
                return
            }
            channel.writeAndFlush(frame, promise: nil)
        case .connect(let loop):
            connect(key: key, host: host, port: port, node: node, on: loop)
        case .none:
            break
        }
    }

    private func connect(key: String, host: String, port: Int, node: NodeID?, on loop: any EventLoop) {
        let timeout = TimeAmount.milliseconds(max(100, min(settings.nodeTimeout / 2, 2_000)))
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(
                .writeBufferWaterMark,
                value: .init(low: BusFrame.maximumPublishPayload, high: 4 * BusFrame.maximumPublishPayload)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BusOutboundHandler())
                }
            }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    let now = clock()
                    let pending = bus.withLock { state -> [ByteBuffer]? in
                        guard case .connecting(let pending, _) = state.links[key], !state.stopped else { return nil }
                        state.links[key] = .connected(channel, since: now)
                        return pending
                    }
                    guard let pending else {
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { [self] _ in
                        bus.withLock { state in
                            if case .connected(let current, _) = state.links[key], current === channel {
                                state.links[key] = nil
                            }
                        }
                    }
                    for frame in pending { channel.write(frame, promise: nil) }
                    channel.flush()
                case .failure(let error):
                    bus.withLock { state in
                        if case .connecting = state.links[key] { state.links[key] = nil }
                    }
                    if let node { update { gossip, _, _ in gossip.setLinkState(.disconnected, of: node) } }
                    logger.debug("Cluster bus connect failed", metadata: ["peer": "\(key)", "error": "\(error)"])
                }
            }
    }

    // MARK: Inbound

    /// Registers a new inbound connection, or returns `false` (and registers nothing) when the node already has
    /// as many as ``inboundLimits`` allow for the nodes it knows.
    func inboundOpened(_ channel: any Channel) -> Bool {
        let now = clock()
        let knownNodes = read { $0.topology.nodes.count }
        let limits = inboundLimits
        let admitted = bus.withLock { state in
            guard !state.stopped, limits.admits(open: state.inbound.count, knownNodes: knownNodes) else {
                return false
            }
            state.inbound[ObjectIdentifier(channel)] = (channel, now)
            return true
        }
        guard admitted else {
            logBusRefusal(
                "Refusing a cluster bus connection: too many open", channel: channel,
                metadata: ["limit": "\(limits.maximumConnections(knownNodes: knownNodes))"])
            return false
        }
        if read({ $0.topology.myselfNode.ip.isEmpty }), let local = channel.localAddress?.ipAddress {
            update { gossip, _, _ in
                let me = gossip.topology.myselfNode
                gossip.announce(ip: local, port: me.port, busPort: me.busPort)
            }
        }
        return true
    }

    /// Logs why an inbound bus connection was refused or closed, within the shared budget: a flood of them logs
    /// a few lines a minute, each saying how many were left out before it.
    func logBusRefusal(_ message: Logger.Message, channel: any Channel, metadata: Logger.Metadata = [:]) {
        let now = clock()
        guard let suppressed = bus.withLock({ $0.refusalLog.take(now: now) }) else { return }
        var metadata = metadata
        metadata["peer"] = "\(channel.remoteAddress.map { "\($0)" } ?? "?")"
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.notice(message, metadata: metadata)
    }

    func inboundClosed(_ channel: any Channel) {
        _ = bus.withLock { $0.inbound.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The links for `CLUSTER LINKS`: direction, peer address, and when each was made.
    var linkDescriptions: [(direction: String, peer: String, since: Int64)] {
        bus.withLock { state in
            var result: [(direction: String, peer: String, since: Int64)] = []
            for (key, link) in state.links.sorted(by: { $0.key < $1.key }) {
                if case .connected(_, let since) = link { result.append(("to", key, since)) }
            }
            for (channel, since) in state.inbound.values {
                let peer = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                result.append(("from", peer, since))
            }
            return result
        }
    }
}

/// The sending side of a link: nothing is expected back, so anything the peer sends is dropped.
final class BusOutboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
