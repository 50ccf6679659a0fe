public import Logging
public import NIOCore
import NIOPosix
import RoostCluster
import RoostProtocol
public import ServiceLifecycle

/// An async/await client for Roost and any Redis-protocol server, standalone or cluster.
///
/// One `RoostClient` is shared by the whole program: it is `Sendable`, and concurrent calls share pooled
/// connections with automatic pipelining (calls made while a batch is being written go out together in the next
/// write, and replies are matched in order). In cluster mode it routes each command to the node serving its
/// key's hash slot, follows `MOVED` and `ASK`, splits multi-key commands by slot, and retries transient failures
/// (see ``Configuration/Retry``).
///
/// Run it as a `Service` (swift-service-lifecycle) so that its background work (health checks, reconnection)
/// runs and it shuts down gracefully, or use ``withRoostClient(configuration:logger:_:)``:
///
/// ```swift
/// try await withRoostClient(configuration: .standalone(host: "127.0.0.1", port: 6379), logger: logger) { client in
///     try await client.set("greeting", "hello", ttl: .seconds(30))
///     let value = try await client.getString("greeting")  // "hello"
/// }
/// ```
///
/// Commands can be sent before ``run()`` starts (connections open on demand); once ``run()`` returns, they fail
/// with ``RoostClientError/Code/shutdown``.
public final class RoostClient: Sendable, Service {
    /// The event loop group used when a configuration names none: NIO's shared singleton.
    public static var defaultEventLoopGroup: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// The configuration the client was created with.
    public let configuration: Configuration
    let logger: Logger
    let pools: PoolRegistry
    let router: Router
    /// Loads in flight for ``get(_:ttl:options:loadingWith:)`` (single flight per key).
    let loads = LoadFlights()
    /// The near cache, when ``Configuration/nearCache`` is set.
    let nearCache: TrackedNearCache?

    /// Where commands go.
    enum Router: Sendable {
        case standalone(NodePool)
        case cluster(ClusterRouter)
    }

