import Logging
import NIOCore
import RoostProtocol
import Synchronization

/// The connections to one node (for one role: ordinary, or `READONLY` for replica reads).
///
/// Connections are shared, not leased: every request goes to the open connection with the fewest outstanding
/// commands, and pipelines there. A new connection is opened, up to ``RoostClient/Configuration/Pool/maximumConnections``,
/// when even the least loaded one has ``RoostClient/Configuration/Pool/pipelineThreshold`` commands outstanding.
/// Opening is single-flight: callers that find no open connection wait for the one attempt in progress. After a
/// failed attempt the next one waits a ``RoostBackoff`` delay; a caller that would have to wait longer than its
/// command timeout for it fails at once with the last error instead.
final class NodePool: Sendable {
    let host: String
    let port: Int
    let readOnly: Bool
    /// `host:port`.
    let node: String

    private struct State {
        var connections: [RoostConnection] = []
        /// The attempt in progress, which waiters join.
        var opening: Task<Result<RoostConnection, RoostClientError>, Never>?
        var consecutiveFailures = 0
        var nextAttempt = ContinuousClock.now
        var lastError: RoostClientError?
        var isShutDown = false
    }

    private let state = Mutex(State())
    private let settings: RoostClient.Configuration.Pool
    private let connection: ConnectionConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    init(
        host: String, port: Int, readOnly: Bool, settings: RoostClient.Configuration.Pool,
        connection: ConnectionConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.readOnly = readOnly
        self.node = "\(host):\(port)"
        self.settings = settings
        self.connection = connection
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    private enum Pick {
        case use(RoostConnection)
        case wait(Task<Result<RoostConnection, RoostClientError>, Never>)
        case fail(RoostClientError)
    }

    /// A connection to send on: the least loaded open one, or a new one.
    func connection() async throws(RoostClientError) -> RoostConnection {
        let pick: Pick = state.withLock { state in
            if state.isShutDown { return .fail(RoostClientError(.shutdown, "the client has shut down", node: node)) }
            var best: RoostConnection?
            var bestLoad = Int.max
            for candidate in state.connections {
                let load = candidate.outstanding
                if load < bestLoad {
                    best = candidate
                    bestLoad = load
                }
            }
            if let best {
                if bestLoad >= settings.pipelineThreshold, state.connections.count < settings.maximumConnections,
                    state.opening == nil, ContinuousClock.now >= state.nextAttempt
                {
                    state.opening = startOpening()
                }
                return .use(best)
            }
            if let opening = state.opening { return .wait(opening) }
            let wait = state.nextAttempt - ContinuousClock.now
            if wait > connection.commandTimeout, let lastError = state.lastError {
                var error = lastError
                error.message += " (\(state.consecutiveFailures) failed attempts; next in \(wait))"
                return .fail(error)
            }
            let opening = startOpening()
            state.opening = opening
            return .wait(opening)
        }
        switch pick {
        case .use(let connection):
            return connection
        case .wait(let task):
            return try await task.value.get()
        case .fail(let error):
            throw error
        }
    }

    /// Starts one attempt to open a connection (after the backoff delay); the caller holds the lock.
    private func startOpening() -> Task<Result<RoostConnection, RoostClientError>, Never> {
        Task { [self] in
            let delay = state.withLock { $0.nextAttempt } - ContinuousClock.now
            if delay > .zero { try? await Task.sleep(for: delay) }
            let result: Result<RoostConnection, RoostClientError>
            do throws(RoostClientError) {
                result = .success(
                    try await RoostConnection.connect(
                        host: host, port: port, readOnly: readOnly, configuration: connection,
                        eventLoopGroup: eventLoopGroup, logger: logger))
            } catch {
                result = .failure(error)
            }
            let keep: Bool = state.withLock { state in
                state.opening = nil
                switch result {
                case .success(let connection):
                    if state.isShutDown { return false }
                    state.connections.append(connection)
                    state.consecutiveFailures = 0
                    state.lastError = nil
                    return true
                case .failure(let error):
                    state.consecutiveFailures += 1
                    state.lastError = error
                    state.nextAttempt =
                        ContinuousClock.now
                        + settings.reconnectBackoff.delay(
                            attempt: state.consecutiveFailures)
                    return false
                }
            }
            switch result {
            case .success(let connection):
                if keep {
                    connection.closeFuture.whenComplete { [weak self] _ in self?.remove(connection) }
                } else {
                    connection.close()
                    return .failure(RoostClientError(.shutdown, "the client has shut down", node: node))
                }
            case .failure(let error):
                logger.debug("connect failed", metadata: ["roost.node": "\(node)", "roost.error": "\(error.message)"])
            }
            return result
        }
    }

    private func remove(_ connection: RoostConnection) {
        state.withLock { state in state.connections.removeAll { $0 === connection } }
        logger.debug("connection closed", metadata: ["roost.node": "\(node)"])
    }

    /// Pings idle connections (closing those that fail) and opens connections up to the minimum.
    func healthCheck() async {
        let (idle, missing) = state.withLock { state in
            (state.connections.filter { $0.outstanding == 0 }, settings.minimumConnections - state.connections.count)
        }
        for connection in idle {
            let result = await connection.send("PING") { $0.writeRoostCommand("PING", argumentCount: 0) }
            switch result {
            case .success(.error(let text)) where !String(buffer: text).hasPrefix("LOADING"):
                break  // NOAUTH and the like: the connection works; the server's answer is the caller's concern
            case .success:
                break
            case .failure(let error):
                logger.debug(
                    "health check failed", metadata: ["roost.node": "\(node)", "roost.error": "\(error.message)"])
                connection.close()
            }
        }
        if missing > 0 {
            _ = try? await self.connection()  // opens one (or joins the attempt in progress)
        }
    }

    /// Stops handing out connections and closes them once their in-flight commands are answered.
    func shutdown(timeout: Duration) async {
        let (connections, opening) = state.withLock { state in
            state.isShutDown = true
            let taken = state.connections
            state.connections.removeAll()
            return (taken, state.opening)
        }
        opening?.cancel()
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { await connection.closeGracefully(timeout: timeout) }
            }
        }
    }

    /// The open connections (for tests and the near cache).
    var openConnections: [RoostConnection] { state.withLock { $0.connections } }
}
