import RoostCluster

/// An immutable snapshot of what routing needs from this node's view of the cluster: who serves each slot, where
/// those nodes listen, which slots are moving, and whether the cluster is up. The cluster controller publishes a
/// new one whenever the view's configuration changes; commands read the current one without touching the
/// membership state machine.
final class ClusterRouting: Sendable {
    /// This node.
    let myself: NodeID
    /// Owners of the slots, and this node's migrating and importing slots.
    let slots: SlotMap
    /// `ip:port` of every known node, as redirections name it.
    let endpoints: [NodeID: String]
    /// Redis's `cluster_state:ok`.
    let isOK: Bool
    /// This node is a replica (of ``primary``, when known).
    let isReplica: Bool
    /// The primary this replica follows; with `READONLY`, its slots' reads are served here.
    let primary: NodeID?
    /// This node restarted empty and is handing its slots to a replica: it serves none of them meanwhile.
    let awaitingTakeover: Bool

    init(
        myself: NodeID, slots: SlotMap, endpoints: [NodeID: String], isOK: Bool, isReplica: Bool = false,
        primary: NodeID? = nil, awaitingTakeover: Bool = false
    ) {
        self.myself = myself
        self.slots = slots
        self.endpoints = endpoints
        self.isOK = isOK
        self.isReplica = isReplica
        self.primary = primary
        self.awaitingTakeover = awaitingTakeover
    }

    /// A snapshot of `topology`; `requireFullCoverage` is `cluster-require-full-coverage`.
    convenience init(topology: ClusterTopology, requireFullCoverage: Bool, awaitingTakeover: Bool = false) {
        var endpoints: [NodeID: String] = [:]
        for (id, node) in topology.nodes { endpoints[id] = "\(node.ip):\(node.port)" }
        let me = topology.myselfNode
        let isReplica = me.flags.contains(.replica)
        self.init(
            myself: topology.myself, slots: topology.slots, endpoints: endpoints,
            isOK: Self.state(of: topology, requireFullCoverage: requireFullCoverage), isReplica: isReplica,
            primary: isReplica ? me.primaryID : nil, awaitingTakeover: awaitingTakeover)
    }

    /// Redis's `clusterUpdateState`: the cluster is down when full coverage is required and a slot is unassigned
    /// or served by a failed node, or when this node cannot reach a majority of the slot-serving primaries.
    static func state(of topology: ClusterTopology, requireFullCoverage: Bool) -> Bool {
        let owners = topology.slots.slotCounts
        if requireFullCoverage {
            if !topology.slots.isFullyCovered { return false }
            for owner in owners.keys where topology[owner]?.isFailed ?? true { return false }
        }
        let primaries = owners.keys.filter { topology[$0]?.isPrimary ?? false }
        let reachable = primaries.filter { id in
            guard let node = topology[id] else { return false }
            return !node.isFailed && !node.flags.contains(.possiblyFailed)
        }
        return primaries.isEmpty || reachable.count >= primaries.count / 2 + 1
    }

    /// Where a keyed command goes.
    enum Decision: Hashable, Sendable {
        /// Run it here.
        case local
        /// `-MOVED slot ip:port`.
        case moved(slot: Int, endpoint: String)
        /// `-ASK slot ip:port`.
        case ask(slot: Int, endpoint: String)
        /// `-TRYAGAIN`: some of the keys are here and some are not while the slot moves.
        case tryAgain
        /// `-CLUSTERDOWN Hash slot not served`.
        case unbound
        /// `-CLUSTERDOWN The cluster is down`.
        case down

        /// The error reply, Redis 7.0's text; `nil` for ``local``.
        var error: CommandError? {
            switch self {
            case .local: nil
            case .moved(let slot, let endpoint): CommandError("MOVED \(slot) \(endpoint)")
            case .ask(let slot, let endpoint): CommandError("ASK \(slot) \(endpoint)")
            case .tryAgain: CommandError("TRYAGAIN Multiple keys request during rehashing of slot")
            case .unbound: CommandError("CLUSTERDOWN Hash slot not served")
            case .down: CommandError("CLUSTERDOWN The cluster is down")
            }
        }
    }

    /// `-CROSSSLOT`: the keys of one command hash to different slots.
    static let crossSlot = CommandError("CROSSSLOT Keys in request don't hash to the same slot")

    /// Whether `slot` is moving in or out of this node, so routing must look at which keys exist.
    func isMoving(_ slot: Int) -> Bool {
        slots.migrating[slot] != nil || slots.importing[slot] != nil
    }

    /// Redis's `getNodeByQuery` for a command whose keys all hash to `slot`.
    ///
    /// - Parameters:
    ///   - asking: the client sent `ASKING` just before (or the command is `ASKING`-flagged).
    ///   - multipleKeys: the command names more than one key.
    ///   - presence: how many of the keys exist here and how many do not; asked only for a moving slot.
    func route(
        slot: Int, asking: Bool, multipleKeys: Bool, replicaRead: Bool = false,
        presence: () -> (existing: Int, missing: Int)
    ) -> Decision {
        guard let owner = slots.owner(of: slot) else { return .unbound }
        // A node that is a replica never serves a slot as its owner: it is handing the slot over (after an empty
        // restart) or its view is behind; the client retries and finds the new owner.
        if awaitingTakeover || (isReplica && owner == myself) { return .tryAgain }
        if replicaRead && isReplica && owner == primary && primary != nil {
            return isOK ? .local : .down
        }
        let migrating = owner == myself ? slots.migrating[slot] : nil
        let importing = owner == myself ? nil : slots.importing[slot]
        guard isOK else { return .down }
        if migrating != nil || importing != nil {
            let keys = presence()
            if let target = migrating, keys.missing > 0 {
                if keys.existing > 0 { return .tryAgain }
                return .ask(slot: slot, endpoint: endpoints[target] ?? ":0")
            }
            if importing != nil && asking {
                return multipleKeys && keys.missing > 0 ? .tryAgain : .local
            }
        }
        if owner == myself { return .local }
        return .moved(slot: slot, endpoint: endpoints[owner] ?? ":0")
    }
}
