public import Logging
import NIOCore
public import NIOPosix
import RoostCore
public import ServiceLifecycle
import Synchronization

/// A Roost server: binds the configured addresses, serves connections on one event loop per usable core, runs
/// the periodic jobs (active expiry, idle-client timeouts) and shuts down gracefully.
///
/// It is a `Service`: run it in a `ServiceGroup` that handles SIGTERM, or call ``run()`` directly. `SHUTDOWN`
/// ends ``run()`` the same way a graceful shutdown does.
public final class RoostServer: Service, Sendable {
    /// Shared state (keyspace, configuration, clients).
    public let state: ServerState
    /// One end-of-turn flush coalescer per event loop, shared by the RESP and memcached listeners.
    private let coalescers: FlushCoalescers
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let listening = Mutex<[any Channel]>([])
    private let ready = Mutex<(ports: [Int]?, waiters: [CheckedContinuation<[Int], any Error>])>((nil, []))

    /// Creates a server. With no `group`, it makes one with `event-loops` threads (0: the cores this process may
    /// run on, from its CPU affinity and cgroup quota).
    public init(configuration: ServerConfiguration, logger: Logger, group: MultiThreadedEventLoopGroup? = nil) {
        self.state = ServerState(configuration: configuration, logger: logger)
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            let threads = configuration.resolvedEventLoops
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
            self.ownsGroup = true
        }
        self.coalescers = FlushCoalescers(group: self.group)
        let loops = Array(self.group.makeIterator())
        state.eventLoopCount.store(loops.count, ordering: .relaxed)
        state.eventLoops.withLock { $0 = loops }
    }

    /// The bound TCP ports, once listening (useful with `port 0`).
    public func listeningPorts() async throws -> [Int] {
        try await withCheckedThrowingContinuation { continuation in
            let ports = ready.withLock { state -> [Int]? in
                if let ports = state.ports { return ports }
                state.waiters.append(continuation)
                return nil
            }
            if let ports { continuation.resume(returning: ports) }
        }
    }

    /// Binds, serves until SIGTERM/SIGINT (through the service group) or `SHUTDOWN`, then drains and closes.
    public func run() async throws {
        let config = state.currentConfiguration
        let channels: [any Channel]
        do {
            if let cluster = state.cluster {
                do {
                    try cluster.load(path: config.clusterConfigFile)
                } catch {
                    throw ServerError("Could not load the cluster config file \(config.clusterConfigFile): \(error)")
                }
            }
            let resp = try await bind(config)
            do {
                channels = try await resp + bindMemcached(config)
            } catch {
                for channel in resp { try? await channel.close() }
                throw error
            }
            if let cluster = state.cluster {
                let port = channels.first?.localAddress?.port ?? config.port
                var resolved = config
                resolved.port = port
                let busPort = ClusterController.busPort(resolved)
                guard busPort <= 65535 else {
                    for channel in channels { try? await channel.close() }
                    throw ServerError("The cluster bus port \(busPort) is out of range: set cluster-port")
                }
                do {
                    try await cluster.startBus(
                        on: group.next(), hosts: config.bind, ip: ClusterController.initialIP(config), port: port,
                        busPort: busPort)
                } catch {
                    for channel in channels { try? await channel.close() }
                    throw error
                }
            }
        } catch {
            failReady(error)
            try await shutdownGroup()
            throw error
        }
        listening.withLock { $0 = channels }
        let ports = channels.compactMap { $0.localAddress?.port }
        state.boundPort.store(ports.first ?? config.port, ordering: .relaxed)
        state.cluster?.attach(state, loop: group.next())
        ready.withLock { state in
            state.ports = ports
            for waiter in state.waiters { waiter.resume(returning: ports) }
            state.waiters = []
        }
        for channel in channels {
            state.logger.notice("Ready to accept connections", metadata: ["address": "\(channel.localAddress!)"])
        }
        let cron = startCron()

        let signal = state.shutdown
        await withGracefulShutdownHandler {
            await signal.wait()
        } onGracefulShutdown: {
            signal.fire()
        }

        state.logger.notice("Shutting down: closing listeners and draining clients")
        cron.cancel()
        for channel in channels { try? await channel.close() }
        await state.cluster?.stopBus()
        await drainClients()
        try await shutdownGroup()
        state.logger.notice("Roost is now ready to exit, bye bye...")
    }

    private func failReady(_ error: any Error) {
        ready.withLock { state in
            for waiter in state.waiters { waiter.resume(throwing: error) }
            state.waiters = []
        }
    }

    private func shutdownGroup() async throws {
        if ownsGroup { try await group.shutdownGracefully() }
    }

    private func bind(_ config: ServerConfiguration) async throws -> [any Channel] {
        let state = self.state
        let coalescers = self.coalescers
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(config.tcpBacklog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: config.tcpKeepalive > 0 ? 1 : 0)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(server: state, coalescer: coalescers.coalescer(for: channel.eventLoop))
                    )
                }
            }
        var channels: [any Channel] = []
        var port = config.port
        for address in config.bind {
            let optional = address.hasPrefix("-")
            let host = optional ? String(address.dropFirst()) : address
            do {
                let channel = try await bootstrap.bind(host: host, port: port).get()
                // With port 0, every address shares the port the first bind chose.
                if port == 0, let chosen = channel.localAddress?.port { port = chosen }
                channels.append(channel)
            } catch  where optional {
                state.logger.info("Skipping optional bind address", metadata: ["address": "\(host)"])
            } catch {
                for channel in channels { try? await channel.close() }
                throw ServerError("Could not bind \(host):\(port): \(error)")
            }
        }
        guard !channels.isEmpty else { throw ServerError("No address could be bound") }
        return channels
    }

    /// The memcached protocol listener, when `memcached-port` is set (see docs/MEMCACHED.md).
    private func bindMemcached(_ config: ServerConfiguration) async throws -> [any Channel] {
        guard config.memcachedPort != 0 else { return [] }
        return try await MemcacheListener.bind(
            port: config.memcachedPort, configuration: config, state: state, group: group, coalescers: coalescers)
    }

    /// Flushes what every client was already sent and closes it.
    private func drainClients() async {
        let sessions = state.clients.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for session in sessions {
                group.addTask {
                    let channel = session.channel
                    try? await channel.eventLoop.flatSubmit {
                        channel.writeAndFlush(ByteBuffer()).flatMap { channel.close() }
                    }.get()
                }
            }
        }
    }

    /// The periodic jobs, every 1000/hz ms on one event loop.
    private func startCron() -> RepeatedTask {
        let state = self.state
        let hz = max(1, min(500, state.currentConfiguration.hz))
        let interval = TimeAmount.milliseconds(Int64(1000 / hz))
        let loop = group.next()
        return loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            ServerCron.run(state, hz: hz, on: loop)
        }
    }
}

/// A server start-up failure with a message for the operator.
public struct ServerError: Error, CustomStringConvertible {
    /// The message.
    public var description: String
    init(_ description: String) { self.description = description }
}
