extension Gossip.Instance {
    /// The frames that carry a `PUBLISH` to every other known node (Redis's `clusterPropagatePublish`): one
    /// ``BusMessage/Kind/publish(channel:message:)`` per node with a bus address, with the sender's state but no
    /// gossip items, so membership news is never spent on a frame that a slow link may drop. The receiver's shell
    /// delivers the message to its own subscribers; the state machine only learns that the sender is alive.
    public mutating func publishMessages(channel: [UInt8], message: [UInt8]) -> [Gossip.Outgoing] {
        let me = topology.myselfNode
        var configEpoch = me.configEpoch
        if me.flags.contains(.replica), let primary = me.primaryID, let known = topology[primary] {
            configEpoch = known.configEpoch
        }
        let sender = BusMessage.Sender(
            id: myself, incarnation: incarnation, role: me.role, ip: me.ip, port: me.port, busPort: me.busPort,
            currentEpoch: topology.currentEpoch, configEpoch: configEpoch, slots: ownSlots,
            replicationOffset: replicationOffset)
        let kind = BusMessage.Kind.publish(channel: channel, message: message)
        return topology.nodes.values.sorted { $0.id < $1.id }.compactMap { node in
            guard node.id != myself, !node.ip.isEmpty, node.busPort > 0 else { return nil }
            return Gossip.Outgoing(
                to: node.id, ip: node.ip, busPort: node.busPort,
                message: BusMessage(kind: kind, sender: sender, sequence: 0))
        }
    }
}
