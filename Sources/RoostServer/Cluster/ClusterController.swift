import Logging
import NIOCore
import RoostCluster
import Synchronization

/// The server's cluster mode: the membership state machine (``Gossip/Instance``), its persistence in the cluster
/// config file, the routing snapshot commands read, and (in ``ClusterController+Bus.swift``) the NIO shell that
/// carries bus messages and drives the state machine's clock.
///
/// The state machine is a value behind a mutex. Bus events and ticks run on the cluster's event loop; `CLUSTER`
/// commands change it from their connection's loop in the same short critical sections. After every change the
/// controller compares the instance's ``Gossip/Instance/configurationVersion`` with the last one it saw and, if it
/// moved, publishes a new ``ClusterRouting`` and rewrites the config file.
final class ClusterController: Sendable {
    struct Core: Sendable {
        var gossip: Gossip.Instance
        /// The configuration version the routing snapshot and the config file reflect.
        var publishedVersion: UInt64
        /// Where the config file lives, once loaded (unit tests run without one).
        var configPath: String?
        var messagesSent = 0
        var messagesReceived = 0
    }

    let settings: Gossip.Settings
    let logger: Logger
    /// Unix milliseconds; the state machine's clock, so `CLUSTER NODES` shows real ping and pong times.
    let clock: @Sendable () -> Int64
    let core: Mutex<Core>
    private let routingSnapshot: Mutex<ClusterRouting>
    private let requireFullCoverage: Atomic<Bool>
    let bus = Mutex(BusState())
    /// The server this controller steers (replication, the write pause); see ``attach(_:loop:)``.
    let serverLink = Mutex(ClusterServerLink())
    /// Nodes whose bus messages are dropped (`DEBUG CLUSTER-PARTITION`).
    let partitioned = Mutex<Set<NodeID>>([])

    /// A controller for a node that knows only itself, with a fresh random ID, until ``load(path:)`` reads the
    /// config file.
    init(configuration: ServerConfiguration, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.settings = Gossip.Settings(nodeTimeout: Int64(configuration.clusterNodeTimeout))
        self.logger = logger
        self.clock = clock
        self.requireFullCoverage = Atomic(configuration.clusterRequireFullCoverage)
        let myself = ClusterNode(
            id: .random(), ip: Self.initialIP(configuration), port: configuration.port,
            busPort: Self.busPort(configuration))
        let topology = ClusterTopology(myself: myself)
        let now = clock()
        let gossip = Self.instance(topology: topology, settings: settings, now: now)
        self.core = Mutex(Core(gossip: gossip, publishedVersion: gossip.configurationVersion))
        self.routingSnapshot = Mutex(
            ClusterRouting(topology: topology, requireFullCoverage: configuration.clusterRequireFullCoverage))
    }

    /// A state machine for `topology`. The incarnation starts at the wall clock, so a restarted node's
    /// incarnation is greater than any the cluster holds for it and its first message refutes an old `fail`.
    private static func instance(topology: ClusterTopology, settings: Gossip.Settings, now: Int64) -> Gossip.Instance {
        Gossip.Instance(
            topology: topology, settings: settings, seed: UInt64.random(in: 0...UInt64.max),
            incarnation: UInt64(max(now, 0)), now: now)
    }

    /// The bus port: `cluster-port`, or the client port + 10000.
    static func busPort(_ configuration: ServerConfiguration) -> Int {
        configuration.clusterPort != 0 ? configuration.clusterPort : configuration.port + 10000
    }

    /// The address announced before any is learned: `cluster-announce-ip`, else the first concrete bind address.
    static func initialIP(_ configuration: ServerConfiguration) -> String {
        if !configuration.clusterAnnounceIP.isEmpty { return configuration.clusterAnnounceIP }
        for address in configuration.bind {
            let host = address.hasPrefix("-") ? String(address.dropFirst()) : address
            if !["*", "0.0.0.0", "::", "::*", ""].contains(host) { return host }
        }
        return ""
    }

    // MARK: Routing

    /// The current routing snapshot.
    var routing: ClusterRouting { routingSnapshot.withLock { $0 } }

    /// Applies a `CONFIG SET` of `cluster-require-full-coverage`.
    func setRequireFullCoverage(_ value: Bool) {
        guard requireFullCoverage.exchange(value, ordering: .relaxed) != value else { return }
        core.withLock { publish($0.gossip) }
    }

