import Logging
import NIOCore
import RoostCore
import RoostProtocol
import Synchronization

/// The near cache: a ``RoostCore/RoostCache`` kept coherent with the servers through one tracking connection per
/// node.
///
/// ## Design
/// - **One tracking connection per node** (RESP3, `CLIENT TRACKING on`, default mode). Every near-cache miss is
///   read through it, so the server tracks exactly the keys this client may hold, and each read's reply and the
///   `invalidate` pushes caused by later writes travel on the same TCP connection, in order. The connection's
///   event loop applies each push the moment it is parsed (``onPush(_:)``): the keys are removed, a null key list
///   (`FLUSHALL`) empties the cache.
/// - **The race between a read and its store** is closed by ``NearCacheGate``: a reply is stored only if neither
///   its key was invalidated nor the cache flushed since the read was written.
/// - **A key is served locally only while its invalidation channel is healthy.** Entries enter the cache only
///   through an open tracking connection, and the moment one closes (server gone, error, protocol error, a read on
///   it timing out, a heartbeat unanswered within ``RoostClient/Configuration/NearCache/heartbeatTimeout``) the
///   whole cache is flushed. Until a new tracking connection is up (``RoostClient/Configuration/NearCache``'s
///   reads reconnect on demand, with backoff), reads go to the server and nothing is stored. Any doubt (a cluster
///   slot-map change, a `flushall()` by this client) flushes too.
/// - **The client's own writes** invalidate the key locally before they are sent and again when they complete
///   (successfully or not), so a task that wrote a key never reads an older value back from local memory.
/// - Servers without RESP3 or without `CLIENT TRACKING` get no near cache: their reads go to the server.
///
/// Every mutation of the cache and of the gate happens under one lock, so a check and the store it allows are
/// atomic with respect to invalidations. Hits take only the cache's own lock.
final class TrackedNearCache: Sendable {
    /// A change to the local contents, reported to an observer (tests measure staleness with it).
    enum Event: Sendable {
        /// A value read from the server was stored.
        case stored(key: String, value: ByteBuffer)
        /// A key was removed by an invalidation (the server's or this client's).
        case removed(key: String)
        /// Everything was removed.
        case flushed(reason: String)
    }

    /// One node's tracking connection.
    private enum Link {
        /// Connecting; readers of the first attempt wait for it.
        case opening(Task<Void, Never>, waitable: Bool)
        /// Usable: reads may be cached.
        case open(RoostConnection)
        /// The last attempt failed; the next may start at `retryAt`.
        case failed(retryAt: ContinuousClock.Instant, failures: Int)
    }

    private struct Counters {
        var uncachedReads = 0
        var stores = 0
        var discardedReplies = 0
        var invalidationsReceived = 0
        var localInvalidations = 0
        var flushes = 0
    }

    private struct State {
        var gate = NearCacheGate()
        var links: [String: Link] = [:]
        var counters = Counters()
        var isShutDown = false
        var observer: (@Sendable (Event, ContinuousClock.Instant) -> Void)?
    }

    let configuration: RoostClient.Configuration.NearCache
    private let cache: RoostCache
    private let state = Mutex(State())
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let connection: ConnectionConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let backoff: RoostBackoff
    private let logger: Logger
    /// Whether heartbeats check that each tracked node is still a primary (cluster mode).
    private let checksRole: Bool

    /// A server that refuses RESP3 or `CLIENT TRACKING` is asked again after this long.
    static let unsupportedRetryInterval: Duration = .seconds(30)

    init(
        configuration: RoostClient.Configuration.NearCache, connection: ConnectionConfiguration,
        eventLoopGroup: any EventLoopGroup, backoff: RoostBackoff, checksRole: Bool, logger: Logger
    ) {
        self.checksRole = checksRole
        self.configuration = configuration
        self.cache = RoostCache(maximumBytes: configuration.maximumBytes, policy: configuration.policy)
        var connection = connection
        connection.preferRESP3 = true
        connection.commandTimeout = configuration.heartbeatTimeout
        self.connection = connection
        self.eventLoopGroup = eventLoopGroup
        self.backoff = backoff
        self.logger = logger
    }

