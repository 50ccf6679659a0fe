import Logging
import NIOCore
import RoostCluster
import Synchronization

/// What the controller steers on the server beside the bus: replication follows the role the state machine gives
/// this node, and a manual failover's write pause.
struct ClusterServerLink: Sendable {
    weak var server: ServerState?
    /// Where the replication link and failover barrier run.
    var loop: (any EventLoop)?
    /// The manual-failover pause the shell applied: none, waiting for the loops to drain, or confirmed.
    var pause = PauseProgress.none

    enum PauseProgress: Sendable, Equatable {
        case none
        case draining(until: Int64)
        case confirmed(until: Int64)
    }
}

extension ClusterController {
    /// Connects the controller to its server (replication, the write pause) once the server runs; `loop` is where
    /// the replication link lives.
    func attach(_ server: ServerState, loop: any EventLoop) {
        serverLink.withLock {
            $0.server = server
            $0.loop = loop
        }
        // A node restarted without persistence comes back empty: if it was a primary with replicas, handing its
        // slots to a replica keeps their data, where taking them back would make the replicas sync the empty
        // keyspace.
        let empty = server.keyspace.withLock { $0.count == 0 }
        if empty {
            update { gossip, now, out in out += gossip.yieldToReplicaAfterEmptyRestart(now: now) }
        } else {
            reconcile()
        }
    }

    /// Makes replication and the write pause match the state machine (after every change to it).
    func reconcile() {
        let (server, loop, pause) = serverLink.withLock { ($0.server, $0.loop, $0.pause) }
        guard let server, let loop else { return }
        let view = read { gossip -> (replicaOf: (String, Int)?, isReplica: Bool, pauseUntil: Int64?, events: Void) in
            let me = gossip.topology.myselfNode
            var endpoint: (String, Int)?
            if me.flags.contains(.replica), let primary = me.primaryID, let node = gossip.topology[primary],
                !node.ip.isEmpty
            {
                endpoint = (node.ip, node.port)
            }
            return (endpoint, me.flags.contains(.replica), gossip.manualFailoverPauseUntil, ())
        }
        logEvents()
        if view.isReplica {
            if let (host, port) = view.replicaOf {
                server.replication.becomeReplica(of: host, port: port, server: server, on: loop)
            }
        } else {
            server.replication.becomePrimary(server)
        }
        switch (view.pauseUntil, pause) {
        case (let until?, .none):
            startWritePause(server, until: until)
        case (nil, .draining), (nil, .confirmed):
            serverLink.withLock { $0.pause = .none }
            server.replication.writesPaused.store(false, ordering: .releasing)
            logger.notice("Manual failover: writes resumed")
        default:
            break
        }
    }

    /// Pauses client writes, waits until every event loop has finished the batch it was running (a write that
    /// passed the pause check before it was set is then in the keyspace), propagates, and tells the state machine
    /// the final replication offset, which the replica must reach before it takes over.
    private func startWritePause(_ server: ServerState, until: Int64) {
        serverLink.withLock { $0.pause = .draining(until: until) }
        server.replication.writesPaused.store(true, ordering: .releasing)
        logger.notice("Manual failover: writes paused")
        let loops = server.eventLoops.withLock { $0 }
        guard let first = loops.first else { return }
        let barriers = loops.map { $0.submit {} }
        EventLoopFuture.andAllComplete(barriers, on: first).whenComplete { _ in
            server.replication.propagate(server)
            let offset = server.replication.offset
            let stillPaused = self.serverLink.withLock { link -> Bool in
                guard case .draining(let deadline) = link.pause else { return false }
                link.pause = .confirmed(until: deadline)
                return true
            }
            guard stillPaused else { return }
            self.update { gossip, now, out in
                out += gossip.confirmWritesPaused(offset: UInt64(max(offset, 0)), now: now)
            }
        }
    }

    /// Logs what the failover machinery did.
    func logEvents() {
        let events = core.withLock { $0.gossip.takeEvents() }
        for event in events { logger.notice("Cluster: \(event)") }
    }

    /// Gives the state machine this node's replication offset (before each tick).
    func refreshReplicationOffset(_ gossip: inout Gossip.Instance) {
        guard let server = serverLink.withLock({ $0.server }) else { return }
        gossip.setReplicationOffset(UInt64(max(server.replication.offset, 0)))
    }

    // MARK: Fault injection

    /// `DEBUG CLUSTER-PARTITION`: drops every bus message to and from `nodes` (empty: heal), for fault tests on
    /// machines where network namespaces are not available.
    func setPartition(_ nodes: Set<NodeID>) {
        partitioned.withLock { $0 = nodes }
        logger.warning("Cluster bus partition for fault testing", metadata: ["nodes": "\(nodes.map(\.description))"])
    }

    func isPartitioned(_ node: NodeID) -> Bool {
        partitioned.withLock { $0.contains(node) }
    }
}
