/// Who serves each of the 16384 hash slots, and which slots are moving.
///
/// Owners are stored as 2-byte indices into a small table of node IDs, so a map costs 32 KiB however many nodes
/// there are, and copies share storage until written. `migrating` and `importing` hold this node's half of a
/// resharding (`CLUSTER SETSLOT <slot> MIGRATING|IMPORTING <node>`); Redis keeps them for `myself` only.
///
/// Ownership changes follow Redis Cluster's config-epoch rule (see ``claim(_:by:configEpoch:epochOf:)``): a claim
/// wins a slot that is unassigned or whose owner has a strictly smaller config epoch.
public struct SlotMap: Sendable {
    private static let unassigned: UInt16 = .max

    private var owners: [UInt16]
    private var ownerIDs: [NodeID] = []
    private var ownerIndices: [NodeID: UInt16] = [:]

    /// Slots this node is handing over, with the node that receives them.
    public private(set) var migrating: [Int: NodeID] = [:]
    /// Slots this node is receiving, with the node that hands them over.
    public private(set) var importing: [Int: NodeID] = [:]

    /// A map with every slot unassigned.
    public init() {
        self.owners = Array(repeating: Self.unassigned, count: clusterSlotCount)
    }

    /// The node serving `slot`, or `nil` if the slot is unassigned.
    public func owner(of slot: Int) -> NodeID? {
        let index = owners[slot]
        return index == Self.unassigned ? nil : ownerIDs[Int(index)]
    }

    /// Assigns `slot` to `node` (`nil` unassigns it).
    public mutating func assign(_ slot: Int, to node: NodeID?) {
        var index = Self.unassigned
        if let node { index = self.index(of: node) }
        owners[slot] = index
    }

    /// Assigns every slot of `slots` to `node` (`nil` unassigns them).
    public mutating func assign(_ slots: SlotSet, to node: NodeID?) {
        var index = Self.unassigned
        if let node { index = self.index(of: node) }
        for slot in slots.slots { owners[slot] = index }
    }

    /// Unassigns every slot served by `node` (for `CLUSTER FORGET` and `FLUSHSLOTS`) and drops its moves.
    public mutating func removeOwner(_ node: NodeID) {
        if let index = ownerIndices[node] {
            for slot in owners.indices where owners[slot] == index { owners[slot] = Self.unassigned }
        }
        migrating = migrating.filter { $0.value != node }
        importing = importing.filter { $0.value != node }
    }

    /// The slots served by `node`.
    public func slots(of node: NodeID) -> SlotSet {
        var set = SlotSet()
        guard let index = ownerIndices[node] else { return set }
        for slot in owners.indices where owners[slot] == index { set.insert(slot) }
        return set
    }

    /// The slots served by `node`, as maximal ascending ranges.
    public func ranges(of node: NodeID) -> [ClosedRange<Int>] {
        slots(of: node).ranges
    }

    /// How many slots `node` serves.
    public func slotCount(of node: NodeID) -> Int {
        guard let index = ownerIndices[node] else { return 0 }
        return owners.reduce(0) { $0 + ($1 == index ? 1 : 0) }
    }

    /// Every node serving at least one slot, with its slot count.
    public var slotCounts: [NodeID: Int] {
        var counts = [Int](repeating: 0, count: ownerIDs.count)
        for index in owners where index != Self.unassigned { counts[Int(index)] += 1 }
        var result: [NodeID: Int] = [:]
        for (index, count) in counts.enumerated() where count > 0 { result[ownerIDs[index]] = count }
        return result
    }

    /// The number of slots with an owner.
    public var assignedCount: Int { owners.reduce(0) { $0 + ($1 == Self.unassigned ? 0 : 1) } }

    /// Whether all 16384 slots have an owner (`cluster_state:ok` needs this when full coverage is required).
    public var isFullyCovered: Bool { !owners.contains(Self.unassigned) }

    /// Every slot with its owner, in slot order, as maximal runs served by one node (unassigned runs omitted).
    public var assignedRuns: [(range: ClosedRange<Int>, owner: NodeID)] {
        var result: [(range: ClosedRange<Int>, owner: NodeID)] = []
        var start = 0
        while start < clusterSlotCount {
            let index = owners[start]
            var end = start
            while end + 1 < clusterSlotCount && owners[end + 1] == index { end += 1 }
            if index != Self.unassigned { result.append((start...end, ownerIDs[Int(index)])) }
            start = end + 1
        }
        return result
    }