    // MARK: Reading

    /// The value held locally for `key`, counting a hit; `nil` (counting nothing) when there is none.
    func lookup(_ key: String) -> ByteBuffer? {
        let value = cache.withValue(key.utf8) { ByteBuffer(bytes: $0) }
        if value != nil { hits.add(1, ordering: .relaxed) }
        return value
    }

    /// Counts reads that must go to the server.
    func countMisses(_ count: Int) {
        misses.add(count, ordering: .relaxed)
    }

    /// The open tracking connection to `host:port`, opening one if there is none; `nil` when none is usable now
    /// (the read then goes to the server uncached). Waits only for a first attempt in progress.
    func trackingConnection(host: String, port: Int) async -> RoostConnection? {
        let node = "\(host):\(port)"
        for _ in 0..<2 {
            enum Step {
                case use(RoostConnection)
                case wait(Task<Void, Never>)
                case bypass
            }
            let step: Step = state.withLock { state in
                if state.isShutDown { return .bypass }
                switch state.links[node] {
                case .open(let connection):
                    return .use(connection)
                case .opening(let task, let waitable):
                    return waitable ? .wait(task) : .bypass
                case .failed(let retryAt, let failures):
                    guard ContinuousClock.now >= retryAt else { return .bypass }
                    state.links[node] = .opening(open(host: host, port: port, failures: failures), waitable: false)
                    return .bypass
                case nil:
                    let task = open(host: host, port: port, failures: 0)
                    state.links[node] = .opening(task, waitable: true)
                    return .wait(task)
                }
            }
            switch step {
            case .use(let connection): return connection
            case .wait(let task): await task.value
            case .bypass: return nil
            }
        }
        return nil
    }

    /// A read of `keys` is about to be written on `connection`: returns its ticket, or `nil` when the connection
    /// is no longer this node's tracking connection (the read then goes to the server uncached).
    func beginRead(_ keys: [String], on connection: RoostConnection) -> NearCacheGate.Ticket? {
        state.withLock { state in
            guard case .open(let current) = state.links[connection.node], current === connection else { return nil }
            return state.gate.onReadStarted(keys: keys)
        }
    }

    /// The read's replies arrived: stores the values the gate allows (`nil` values, missing keys, are not stored).
    func finishRead(_ keys: [String], values: [ByteBuffer?], ticket: NearCacheGate.Ticket) {
        let lifetime = configuration.maximumLifetime
        state.withLock { state in
            for (key, value) in zip(keys, values) {
                let allowed = state.gate.onReadFinished(key: key, ticket: ticket)
                guard let value, configuration.caches(key) else { continue }
                guard allowed else {
                    state.counters.discardedReplies += 1
                    continue
                }
                if cache.set(key.utf8, value.readableBytesView, ttl: lifetime) {
                    state.counters.stores += 1
                    state.observer?(.stored(key: key, value: value), .now)
                }
            }
        }
    }

    /// The read failed or was redirected: forgets it without storing anything.
    func abandonRead(_ keys: [String], ticket: NearCacheGate.Ticket) {
        state.withLock { state in state.gate.onReadAbandoned(keys: keys, ticket: ticket) }
    }

    /// Counts a read that went to the server without caching.
    func countUncachedRead(_ count: Int = 1) {
        state.withLock { $0.counters.uncachedReads += count }
    }

    // MARK: Invalidating

    /// This client is writing (or has written) `keys`: they stop being served locally, and reads in flight for them
    /// will not be stored.
    func invalidateLocally(_ keys: some Sequence<String>) {
        state.withLock { state in
            for key in keys {
                state.gate.onInvalidated(key: key)
                state.counters.localInvalidations += 1
                if cache.remove(key.utf8) { state.observer?(.removed(key: key), .now) }
            }
        }
    }

