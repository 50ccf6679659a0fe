import Logging
import NIOCore
import RoostProtocol
import Synchronization

/// Keeps the client's slot map and finds the pool serving a slot.
///
/// The map is loaded on first use from the known nodes (the current primaries, then the seeds), with
/// `CLUSTER SHARDS` or, when a server does not know it, `CLUSTER SLOTS`. A `MOVED` patches the one slot at once
/// and schedules a full reload; reloads are single-flight and at most one per ``minimumRefreshInterval``.
final class ClusterRouter: Sendable {
    private struct Resolved {
        var map: ClusterSlotMap
        var primaries: [NodePool]
        var replicas: [[NodePool]]
    }

    private struct State {
        var resolved: Resolved?
        var refreshing: Task<Result<Void, RoostClientError>, Never>?
        var lastRefresh: ContinuousClock.Instant?
        var replicaCursor = 0
    }

    /// The shortest time between two reloads that are not forced by a missing map.
    static let minimumRefreshInterval: Duration = .milliseconds(100)

    private let state = Mutex(State())
    private let seeds: [RoostClient.Configuration.Endpoint]
    private let pools: PoolRegistry
    private let logger: Logger
    /// Called (outside the lock) whenever the map changes: a `MOVED`, or a reload that found a different map.
    private let onSlotMapChange: @Sendable () -> Void

    init(
        seeds: [RoostClient.Configuration.Endpoint], pools: PoolRegistry, logger: Logger,
        onSlotMapChange: @escaping @Sendable () -> Void = {}
    ) {
        self.seeds = seeds
        self.pools = pools
        self.logger = logger
        self.onSlotMapChange = onSlotMapChange
    }

    /// The pool for `slot`: its primary's, or with `replica` an online replica's (round robin) when it has one.
    /// `nil` slot means any primary. Loads the map first if there is none.
    func pool(forSlot slot: Int?, replica: Bool) async throws(RoostClientError) -> NodePool {
        for _ in 0..<2 {
            let found: NodePool?? = state.withLock { state in
                guard let resolved = state.resolved else { return .none }
                guard let slot else {
                    return resolved.primaries.isEmpty ? .some(nil) : resolved.primaries[0]
                }
                let index = Int(resolved.map.slotOwners[slot])
                guard index >= 0 else { return .some(nil) }
                if replica, !resolved.replicas[index].isEmpty {
                    state.replicaCursor &+= 1
                    let replicas = resolved.replicas[index]
                    return replicas[Int(UInt(bitPattern: state.replicaCursor) % UInt(replicas.count))]
                }
                return resolved.primaries[index]
            }
            switch found {
            case .some(.some(let pool)):
                return pool
            case .some(.none):
                throw RoostClientError(
                    .clusterUnavailable, "slot \(slot.map(String.init) ?? "any") is not served by any node")
            case .none:
                try await refresh().get()
            }
        }
        throw RoostClientError(.clusterUnavailable, "no slot map could be loaded")
    }

    /// Every primary's pool (for commands that go to all of them, such as `FLUSHALL`).
    func primaries() async throws(RoostClientError) -> [NodePool] {
        if let primaries = state.withLock({ $0.resolved?.primaries }) { return primaries }
        try await refresh().get()
        return state.withLock { $0.resolved?.primaries ?? [] }
    }

    /// Records a `MOVED` (the slot now lives on `host:port`) and schedules a reload.
    func moved(_ redirection: ClusterRedirection) {
        let node = ClusterSlotMap.Node(host: redirection.host, port: redirection.port)
        let pool = pools.pool(host: node.host, port: node.port, readOnly: false)
        state.withLock { state in
            guard var resolved = state.resolved else { return }
            resolved.map.moved(slot: redirection.slot, to: node)
            if resolved.map.shards.count > resolved.primaries.count {
                resolved.primaries.append(pool)
                resolved.replicas.append([])
            }
            state.resolved = resolved
        }
        onSlotMapChange()
        scheduleRefresh()
    }

    /// Starts a reload unless one is running or one finished less than ``minimumRefreshInterval`` ago.
    func scheduleRefresh() {
        state.withLock { state in
            guard state.refreshing == nil else { return }
            if let last = state.lastRefresh, ContinuousClock.now - last < Self.minimumRefreshInterval { return }
            state.refreshing = startRefresh()
        }
    }