    /// Creates a client. No connection is opened until the first command (or ``run()``'s first health check).
    ///
    /// - Parameters:
    ///   - configuration: where the server is and how to talk to it.
    ///   - logger: used for connection events at `debug` level and failures at `warning`; never bootstrapped
    ///     here. Values and keys are never logged.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let connection = ConnectionConfiguration(
            commandTimeout: configuration.commandTimeout,
            connectTimeout: configuration.connectTimeout,
            preferRESP3: configuration.preferRESP3,
            username: configuration.username,
            password: configuration.password,
            clientName: configuration.clientName)
        let settings = configuration.pool
        let group = configuration.eventLoopGroup
        let pools = PoolRegistry { host, port, readOnly in
            NodePool(
                host: host, port: port, readOnly: readOnly, settings: settings, connection: connection,
                eventLoopGroup: group, logger: logger)
        }
        self.pools = pools
        let nearCache = configuration.nearCache.map {
            TrackedNearCache(
                configuration: $0, connection: connection, eventLoopGroup: group, backoff: settings.reconnectBackoff,
                checksRole: { if case .cluster = configuration.mode { true } else { false } }(), logger: logger)
        }
        self.nearCache = nearCache
        switch configuration.mode {
        case .standalone(let endpoint):
            router = .standalone(pools.pool(host: endpoint.host, port: endpoint.port, readOnly: false))
        case .cluster(let seeds):
            router = .cluster(
                ClusterRouter(seeds: seeds, pools: pools, logger: logger) {
                    // Keys cached from a node that no longer serves their slot would miss the new owner's
                    // invalidations.
                    nearCache?.flush(reason: "cluster slot map changed")
                })
        }
    }

    /// Runs health checks (pinging idle connections, keeping ``Configuration/Pool/minimumConnections`` open, and
    /// the near cache's heartbeats) until the task is cancelled or a graceful shutdown is requested; then stops
    /// taking commands, waits up to ``Configuration/shutdownTimeout`` for in-flight ones and closes every
    /// connection.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let nearCache = self.nearCache {
                    group.addTask {
                        while !Task.isCancelled {
                            await nearCache.heartbeat()
                            try? await Task.sleep(for: nearCache.configuration.heartbeatInterval)
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        for pool in self.pools.all { await pool.healthCheck() }
                        try? await Task.sleep(for: self.configuration.pool.healthCheckInterval)
                    }
                }
            }
        }
        await shutdown()
    }

    private func shutdown() async {
        nearCache?.shutdown()
        let timeout = configuration.shutdownTimeout
        await withTaskGroup(of: Void.self) { group in
            for pool in pools.all {
                group.addTask { await pool.shutdown(timeout: timeout) }
            }
        }
        logger.debug("client shut down")
    }

    // MARK: - Executing commands

    /// Runs one command routed by `key` (its hash slot, in cluster mode) and returns its reply; error replies are
    /// thrown. `encode` writes the whole command (header included) and may run more than once (retries).
    ///
    /// A write (`readOnly == false`) invalidates `key` in the near cache when it completes, whether it succeeded
    /// or not.
    func execute(
        _ command: StaticString, key: String?, readOnly: Bool, _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        if !readOnly, let key, let nearCache {
            defer { nearCache.invalidateLocally(CollectionOfOne(key)) }
            return try await route(command, key: key, readOnly: readOnly, encode)
        }
        return try await route(command, key: key, readOnly: readOnly, encode)
    }

    private func route(
        _ command: StaticString, key: String?, readOnly: Bool, _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        switch router {
        case .standalone(let pool):
            return try await executeStandalone(pool, command, readOnly: readOnly, encode)
        case .cluster(let router):
            return try await executeCluster(
                router, command, slot: key.map { keySlot($0) }, readOnly: readOnly, encode)
        }
    }

    /// Runs one command in cluster mode on the node serving `slot`; elsewhere the same as ``execute(_:key:readOnly:_:)``.
    func execute(
        _ command: StaticString, slot: Int?, readOnly: Bool, _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        switch router {
        case .standalone(let pool):
            return try await executeStandalone(pool, command, readOnly: readOnly, encode)
        case .cluster(let router):
            return try await executeCluster(router, command, slot: slot, readOnly: readOnly, encode)
        }
    }

    /// Whether the client routes by slot.
    var isCluster: Bool {
        if case .cluster = router { return true }
        return false
    }

    /// Every primary's pool: the one node in standalone mode.
    func primaryPools() async throws(RoostClientError) -> [NodePool] {
        switch router {
        case .standalone(let pool): return [pool]
        case .cluster(let router): return try await router.primaries()
        }
    }

    /// Runs a command on one given pool (no routing, no redirection), throwing error replies.
    func execute(
        on pool: NodePool, _ command: StaticString, _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        try await executeStandalone(pool, command, readOnly: false, encode)
    }

    private func isRetryable(_ error: RoostClientError, readOnly: Bool) -> Bool {
        error.code == .connectionFailed || (error.code == .connectionClosed && readOnly)
    }

    private func executeStandalone(
        _ pool: NodePool, _ command: StaticString, readOnly: Bool, _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        var attempt = 1
        var deadline: ContinuousClock.Instant?
        while true {
            let result: ReplyResult
            do throws(RoostClientError) {
                result = try await pool.connection().send(command, encode)
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(.error(let text)):
                throw RoostClientError.server(String(buffer: text), command: "\(command)", node: pool.node)
            case .success(let reply):
                return reply
            case .failure(let error):
                guard isRetryable(error, readOnly: readOnly),
                    await backoff(attempt: attempt, after: error, deadline: &deadline)
                else {
                    throw error.with(command: "\(command)", node: pool.node)
                }
                attempt += 1
            }
        }
    }

    /// Waits before retry number `attempt`, or returns `false` when the retry budget is spent: the attempts, or
    /// the time (retries stop one command timeout after the first failure, `deadline`, set here on first use).
    private func backoff(
        attempt: Int, after error: RoostClientError, deadline: inout ContinuousClock.Instant?
    ) async -> Bool {
        guard attempt < configuration.retry.maximumAttempts else { return false }
        let now = ContinuousClock.now
        let limit = deadline ?? now + configuration.commandTimeout
        deadline = limit
        let delay = configuration.retry.backoff.delay(attempt: attempt)
        guard now + delay < limit else { return false }
        logger.debug(
            "retrying", metadata: ["roost.attempt": "\(attempt)", "roost.error": "\(error.description)"])
        do {
            try await Task.sleep(for: delay)
        } catch {
            return false
        }
        return true
    }

    private func executeCluster(
        _ router: ClusterRouter, _ command: StaticString, slot: Int?, readOnly: Bool,
        _ encode: (inout ByteBuffer) -> Void
    ) async throws(RoostClientError) -> RESPValue {
        var attempt = 1
        var deadline: ContinuousClock.Instant?
        var askTarget: NodePool?
        let maximumAttempts = configuration.retry.maximumAttempts
        var replica = readOnly && configuration.readFromReplicas
        while true {
            var pool: NodePool?
            let result: ReplyResult
            do throws(RoostClientError) {
                let target: NodePool
                if let askTarget {
                    target = askTarget
                } else {
                    target = try await router.pool(forSlot: slot, replica: replica)
                }
                pool = target
                let connection = try await target.connection()
                result =
                    askTarget == nil
                    ? await connection.send(command, encode) : await connection.sendAsking(command, encode)
            } catch {
                result = .failure(error)
            }
            askTarget = nil
            let node = pool?.node
            switch result {
            case .success(.error(let text)):
                let message = String(buffer: text)
                let error = RoostClientError.server(message, command: "\(command)", node: node)
                switch error.serverCode {
                case "MOVED", "ASK":
                    guard let redirection = ClusterRedirection(message[...], defaultHost: pool?.host ?? "") else {
                        throw RoostClientError(
                            .redirectionFailed, "malformed redirection: \(message)", command: "\(command)",
                            node: node)
                    }
                    guard attempt < maximumAttempts else {
                        throw RoostClientError(
                            .redirectionFailed,
                            "still redirected after \(attempt) attempts (last: \(message))",
                            command: "\(command)", node: node)
                    }
                    if redirection.kind == .moved {
                        router.moved(redirection)
                    } else {
                        askTarget = pools.pool(host: redirection.host, port: redirection.port, readOnly: false)
                    }
                    attempt += 1
                case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN":
                    if error.serverCode != "TRYAGAIN" { router.scheduleRefresh() }
                    replica = false  // a replica still loading (or cut off): ask the primary
                    guard await backoff(attempt: attempt, after: error, deadline: &deadline) else { throw error }
                    attempt += 1
                default:
                    throw error
                }
            case .success(let reply):
                return reply
            case .failure(let error):
                let error = error.with(command: "\(command)", node: node)
                let transient = isRetryable(error, readOnly: readOnly) || error.code == .clusterUnavailable
                guard transient else { throw error }
                router.scheduleRefresh()
                replica = false
                guard await backoff(attempt: attempt, after: error, deadline: &deadline) else { throw error }
                attempt += 1
            }
        }
    }
}

/// Creates a client, runs it for the duration of `body` and shuts it down gracefully when `body` returns or
/// throws (in-flight commands are answered first, up to ``RoostClient/Configuration/shutdownTimeout``).
///
/// - Returns: what `body` returns.
public func withRoostClient<Result: Sendable>(
    configuration: RoostClient.Configuration,
    logger: Logger,
    _ body: (RoostClient) async throws -> Result
) async throws -> Result {
    let client = RoostClient(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        do {
            let result = try await body(client)
            group.cancelAll()
            try await group.waitForAll()
            return result
        } catch {
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
    }
}