    /// Empties the near cache; reads in flight will not be stored.
    func flush(reason: String) {
        state.withLock { state in flushLocked(&state, reason: reason) }
    }

    private func flushLocked(_ state: inout State, reason: String) {
        state.gate.onFlushed()
        state.counters.flushes += 1
        cache.removeAll()
        state.observer?(.flushed(reason: reason), .now)
    }

    /// A RESP3 push from a tracking connection, on its event loop: `invalidate` with keys removes them, with a null
    /// list empties the cache. Other pushes are ignored.
    func onPush(_ value: RESPValue) {
        guard case .push(let elements) = value, elements.count >= 2,
            case .bulkString(let kind?) = elements[0], kind.readableBytesView.elementsEqual("invalidate".utf8)
        else { return }
        state.withLock { state in
            guard case .array(let keys?) = elements[1] else {
                // A null key list: FLUSHALL / FLUSHDB, or the server giving up tracking.
                flushLocked(&state, reason: "null invalidation")
                return
            }
            for case .bulkString(let key?) in keys {
                let name = String(buffer: key)
                state.gate.onInvalidated(key: name)
                state.counters.invalidationsReceived += 1
                if cache.remove(key.readableBytesView) { state.observer?(.removed(key: name), .now) }
            }
        }
    }

    // MARK: Tracking connections

    /// Starts one attempt to open a tracking connection to `host:port` (`failures` earlier attempts failed in a
    /// row); the caller holds the lock and records the returned task as the node's link.
    private func open(host: String, port: Int, failures: Int) -> Task<Void, Never> {
        Task { [self] in
            let node = "\(host):\(port)"
            var configuration = connection
            configuration.onPush = { [weak self] value, _ in self?.onPush(value) }
            var failure: (message: String, unsupported: Bool)?
            var opened: RoostConnection?
            do throws(RoostClientError) {
                let candidate = try await RoostConnection.connect(
                    host: host, port: port, readOnly: false, configuration: configuration,
                    eventLoopGroup: eventLoopGroup, logger: logger)
                opened = candidate
                if candidate.protocolVersion != .resp3 {
                    failure = ("the server does not speak RESP3", true)
                } else {
                    let reply = try await candidate.send("CLIENT") { buffer in
                        buffer.writeRoostCommand("CLIENT", argumentCount: 2)
                        buffer.writeRESPBulkString("TRACKING")
                        buffer.writeRESPBulkString("on")
                    }.get()
                    if case .error(let text) = reply {
                        failure = ("CLIENT TRACKING on: \(String(buffer: text))", true)
                    }
                }
            } catch {
                failure = (error.message, false)
            }
            if let failure {
                opened?.close()
                let delay = failure.unsupported ? Self.unsupportedRetryInterval : backoff.delay(attempt: failures + 1)
                state.withLock { state in
                    state.links[node] = .failed(retryAt: .now + delay, failures: failures + 1)
                }
                logger.debug(
                    "near cache: no tracking connection",
                    metadata: ["roost.node": "\(node)", "roost.error": "\(failure.message)"])
                return
            }
            guard let opened else { return }
            let kept: Bool = state.withLock { state in
                if state.isShutDown { return false }
                state.links[node] = .open(opened)
                return true
            }
            guard kept else {
                opened.close()
                return
            }
            opened.closeFuture.whenComplete { [weak self] _ in self?.linkClosed(opened) }
            logger.debug("near cache: tracking", metadata: ["roost.node": "\(node)"])
        }
    }

    /// A tracking connection closed: its invalidations may be lost from here on, so everything goes.
    private func linkClosed(_ connection: RoostConnection) {
        state.withLock { state in
            guard case .open(let current) = state.links[connection.node], current === connection else { return }
            state.links[connection.node] = nil
            flushLocked(&state, reason: "tracking connection to \(connection.node) closed")
        }
        logger.debug("near cache: tracking connection closed", metadata: ["roost.node": "\(connection.node)"])
    }

