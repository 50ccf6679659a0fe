extension Gossip.Instance {
    /// A `meet` message for a node this one knows only by address (`CLUSTER MEET ip port`): the shell sends it
    /// down a fresh connection to that address. The receiver learns this node from the message's sender fields and
    /// answers (an ack) through its own link to this node's announced address, which is how this node learns the
    /// receiver's ID.
    public mutating func introduction(now: Int64) -> BusMessage {
        outgoing(.meet, to: myself, sequence: nextSequence(), now: now).message
    }

    /// Changes this node's view on an operator's command (`CLUSTER ADDSLOTS`, `DELSLOTS`, `SETSLOT`,
    /// `SET-CONFIG-EPOCH`, `BUMPEPOCH`, …), then records a configuration change and gossips this node's state and
    /// slot claim so that the others hear of it. Returns what `change` returns; if it throws, nothing is recorded
    /// (the change should throw before it modifies anything).
    public mutating func administer<Result, Failure: Error>(
        _ change: (inout ClusterTopology) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let result = try change(&topology)
        configurationChanged(slots: true)
        incarnation += 1
        dissemination.enqueue(.alive(myselfInfo))
        dissemination.enqueue(.slots(owner: myself, configEpoch: topology.myselfNode.configEpoch, slots: ownSlots))
        return result
    }

    /// Sets this node's own address (its announced IP, learned or configured, and its ports) and gossips it.
    /// Does nothing if the address is unchanged.
    public mutating func announce(ip: String, port: Int, busPort: Int) {
        let me = topology.myselfNode
        guard me.ip != ip || me.port != port || me.busPort != busPort else { return }
        let id = myself
        administer {
            $0.update(id) {
                $0.ip = ip
                $0.port = port
                $0.busPort = busPort
                $0.flags.remove(.noAddress)
            }
        }
    }

    /// Records the state of the bus link to `id` as `CLUSTER NODES` shows it (`connected` or `disconnected`).
    public mutating func setLinkState(_ state: ClusterNode.LinkState, of id: NodeID) {
        guard id != myself, let node = topology[id], node.linkState != state else { return }
        topology.update(id) { $0.linkState = state }
    }
}
