/// Operator-driven role changes: `CLUSTER REPLICATE`, `CLUSTER FAILOVER [FORCE|TAKEOVER]`, and the handoff of a
/// primary restarted without its data.
extension Gossip.Instance {
    // MARK: CLUSTER REPLICATE

    /// `CLUSTER REPLICATE <primary>`: makes this node a replica of `primary` and gossips the role change.
    ///
    /// Refused, with Redis 7.0's errors, for an unknown node, this node itself, a replica, or while this node is a
    /// primary serving slots. The shell checks the other half of Redis's last condition (the keyspace must be
    /// empty) before calling. Returns a ping to the new primary, so it hears of its replica at once.
    @discardableResult
    public mutating func replicate(
        _ primary: NodeID, now: Int64
    ) throws(Gossip.FailoverCommandError) -> [Gossip.Outgoing] {
        lastSeen = max(lastSeen, now)
        guard let node = topology[primary] else { throw .unknownNode(primary) }
        guard primary != myself else { throw .replicateMyself }
        guard !node.flags.contains(.replica) else { throw .replicateReplica }
        let me = topology.myselfNode
        if !me.flags.contains(.replica) && !ownSlots.isEmpty { throw .primaryNotEmpty }
        failover.awaitingTakeover = nil
        becomeReplica(of: primary)
        return [outgoing(.ping, to: primary, sequence: nextSequence(), now: now)]
    }

    // MARK: CLUSTER FAILOVER

    /// `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a replica: starts a manual failover of its primary.
    ///
    /// Refused, with Redis 7.0's errors, on a primary, on a replica whose primary is unknown, and (without `FORCE`
    /// or `TAKEOVER`) while the primary is `fail` or its link is down.
    ///
    /// - ``ManualFailoverMode/takeover``: takes the primary's slots at once with a new config epoch, no votes.
    /// - ``ManualFailoverMode/force``: starts an election now, which voters grant although the primary is up.
    /// - ``ManualFailoverMode/default``: sends `manualFailoverStart` to the primary, which pauses writes (see
    ///   ``manualFailoverPauseUntil``) and sends its final offset; once ``replicationOffset`` reaches it, this
    ///   replica runs a forced election.
    ///
    /// `FORCE` and the default mode are aborted if this node is not a primary ``Gossip/manualFailoverTimeout``
    /// later. Returns the messages to send.
    public mutating func startManualFailover(
        _ mode: ManualFailoverMode, now: Int64
    ) throws(Gossip.FailoverCommandError) -> [Gossip.Outgoing] {
        lastSeen = max(lastSeen, now)
        let me = topology.myselfNode
        guard me.flags.contains(.replica) else { throw .notReplica }
        guard let primary = me.primaryID, let primaryNode = topology[primary] else { throw .primaryUnknown }
        if mode == .default && (primaryNode.isFailed || primaryNode.linkState == .disconnected) { throw .primaryDown }
        failover.manual = nil
        if failover.election != nil { cancelElection() }
        record(.manualFailoverStarted(mode: mode))
        switch mode {
        case .takeover:
            becomePrimary(claiming: topology.slots.slots(of: primary), configEpoch: topology.maximumEpoch + 1)
            return broadcastPing(now: now)
        case .force:
            failover.manual = ManualFailover(
                mode: mode, primary: primary, deadline: now + Gossip.manualFailoverTimeout, pausedOffset: nil)
            return stepFailover(now: now)
        case .default:
            failover.manual = ManualFailover(
                mode: mode, primary: primary, deadline: now + Gossip.manualFailoverTimeout, pausedOffset: nil)
            return [outgoing(.manualFailoverStart, to: primary, sequence: nextSequence(), now: now)]
        }
    }