    /// Closes `connection` if it is a tracking connection that gave cause for doubt (a read on it timed out); the
    /// cache is flushed as it closes.
    func giveUp(_ connection: RoostConnection) {
        connection.close()
    }

    /// Sends two commands, one after the other, on every open tracking connection and waits for the answers: two
    /// `PING`s, or in a cluster `ROLE` then `PING` (a node that is no longer a primary is given up). A
    /// connection that does not answer within ``RoostClient/Configuration/NearCache/heartbeatTimeout`` (or fails)
    /// is closed, which flushes the cache. When this returns, every invalidation the servers had queued for this
    /// client when the first `PING` arrived has been applied.
    func heartbeat() async {
        let connections: [RoostConnection] = state.withLock { state in
            state.links.values.compactMap { link in
                if case .open(let connection) = link { return connection }
                return nil
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask {
                    // Two round trips, one after the other: even a server that queues invalidations and writes
                    // them only after its next reply (Roost did before it wrote them ahead of each batch's replies;
                    // Redis writes them at once) has then delivered everything it had queued when the first arrived.
                    // In a cluster the first is `ROLE`: a primary demoted by a failover keeps its connections but
                    // may stop reporting writes (they now happen on another node); the cache must not outlive that.
                    for round in 0..<2 {
                        let role = round == 0 && self.checksRole
                        let result =
                            role
                            ? await connection.send("ROLE") { $0.writeRoostCommand("ROLE", argumentCount: 0) }
                            : await connection.send("PING") { $0.writeRoostCommand("PING", argumentCount: 0) }
                        switch result {
                        case .success(.error), .failure:
                            connection.close()
                            return
                        case .success(let reply):
                            if role, case .bulkString(let name?) = reply.elements?.first,
                                !name.readableBytesView.elementsEqual("master".utf8)
                            {
                                self.logger.debug(
                                    "near cache: tracked node is no longer a primary",
                                    metadata: ["roost.node": "\(connection.node)"])
                                connection.close()
                                return
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stops opening tracking connections and closes the open ones (which flushes the cache).
    func shutdown() {
        let links: [Link] = state.withLock { state in
            state.isShutDown = true
            return Array(state.links.values)
        }
        for link in links {
            switch link {
            case .open(let connection): connection.close()
            case .opening(let task, _): task.cancel()
            case .failed: break
            }
        }
    }

    // MARK: Measuring

    /// The counters and the cache's size.
    var statistics: RoostClient.NearCacheStatistics {
        let cacheStatistics = cache.statistics
        let entries = cache.count
        let memory = cache.memoryUsage
        let counters = state.withLock { $0.counters }
        return RoostClient.NearCacheStatistics(
            hits: hits.load(ordering: .relaxed), misses: misses.load(ordering: .relaxed),
            uncachedReads: counters.uncachedReads, stores: counters.stores,
            discardedReplies: counters.discardedReplies, invalidationsReceived: counters.invalidationsReceived,
            localInvalidations: counters.localInvalidations, flushes: counters.flushes, entries: entries,
            memoryUsage: memory, evictions: cacheStatistics.evicted, expirations: cacheStatistics.expired)
    }

    /// Whether `key` is held locally now (no hit counted).
    func holds(_ key: String) -> Bool { cache.contains(key.utf8) }

    /// Installs an observer of every change to the local contents, called with the lock held, in order.
    func observe(_ observer: (@Sendable (Event, ContinuousClock.Instant) -> Void)?) {
        state.withLock { $0.observer = observer }
    }

    /// Whether a tracking connection to `node` (`host:port`) is open.
    func isTracking(node: String) -> Bool {
        state.withLock { state in
            if case .open = state.links[node] { return true }
            return false
        }
    }

    /// Keys with reads in flight, for tests (zero when every read has finished).
    var keysInFlight: Int { state.withLock { $0.gate.keysInFlight } }
}
