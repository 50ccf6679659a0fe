/// One node's view of the cluster: the members it knows, who serves each slot, and the epochs.
///
/// This is what `nodes.conf` persists and what `CLUSTER NODES`, `SLOTS` and `SHARDS` report. It is a plain value;
/// the membership state machine (``Gossip/Instance``) keeps one and updates it as it learns.
///
/// Epochs follow Redis Cluster:
/// - `currentEpoch` is a logical clock: it only grows, and a node adopts any greater value it hears.
/// - Each primary has a `configEpoch`, the version of its claim on its slots. A claim with a greater config epoch
///   wins a slot (``applySlotClaim(by:configEpoch:slots:)``).
/// - Two primaries with the same config epoch would make ownership ambiguous, so the one with the smaller node ID
///   takes a new, greater epoch (``resolveConfigEpochCollision(with:)``); repeated, this makes all config epochs
///   distinct.
public struct ClusterTopology: Sendable, Equatable {
    /// This node's ID.
    public let myself: NodeID
    /// Every known node, this one included.
    public internal(set) var nodes: [NodeID: ClusterNode]
    /// Who serves each slot, in this node's view.
    public var slots: SlotMap
    /// The cluster's logical clock, as far as this node knows. Never decreases.
    public private(set) var currentEpoch: UInt64
    /// The last epoch in which this node voted in a failover election.
    public var lastVoteEpoch: UInt64

    /// A topology that knows only `myself` (which gets the `myself` flag).
    public init(myself: ClusterNode, currentEpoch: UInt64 = 0, lastVoteEpoch: UInt64 = 0) {
        var node = myself
        node.flags.insert(.myself)
        self.myself = node.id
        self.nodes = [node.id: node]
        self.slots = SlotMap()
        self.currentEpoch = max(currentEpoch, node.configEpoch)
        self.lastVoteEpoch = lastVoteEpoch
    }

    /// This node's own record.
    public var myselfNode: ClusterNode { nodes[myself]! }

    /// The record of `id`, if known.
    public subscript(id: NodeID) -> ClusterNode? { nodes[id] }

    /// Adds a node or replaces what is known about it. The `myself` flag cannot be moved to another node.
    public mutating func upsert(_ node: ClusterNode) {
        var node = node
        if node.id == myself { node.flags.insert(.myself) } else { node.flags.remove(.myself) }
        nodes[node.id] = node
        if node.configEpoch > currentEpoch { currentEpoch = node.configEpoch }
    }

    /// Changes the record of `id` in place; does nothing if the node is unknown.
    public mutating func update(_ id: NodeID, _ change: (inout ClusterNode) -> Void) {
        guard var node = nodes[id] else { return }
        change(&node)
        upsert(node)
    }

    /// Removes a node (`CLUSTER FORGET`): its slots become unassigned and its replicas lose their primary.
    /// This node cannot forget itself.
    public mutating func forget(_ id: NodeID) {
        guard id != myself, nodes.removeValue(forKey: id) != nil else { return }
        slots.removeOwner(id)
        for (other, node) in nodes where node.primaryID == id { nodes[other]?.primaryID = nil }
    }

    /// The primaries serving at least one slot: Redis's "cluster size", the electorate for failure agreement and
    /// failover votes.
    public var slotOwningPrimaries: [NodeID] {
        slots.slotCounts.keys.filter { nodes[$0]?.isPrimary ?? false }.sorted()
    }

    /// Votes needed for a majority of ``slotOwningPrimaries`` (`size / 2 + 1`).
    public var primaryQuorum: Int { slotOwningPrimaries.count / 2 + 1 }

    /// The replicas of `primary`, in ID order.
    public func replicas(of primary: NodeID) -> [ClusterNode] {
        nodes.values.filter { $0.primaryID == primary && $0.flags.contains(.replica) }.sorted { $0.id < $1.id }
    }

    // MARK: Epochs

    /// Adopts `epoch` as the current epoch if it is greater (epochs only grow). Returns whether it changed.
    @discardableResult
    public mutating func observeCurrentEpoch(_ epoch: UInt64) -> Bool {
        guard epoch > currentEpoch else { return false }
        currentEpoch = epoch
        return true
    }

    /// The greatest epoch this node knows: its current epoch or any node's config epoch.
    public var maximumEpoch: UInt64 {
        nodes.values.reduce(currentEpoch) { max($0, $1.configEpoch) }
    }

    /// `CLUSTER BUMPEPOCH`: takes a new config epoch unless this node's is already non-zero and the greatest.
    /// Returns whether it bumped (Redis replies `BUMPED` or `STILL`), with the resulting config epoch.
    @discardableResult
    public mutating func bumpConfigEpoch() -> (bumped: Bool, configEpoch: UInt64) {
        let mine = myselfNode.configEpoch
        guard mine == 0 || mine != maximumEpoch else { return (false, mine) }
        currentEpoch = maximumEpoch + 1
        nodes[myself]!.configEpoch = currentEpoch
        return (true, currentEpoch)
    }

    /// Why `CLUSTER SET-CONFIG-EPOCH` was refused; `message` is Redis's error text without `ERR `.
    public struct ConfigEpochError: Error, Hashable, Sendable {
        /// The error text.
        public var message: String
    }

    /// `CLUSTER SET-CONFIG-EPOCH`: only allowed on a node that knows no other node and has config epoch 0.
    public mutating func setConfigEpoch(_ epoch: UInt64) throws(ConfigEpochError) {
        guard nodes.count == 1 else {
            throw ConfigEpochError(
                message: "The user can assign a config epoch only when the node does not know any other node.")
        }
        guard myselfNode.configEpoch == 0 else {
            throw ConfigEpochError(message: "Node config epoch is already non-zero")
        }
        nodes[myself]!.configEpoch = epoch
        observeCurrentEpoch(epoch)
    }

    /// Applies Redis's collision rule after hearing `sender`'s config epoch: if both are primaries with the same
    /// config epoch and this node's ID is the smaller, this node takes `currentEpoch + 1` as its config epoch.
    /// Returns whether it did.
    @discardableResult
    public mutating func resolveConfigEpochCollision(with sender: NodeID) -> Bool {
        guard sender != myself, let other = nodes[sender] else { return false }
        let me = myselfNode
        guard other.configEpoch == me.configEpoch, other.isPrimary, me.isPrimary, myself < sender else { return false }
        currentEpoch += 1
        nodes[myself]!.configEpoch = currentEpoch
        return true
    }

    /// Applies a primary's claim on `slots` with its config epoch: records the epoch if it is greater than the one
    /// known (config epochs of a node only grow), advances the current epoch, and moves each claimed slot whose
    /// owner has a smaller config epoch (see ``SlotMap/claim(_:by:configEpoch:epochOf:)``).
    ///
    /// If this node loses slots, the caller decides what follows (Redis makes a primary that lost all its slots a
    /// replica of the winner).
    @discardableResult
    public mutating func applySlotClaim(by claimant: NodeID, configEpoch: UInt64, slots claimed: SlotSet)
        -> SlotMap.ClaimResult
    {
        observeCurrentEpoch(configEpoch)
        if let known = nodes[claimant], configEpoch > known.configEpoch { nodes[claimant]!.configEpoch = configEpoch }
        let nodes = self.nodes
        return slots.claim(claimed, by: claimant, configEpoch: configEpoch) { nodes[$0]?.configEpoch ?? 0 }
    }
}
