import RoostCluster

/// Keys of a multi-key command grouped by hash slot, remembering each key's position, so that a command such as
/// `MGET a b c` can be sent as one command per slot and the replies put back in the caller's order.
struct SlotGroups: Sendable, Equatable {
    /// One slot's keys, as positions in the original key list (ascending).
    struct Group: Sendable, Equatable {
        var slot: Int
        var positions: [Int]
    }

    /// The groups, in order of each slot's first key.
    var groups: [Group]

    /// Groups `keys` by slot.
    init(keys: [String]) {
        self.init(slots: keys.map { keySlot($0) })
    }

    /// Groups positions by the slots given for them.
    init(slots: [Int]) {
        var groups: [Group] = []
        var groupOfSlot: [Int: Int] = [:]
        for (position, slot) in slots.enumerated() {
            if let index = groupOfSlot[slot] {
                groups[index].positions.append(position)
            } else {
                groupOfSlot[slot] = groups.count
                groups.append(Group(slot: slot, positions: [position]))
            }
        }
        self.groups = groups
    }

    /// Puts per-group results back in key order: `results[g][i]` belongs at `groups[g].positions[i]`.
    ///
    /// - Precondition: each group's results have as many elements as the group has positions.
    func merge<Element>(_ results: [[Element]], count: Int, placeholder: Element) -> [Element] {
        precondition(results.count == groups.count, "one result per slot group")
        var merged = [Element](repeating: placeholder, count: count)
        for (group, values) in zip(groups, results) {
            precondition(values.count == group.positions.count, "one value per key of slot \(group.slot)")
            for (position, value) in zip(group.positions, values) { merged[position] = value }
        }
        return merged
    }
}