    private func publish(_ gossip: Gossip.Instance) {
        let snapshot = ClusterRouting(
            topology: gossip.topology, requireFullCoverage: requireFullCoverage.load(ordering: .relaxed),
            awaitingTakeover: gossip.isAwaitingTakeover)
        routingSnapshot.withLock { $0 = snapshot }
    }

    // MARK: Changes

    /// Runs `body` on the state machine with the current time; what it appends to `outgoing` is sent afterwards.
    /// A configuration change is published to routing and saved to the config file before this returns.
    func update<Result, Failure: Error>(
        _ body: (inout Gossip.Instance, Int64, inout [Gossip.Outgoing]) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var outgoing: [Gossip.Outgoing] = []
        let now = clock()
        let result = try core.withLock { (core: inout Core) throws(Failure) -> Result in
            let result = try body(&core.gossip, now, &outgoing)
            core.messagesSent += outgoing.count
            afterChange(&core)
            return result
        }
        send(outgoing)
        rescheduleTick()
        reconcile()
        return result
    }

    /// Reads the state machine.
    func read<Result>(_ body: (Gossip.Instance) -> Result) -> Result {
        core.withLock { body($0.gossip) }
    }

    private func afterChange(_ core: inout Core) {
        guard core.gossip.configurationVersion != core.publishedVersion else { return }
        core.publishedVersion = core.gossip.configurationVersion
        publish(core.gossip)
        save(core)
    }

    private func save(_ core: Core) {
        guard let path = core.configPath else { return }
        do {
            try ClusterConfigFile.replace(path, with: core.gossip.topology.nodesFile)
        } catch {
            logger.error("Could not save the cluster config file", metadata: ["error": "\(error)"])
        }
    }

    /// Loads the config file at `path` (a restarted node rejoins as itself, with its epochs and slots), or
    /// creates it for a new node.
    func load(path: String) throws {
        let contents = try ClusterConfigFile.contents(of: path)
        let now = clock()
        try core.withLock { core in
            if let contents {
                var topology = try ClusterTopology(nodesFile: contents)
                topology.resetLinksAfterRestart(now: now)
                core.gossip = Self.instance(topology: topology, settings: settings, now: now)
                logger.notice(
                    "Node configuration loaded, I'm \(topology.myself)", metadata: ["file": "\(path)"])
            } else {
                logger.notice(
                    "No cluster configuration found, I'm \(core.gossip.myself)", metadata: ["file": "\(path)"])
            }
            core.configPath = path
            core.publishedVersion = core.gossip.configurationVersion
            publish(core.gossip)
            try ClusterConfigFile.replace(path, with: core.gossip.topology.nodesFile)
        }
    }

    /// `CLUSTER RESET`: forgets every other node and every slot; a hard reset also takes a new ID and sets the
    /// epochs to 0.
    func reset(hard: Bool) {
        let now = clock()
        core.withLock { core in
            let old = core.gossip.topology.myselfNode
            var myself = ClusterNode(
                id: hard ? .random() : old.id, ip: old.ip, port: old.port, busPort: old.busPort,
                configEpoch: hard ? 0 : old.configEpoch)
            myself.flags = [.myself, .primary]
            let topology = ClusterTopology(
                myself: myself, currentEpoch: hard ? 0 : core.gossip.topology.currentEpoch,
                lastVoteEpoch: hard ? 0 : core.gossip.topology.lastVoteEpoch)
            core.gossip = Self.instance(topology: topology, settings: settings, now: now)
            core.publishedVersion = core.gossip.configurationVersion
            publish(core.gossip)
            save(core)
        }
        closeLinks()
    }

    /// Counters for `CLUSTER INFO`.
    var messageCounts: (sent: Int, received: Int) {
        core.withLock { ($0.messagesSent, $0.messagesReceived) }
    }

    // MARK: Bus events

    /// One message arrived from `ip`.
    func receive(_ message: BusMessage, from ip: String) {
        if isPartitioned(message.sender.id) { return }
        if case .publish(let channel, let payload) = message.kind {
            receivePublish(message, channel: channel, payload: payload)
        }
        update { gossip, now, out in
            out += gossip.receive(message, from: ip, now: now)
        }
        core.withLock { $0.messagesReceived += 1 }
    }

    /// The state machine's deadline passed.
    func tick() {
        update { gossip, now, out in
            refreshReplicationOffset(&gossip)
            out += gossip.tick(now: now)
        }
    }
}