    /// The shell paused client writes for the manual failover ``manualFailoverPauseUntil`` announced; `offset` is
    /// this primary's final replication offset. From now on messages to the replica taking over carry
    /// `manualFailoverPaused` and this offset; returns one to send right away. Does nothing (returns no message)
    /// if no pause is in progress.
    public mutating func confirmWritesPaused(offset: UInt64, now: Int64) -> [Gossip.Outgoing] {
        lastSeen = max(lastSeen, now)
        guard var pause = failover.pause, now < pause.until else { return [] }
        pause.offset = offset
        failover.pause = pause
        return [outgoing(.ping, to: pause.replica, sequence: nextSequence(), now: now)]
    }

    /// A replica of this primary sent `manualFailoverStart`: pause writes for 2 × the manual failover timeout.
    mutating func pauseWritesForManualFailover(requestedBy sender: BusMessage.Sender, now: Int64) {
        let me = topology.myselfNode
        guard !me.flags.contains(.replica), sender.role.isReplica, sender.role.primaryID == myself else { return }
        let until = now + 2 * Gossip.manualFailoverTimeout
        failover.pause = WritePause(replica: sender.id, until: until, offset: nil)
        manualFailoverPauseUntil = until
        record(.writesPaused(for: sender.id, until: until))
    }

    /// Ends this primary's manual-failover pause, if any.
    mutating func resumeWrites() {
        guard failover.pause != nil || manualFailoverPauseUntil != nil else { return }
        failover.pause = nil
        manualFailoverPauseUntil = nil
        record(.writesResumed)
    }

    // MARK: Empty restart

    /// Whether this node yielded its slots to a replica after an empty restart and waits for it to take them
    /// (see ``yieldToReplicaAfterEmptyRestart(now:)``). The shell refuses keyed commands meanwhile.
    public var isAwaitingTakeover: Bool { failover.awaitingTakeover != nil }

    /// Hands this node's slots to a replica after a restart without persistence, so that its empty keyspace does
    /// not wipe the replicas' data. The shell calls it after loading `nodes.conf` when the keyspace is empty.
    ///
    /// If this node is a primary serving slots and knows a replica of itself that is not `fail`, it becomes a
    /// replica of that replica (the smallest ID) and gossips it; the replica, on hearing that its primary now
    /// replicates it, takes the slots at once with a new config epoch and no election. If that has not happened
    /// within 2 × node timeout, this node claims its slots back as a primary (with a new config epoch). Meanwhile
    /// ``isAwaitingTakeover`` is true. Returns a ping to the chosen replica (nothing if nothing was done).
    @discardableResult
    public mutating func yieldToReplicaAfterEmptyRestart(now: Int64) -> [Gossip.Outgoing] {
        lastSeen = max(lastSeen, now)
        let me = topology.myselfNode
        guard !me.flags.contains(.replica), !ownSlots.isEmpty,
            let replica = topology.replicas(of: myself).first(where: { !$0.isFailed })
        else { return [] }
        becomeReplica(of: replica.id)
        failover.awaitingTakeover = AwaitingTakeover(replica: replica.id, deadline: now + 2 * settings.nodeTimeout)
        return [outgoing(.ping, to: replica.id, sequence: nextSequence(), now: now)]
    }

    /// On the replica: its primary now says it replicates this node (an empty restart), in a message of its own
    /// or in gossip: take the slots at once.
    mutating func takeOverFromYieldedPrimary(now: Int64) -> [Gossip.Outgoing] {
        let heard = failover.yieldedPrimary
        failover.yieldedPrimary = nil
        let me = topology.myselfNode
        guard failover.awaitingTakeover == nil, me.flags.contains(.replica), let primary = me.primaryID,
            topology[primary] != nil
        else { return [] }
        // Only the primary's own, current message counts (see `noteFailoverState`): this node's record of the
        // primary can be stale, still showing it as this node's replica when this node has just lost its slots
        // to it (a primary resumed after a pause, or back from a partition), and taking over then would undo the
        // failover the cluster just made.
        guard heard == primary else { return [] }
        let slots = topology.slots.slots(of: primary)
        guard !slots.isEmpty else { return [] }
        becomePrimary(claiming: slots, configEpoch: topology.maximumEpoch + 1)
        return broadcastPing(now: now)
    }
}