    /// Reloads the map now (joining a reload in progress).
    func refresh() async -> Result<Void, RoostClientError> {
        let task = state.withLock { state in
            if let refreshing = state.refreshing { return refreshing }
            let task = startRefresh()
            state.refreshing = task
            return task
        }
        return await task.value
    }

    /// The current map (for tests).
    var slotMap: ClusterSlotMap? { state.withLock { $0.resolved?.map } }

    private func startRefresh() -> Task<Result<Void, RoostClientError>, Never> {
        Task { [self] in
            let result = await load()
            let changed: Bool = state.withLock { state in
                state.refreshing = nil
                state.lastRefresh = .now
                guard case .success(let map) = result else { return false }
                let previous = state.resolved?.map
                state.resolved = resolve(map)
                return previous != nil && previous != map
            }
            if changed { onSlotMapChange() }
            return result.map { _ in () }
        }
    }

    private func resolve(_ map: ClusterSlotMap) -> Resolved {
        Resolved(
            map: map,
            primaries: map.shards.map { pools.pool(host: $0.primary.host, port: $0.primary.port, readOnly: false) },
            replicas: map.shards.map { shard in
                shard.replicas.map { pools.pool(host: $0.host, port: $0.port, readOnly: true) }
            })
    }

    private func load() async -> Result<ClusterSlotMap, RoostClientError> {
        var candidates = state.withLock { $0.resolved?.map.nodes } ?? []
        for seed in seeds {
            let node = ClusterSlotMap.Node(host: seed.host, port: seed.port)
            if !candidates.contains(node) { candidates.append(node) }
        }
        var failures: [String] = []
        for node in candidates {
            let pool = pools.pool(host: node.host, port: node.port, readOnly: false)
            do {
                let connection = try await pool.connection()
                var reply = try await connection.send("CLUSTER") { buffer in
                    buffer.writeRoostCommand("CLUSTER", argumentCount: 1)
                    buffer.writeRESPBulkString("SHARDS")
                }.get()
                var fromShards = true
                if case .error = reply {
                    fromShards = false
                    reply = try await connection.send("CLUSTER") { buffer in
                        buffer.writeRoostCommand("CLUSTER", argumentCount: 1)
                        buffer.writeRESPBulkString("SLOTS")
                    }.get()
                }
                if case .error(let text) = reply {
                    failures.append("\(node): \(String(buffer: text))")
                    continue
                }
                let map =
                    fromShards
                    ? try ClusterSlotMap.fromShards(reply, defaultHost: node.host)
                    : try ClusterSlotMap.fromSlots(reply, defaultHost: node.host)
                guard !map.shards.isEmpty else {
                    failures.append("\(node): no slots assigned")
                    continue
                }
                logger.debug(
                    "slot map loaded", metadata: ["roost.node": "\(node)", "roost.shards": "\(map.shards.count)"])
                return .success(map)
            } catch let error as RoostClientError {
                failures.append(error.description)
            } catch let error as ClusterSlotMap.ParseError {
                failures.append("\(node): \(error.message)")
            } catch {
                failures.append("\(node): \(error)")
            }
        }
        return .failure(
            RoostClientError(
                .clusterUnavailable, "could not load the slot map: " + failures.joined(separator: "; ")))
    }
}

/// The client's pools, one per node and role, created on first use and kept until shutdown.
final class PoolRegistry: Sendable {
    private struct Key: Hashable {
        var host: String
        var port: Int
        var readOnly: Bool
    }

    private let pools = Mutex<[Key: NodePool]>([:])
    private let make: @Sendable (String, Int, Bool) -> NodePool

    init(make: @escaping @Sendable (String, Int, Bool) -> NodePool) {
        self.make = make
    }

    /// The pool for `host:port` in the given role.
    func pool(host: String, port: Int, readOnly: Bool) -> NodePool {
        pools.withLock { pools in
            let key = Key(host: host, port: port, readOnly: readOnly)
            if let pool = pools[key] { return pool }
            let pool = make(host, port, readOnly)
            pools[key] = pool
            return pool
        }
    }

    /// Every pool.
    var all: [NodePool] { pools.withLock { Array($0.values) } }
}