    /// Marks `slot` as migrating to `node` (`nil` clears it).
    public mutating func setMigrating(_ slot: Int, to node: NodeID?) {
        precondition((0..<clusterSlotCount).contains(slot), "slot \(slot) out of range")
        migrating[slot] = node
    }

    /// Marks `slot` as importing from `node` (`nil` clears it).
    public mutating func setImporting(_ slot: Int, from node: NodeID?) {
        precondition((0..<clusterSlotCount).contains(slot), "slot \(slot) out of range")
        importing[slot] = node
    }

    /// What a slot claim changed.
    public struct ClaimResult: Hashable, Sendable {
        /// The slots now served by the claimant that were not before.
        public var gained = SlotSet()
        /// For each previous owner, the slots it lost to the claimant.
        public var lost: [NodeID: SlotSet] = [:]
        /// Claimed slots kept by their owner because its config epoch is not smaller than the claim's.
        public var refused = SlotSet()
        /// Whether anything changed.
        public var changed: Bool { !gained.isEmpty }
    }

    /// Applies a claim that `claimant`, with config epoch `configEpoch`, serves `slots`.
    ///
    /// For each claimed slot: a slot this node is importing is left alone (the resharding in progress decides);
    /// an unassigned slot, or one whose owner's config epoch (from `epochOf`) is smaller than `configEpoch`, moves
    /// to the claimant; otherwise the claim is refused for that slot (Redis answers such stale claims with an
    /// `UPDATE` message). Slots the claimant served before but no longer claims are not touched: they change
    /// hands only when another node claims them with a greater epoch.
    @discardableResult
    public mutating func claim(
        _ slots: SlotSet, by claimant: NodeID, configEpoch: UInt64, epochOf: (NodeID) -> UInt64
    ) -> ClaimResult {
        var result = ClaimResult()
        let claimantIndex = index(of: claimant)
        for slot in slots.slots {
            let current = owners[slot]
            if current == claimantIndex || importing[slot] != nil { continue }
            if current != Self.unassigned {
                let previous = ownerIDs[Int(current)]
                guard epochOf(previous) < configEpoch else {
                    result.refused.insert(slot)
                    continue
                }
                result.lost[previous, default: SlotSet()].insert(slot)
            }
            owners[slot] = claimantIndex
            result.gained.insert(slot)
        }
        return result
    }

    private mutating func index(of node: NodeID) -> UInt16 {
        if let index = ownerIndices[node] { return index }
        if ownerIDs.count >= Int(Self.unassigned) - 1 { compact() }
        precondition(ownerIDs.count < Int(Self.unassigned), "more than 65534 slot owners")
        let index = UInt16(ownerIDs.count)
        ownerIDs.append(node)
        ownerIndices[node] = index
        return index
    }

    /// Drops owner-table entries that own no slot (the table only grows otherwise).
    private mutating func compact() {
        var used = [Bool](repeating: false, count: ownerIDs.count)
        for index in owners where index != Self.unassigned { used[Int(index)] = true }
        var remap = [UInt16](repeating: Self.unassigned, count: ownerIDs.count)
        var ids: [NodeID] = []
        for (index, id) in ownerIDs.enumerated() where used[index] {
            remap[index] = UInt16(ids.count)
            ids.append(id)
        }
        for slot in owners.indices where owners[slot] != Self.unassigned { owners[slot] = remap[Int(owners[slot])] }
        ownerIDs = ids
        ownerIndices = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, UInt16($0)) })
    }
}

extension SlotMap: Equatable {
    /// Two maps are equal when every slot has the same owner and the same moves are in progress.
    public static func == (lhs: SlotMap, rhs: SlotMap) -> Bool {
        guard lhs.migrating == rhs.migrating, lhs.importing == rhs.importing else { return false }
        if lhs.ownerIDs == rhs.ownerIDs { return lhs.owners == rhs.owners }
        for slot in 0..<clusterSlotCount where lhs.owner(of: slot) != rhs.owner(of: slot) { return false }
        return true
    }
}
