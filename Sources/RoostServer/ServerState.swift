public import Logging
import NIOCore
public import RoostCore
public import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// State shared by every connection of one server: the keyspace, the configuration, the client registry and the
/// counters `INFO` reports.
public final class ServerState: Sendable {
    /// The keyspace; every command runs as one critical section over it (an `EXEC` as one for all its commands).
    public let keyspace: KeyspaceLock
    /// The command table.
    public let commands: CommandTable
    /// Logger (values are never logged).
    public let logger: Logger
    /// 40 hex characters identifying this process run (`INFO server` `run_id`).
    public let runID: String
    /// Unix milliseconds at start.
    public let startedAt: Int64
    /// The wall clock commands see (Unix milliseconds); injected by tests.
    public let clock: @Sendable () -> Int64

    let configuration: Mutex<ServerConfiguration>
    /// Bumped on every `CONFIG SET`, so connections re-read cached limits only when something changed.
    let configurationGeneration = Atomic<Int>(0)
    let clients = Mutex<[UInt64: ClientSession]>([:])
    let nextClientID = Atomic<UInt64>(1)
    let statistics = ServerStatistics()
    let shutdown = ShutdownSignal()
    /// The port actually bound (differs from the configuration when it asked for port 0).
    let boundPort = Atomic<Int>(0)
    /// Whether `maxmemory` is set, read on every write command without taking a lock.
    let memoryLimited = Atomic<Bool>(false)
    /// Event loops serving clients (for `INFO server`).
    let eventLoopCount = Atomic<Int>(0)
    /// Cluster mode's state; `nil` unless `cluster-enabled yes` (then every keyed command is routed by slot).
    let cluster: ClusterController?
    /// The replication role, stream and backlog.
    let replication: Replication
    /// Client-side caching: tracking clients, remembered keys, invalidation delivery.
    let tracking: Tracking
    /// Pub/sub channels and their subscribers.
    let pubsub = PubSubRegistry()
    /// `WATCH`ed keys and the connections whose transactions they abort.
    let watches = WatchRegistry()
    /// Clients blocked in `BLPOP` and friends.
    let blocking = BlockingRegistry()
    /// The event loops serving clients, set when the server starts (a manual failover waits for each to finish its
    /// current batch).
    let eventLoops = Mutex<[any EventLoop]>([])

    /// Creates the state for a server with `configuration`.
    public init(
        configuration: ServerConfiguration,
        logger: Logger,
        commands: CommandTable = .standard,
        clock: (@Sendable () -> Int64)? = nil
    ) {
        self.clock = clock ?? { Clock.wallMilliseconds() }
        self.configuration = Mutex(configuration)
        Keyspace.tuneAllocatorForLargeKeyspaces()
        var keyspace = Keyspace()
        keyspace.defersTrim = true  // trimmed by the cron, outside the lock (see ServerCron)
        keyspace.configure(from: configuration, now: self.clock())
        self.keyspace = KeyspaceLock(keyspace)
        self.memoryLimited.store(configuration.maxMemory > 0, ordering: .relaxed)
        self.commands = commands
        self.logger = logger
        self.cluster =
            configuration.clusterEnabled
            ? ClusterController(configuration: configuration, logger: logger, clock: self.clock) : nil
        self.replication = Replication(logger: logger)
        self.tracking = Tracking(maxKeys: configuration.trackingTableMaxKeys)
        self.startedAt = Clock.wallMilliseconds()
        var generator = SystemRandomNumberGenerator()
        self.runID = String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
    }

    /// A copy of the current configuration.
    public var currentConfiguration: ServerConfiguration {
        configuration.withLock { $0 }
    }

    /// Changes the configuration and tells connections to refresh their cached limits.
    func updateConfiguration<Result>(
        _ body: (inout ServerConfiguration) throws(ConfigurationError) -> Result
    ) throws(ConfigurationError) -> Result {
        let result = try configuration.withLock {
            (config: inout ServerConfiguration) throws(ConfigurationError) -> Result in
            try body(&config)
        }
        configurationGeneration.add(1, ordering: .releasing)
        let config = currentConfiguration
        let now = clock()
        keyspace.withLock { $0.configure(from: config, now: now) }
        memoryLimited.store(config.maxMemory > 0, ordering: .relaxed)
        cluster?.setRequireFullCoverage(config.clusterRequireFullCoverage)
        tracking.setMaxKeys(config.trackingTableMaxKeys, server: self)
        return result
    }
}

/// Server-wide counters (`INFO stats`).
final class ServerStatistics: Sendable {
    let connectionsReceived = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    let commandsProcessed = Atomic<Int>(0)
    let inputBytes = Atomic<Int>(0)
    let outputBytes = Atomic<Int>(0)
    let errorReplies = Atomic<Int>(0)
    /// Clients closed for passing their output buffer limit (`INFO stats` `client_output_buffer_limit_disconnections`).
    let outputLimitDisconnections = Atomic<Int>(0)

    func reset() {
        connectionsReceived.store(0, ordering: .relaxed)
        rejectedConnections.store(0, ordering: .relaxed)
        commandsProcessed.store(0, ordering: .relaxed)
        inputBytes.store(0, ordering: .relaxed)
        outputBytes.store(0, ordering: .relaxed)
        errorReplies.store(0, ordering: .relaxed)
        outputLimitDisconnections.store(0, ordering: .relaxed)
    }
}

/// A one-shot signal: `SHUTDOWN` or SIGTERM fires it, the server's run loop waits for it.
final class ShutdownSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isFired: Bool { state.withLock { $0.fired } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

extension Keyspace {
    /// Applies the configuration's memory limit and eviction policy (`maxmemory`, `maxmemory-policy`,
    /// `maxmemory-samples`, `lfu-log-factor`, `lfu-decay-time`).
    mutating func configure(from configuration: ServerConfiguration, now: Int64) {
        var sampling = SampledEviction.Configuration()
        sampling.samples = configuration.maxMemorySamples
        sampling.lfuLogFactor = configuration.lfuLogFactor
        sampling.lfuDecayTime = configuration.lfuDecayTime
        let kind = EvictionState.Kind(rawValue: configuration.maxMemoryPolicy) ?? .noEviction
        configureEviction(kind, maxMemory: configuration.maxMemory, sampling: sampling, now: now)
    }
}
