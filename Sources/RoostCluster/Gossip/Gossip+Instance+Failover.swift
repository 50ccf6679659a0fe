/// Replica election and promotion, following Redis Cluster 7 ("Replica election and promotion" in the cluster
/// specification; `clusterHandleSlaveFailover` and `clusterSendFailoverAuthIfNeeded`).
///
/// - **Trigger.** A replica (not `nofailover`) whose primary is `fail` and serves slots schedules an election at
///   now + 500 ms + random(0…500 ms) + rank × 1 s. Its rank is how many other replicas of the same primary (not
///   `fail`, not `nofailover`) have a greater replication offset, as last heard from them, ties going to the
///   smaller ID; scheduling pings those siblings so they hear this replica's offset. While it waits, a rank that
///   grows pushes the election back by a second per place, as in Redis.
/// - **Election.** `currentEpoch += 1`; a `failoverAuthRequest` goes to every slot-serving primary. Acks count from
///   distinct slot-serving primaries whose current epoch is at least the election's. A majority of the
///   slot-serving primaries (the failed one included, as Redis counts them) wins: the replica takes its primary's
///   slots with the election's epoch as config epoch and pings every member. Without a majority within
///   ``Gossip/Settings/failoverAuthTimeout`` the election times out and is retried, with a new epoch, once
///   ``Gossip/Settings/failoverRetryInterval`` has passed since it started.
/// - **Votes.** Only slot-serving primaries vote, once per epoch (`lastVoteEpoch`, saved in `nodes.conf`), and
///   never twice within 2 × node timeout for replicas of the same primary. A request is refused when its epoch is
///   stale, when the requester is not a replica of a known primary, when that primary is not `fail` (unless the
///   request is forced, as in a manual failover), or when a claimed slot's owner has a greater config epoch than
///   the request's (the requester's view is stale).
/// - **Afterwards.** The old primary, when it comes back, loses its slots to the greater config epoch and
///   becomes a replica of the winner; the other replicas of the old primary follow the winner as soon as they see
///   its claim.
///
/// Deviation: Redis's data-age check (a replica disconnected from its primary for longer than
/// `cluster-replica-validity-factor` × node timeout does not try) is not done; the shell does not report the link
/// age, and the rank already prefers the most up-to-date replica.
extension Gossip.Instance {
    /// Records this node's current replication offset (a primary's master offset, a replica's applied offset).
    /// The shell calls it often, at least on every tick; it travels in every message, ranks replicas in an
    /// election, and lets a manual failover start once the paused primary's offset is reached.
    public mutating func setReplicationOffset(_ offset: UInt64) {
        replicationOffset = offset
    }

    /// Returns and forgets what the failover machinery did since the last call, oldest first, for the shell to
    /// log. At most 1024 events are kept; older ones are dropped.
    public mutating func takeEvents() -> [Gossip.Event] {
        defer { failover.events = [] }
        return failover.events
    }

    mutating func record(_ event: Gossip.Event) {
        if failover.events.count >= 1024 { failover.events.removeFirst(failover.events.count - 1023) }
        failover.events.append(event)
    }

    /// When failover work is next due, if any.
    var failoverDeadline: Int64? {
        var deadline: Int64?
        func consider(_ time: Int64) { deadline = min(deadline ?? time, time) }
        if let election = failover.election {
            switch election.phase {
            case .scheduled: consider(election.startsAt)
            case .collecting: consider(election.startsAt + settings.failoverAuthTimeout)
            case .timedOut: consider(election.startsAt + settings.failoverRetryInterval)
            }
        }
        if let manual = failover.manual {
            consider(manual.deadline)
            if failover.election == nil && canStart(manual) { consider(lastSeen) }
        }
        if let pause = failover.pause { consider(pause.until) }
        if let awaiting = failover.awaitingTakeover { consider(awaiting.deadline) }
        return deadline
    }

    /// Notes the replication state a message carries: the sender's offset, and a paused primary's final offset
    /// for this replica's manual failover.
    mutating func noteFailoverState(of sender: BusMessage.Sender) {
        members[sender.id]?.replicationOffset = sender.replicationOffset
        // A frame that waited in a socket while this node was paused or cut off can carry the sender's state
        // from before (or during) the election it won: still "replica of you", with the current epoch already
        // raised by the election. Such a frame claims its old primary's config epoch, older than the one this
        // node now knows for the sender; a yield must be at least as recent on both epochs.
        if sender.role.isReplica && sender.role.primaryID == myself && topology.myselfNode.primaryID == sender.id
            && sender.currentEpoch >= topology.currentEpoch
            && sender.configEpoch >= (topology[sender.id]?.configEpoch ?? 0)
        {
            failover.yieldedPrimary = sender.id
        }
        guard sender.manualFailoverPaused, var manual = failover.manual, manual.mode == .default,
            manual.primary == sender.id, manual.pausedOffset == nil
        else { return }
        manual.pausedOffset = sender.replicationOffset
        failover.manual = manual
        record(.manualFailoverOffsetReceived(offset: sender.replicationOffset))
    }

    /// Moves every failover deadline and condition along; called after each tick and message.
    mutating func stepFailover(now: Int64) -> [Gossip.Outgoing] {
        var out: [Gossip.Outgoing] = []
        if let pause = failover.pause, now >= pause.until { resumeWrites() }
        if let awaiting = failover.awaitingTakeover {
            if topology.slots.slotCount(of: myself) == 0 {
                failover.awaitingTakeover = nil
            } else if now >= awaiting.deadline {
                failover.awaitingTakeover = nil
                becomePrimary(claiming: topology.slots.slots(of: myself), configEpoch: topology.maximumEpoch + 1)
                out += broadcastPing(now: now)
            }
        }
        out += takeOverFromYieldedPrimary(now: now)
        stepManualFailover(now: now)
        out += stepElection(now: now)
        return out
    }

    /// Aborts a manual failover past its deadline or whose primary changed; schedules its election once it can
    /// start.
    mutating func stepManualFailover(now: Int64) {
        guard let manual = failover.manual else { return }
        let me = topology.myselfNode
        guard me.flags.contains(.replica), me.primaryID == manual.primary else {
            failover.manual = nil
            return
        }
        if now >= manual.deadline {
            failover.manual = nil
            if failover.election?.forced ?? false { failover.election = nil }
            record(.manualFailoverAborted)
            return
        }
        if failover.election == nil && canStart(manual) {
            failover.election = Election(
                primary: manual.primary, startsAt: now, rank: 0, forced: true, phase: .scheduled)
            record(.electionScheduled(primary: manual.primary, at: now, rank: 0))
        }
    }

    func canStart(_ manual: ManualFailover) -> Bool {
        switch manual.mode {
        case .force: true
        case .default: manual.pausedOffset.map { replicationOffset >= $0 } ?? false
        case .takeover: false
        }
    }

    /// The automatic election: schedule it when the primary fails, start it on time, time it out, retry.
    mutating func stepElection(now: Int64) -> [Gossip.Outgoing] {
        let me = topology.myselfNode
        guard me.flags.contains(.replica), let primary = me.primaryID, let primaryNode = topology[primary] else {
            cancelElection()
            return []
        }
        var out: [Gossip.Outgoing] = []
        if let election = failover.election {
            if election.primary != primary || (!election.forced && !primaryNode.isFailed) {
                cancelElection()
            } else if case .timedOut = election.phase, now >= election.startsAt + settings.failoverRetryInterval {
                failover.election = nil
            }
        }
        if failover.election == nil {
            guard !me.flags.contains(.noFailover), primaryNode.isFailed, primaryNode.isPrimary,
                sortedPrimaries.contains(primary)
            else { return [] }
            let rank = failoverRank(replacing: primary)
            let startsAt = now + 500 + Int64.random(in: 0...500, using: &random) + Int64(rank) * 1_000
            failover.election = Election(
                primary: primary, startsAt: startsAt, rank: rank, forced: false, phase: .scheduled)
            record(.electionScheduled(primary: primary, at: startsAt, rank: rank))
            for sibling in topology.replicas(of: primary) where sibling.id != myself && !sibling.isFailed {
                out.append(outgoing(.ping, to: sibling.id, sequence: nextSequence(), now: now))
            }
        }
        guard var election = failover.election else { return out }
        switch election.phase {
        case .scheduled:
            if !election.forced {
                let rank = failoverRank(replacing: primary)
                if rank > election.rank { election.startsAt += Int64(rank - election.rank) * 1_000 }
                election.rank = rank
            }
            guard now >= election.startsAt else {
                failover.election = election
                return out
            }
            topology.observeCurrentEpoch(topology.currentEpoch + 1)
            configurationChanged(slots: false)
            let epoch = topology.currentEpoch
            election.phase = .collecting(epoch: epoch, votes: [])
            failover.election = election
            record(.electionStarted(epoch: epoch, rank: election.rank, forced: election.forced))
            for voter in sortedPrimaries where voter != myself {
                out.append(
                    outgoing(
                        .failoverAuthRequest(force: election.forced), to: voter, sequence: nextSequence(), now: now))
            }
        case .collecting(let epoch, let votes):
            if now >= election.startsAt + settings.failoverAuthTimeout {
                election.phase = .timedOut(epoch: epoch)
                failover.election = election
                record(.electionTimedOut(epoch: epoch, votes: votes.count, needed: primaryQuorum))
            }
        case .timedOut:
            break
        }
        return out
    }

    mutating func cancelElection() {
        guard let election = failover.election else { return }
        failover.election = nil
        record(.electionCancelled(primary: election.primary))
    }

    /// How many other replicas of `primary` that could fail over have a greater offset than this node (or the
    /// same offset and a smaller ID).
    func failoverRank(replacing primary: NodeID) -> Int {
        var rank = 0
        for sibling in topology.replicas(of: primary) where sibling.id != myself {
            guard !sibling.isFailed, !sibling.flags.contains(.noFailover) else { continue }
            let offset = members[sibling.id]?.replicationOffset ?? 0
            if offset > replicationOffset || (offset == replicationOffset && sibling.id < myself) { rank += 1 }
        }
        return rank
    }

    /// Counts an ack for this node's running election; wins at a majority.
    mutating func countVote(from sender: BusMessage.Sender, now: Int64) -> [Gossip.Outgoing] {
        guard var election = failover.election, case .collecting(let epoch, var votes) = election.phase,
            sender.currentEpoch >= epoch, topology[sender.id]?.isPrimary ?? false,
            sortedPrimaries.contains(sender.id)
        else { return [] }
        votes.insert(sender.id)
        election.phase = .collecting(epoch: epoch, votes: votes)
        failover.election = election
        guard votes.count >= primaryQuorum else { return [] }
        record(.electionWon(epoch: epoch, votes: votes.count))
        let slots = topology.slots.slots(of: election.primary)
        becomePrimary(claiming: slots, configEpoch: max(epoch, topology.myselfNode.configEpoch))
        return broadcastPing(now: now)
    }

    /// Answers a vote request if this node is a slot-serving primary: grants it (an ack, `lastVoteEpoch` set and
    /// saved) or records why not.
    mutating func answerVoteRequest(
        from sender: BusMessage.Sender, sequence: UInt64, force: Bool, now: Int64
    ) -> [Gossip.Outgoing] {
        let me = topology.myselfNode
        guard !me.flags.contains(.replica), !ownSlots.isEmpty else { return [] }
        if let refusal = voteRefusal(for: sender, force: force, now: now) {
            record(.voteRefused(to: sender.id, epoch: sender.currentEpoch, reason: refusal))
            return []
        }
        topology.lastVoteEpoch = topology.currentEpoch
        failover.votedAt[sender.role.primaryID!] = now
        configurationChanged(slots: false)
        record(.voteGranted(to: sender.id, epoch: topology.currentEpoch))
        return [outgoing(.failoverAuthAck, to: sender.id, sequence: sequence, now: now)]
    }

    func voteRefusal(for sender: BusMessage.Sender, force: Bool, now: Int64) -> Gossip.VoteRefusal? {
        let current = topology.currentEpoch
        if sender.currentEpoch < current {
            return .staleEpoch(requestEpoch: sender.currentEpoch, currentEpoch: current)
        }
        if topology.lastVoteEpoch == current { return .alreadyVoted(epoch: current) }
        guard sender.role.isReplica else { return .requesterNotReplica }
        guard let primary = sender.role.primaryID, let primaryNode = topology[primary] else { return .primaryUnknown }
        if !primaryNode.isFailed && !force { return .primaryNotFailed(primary) }
        if let votedAt = failover.votedAt[primary], now - votedAt < 2 * settings.nodeTimeout {
            return .votedRecently(primary: primary, at: votedAt)
        }
        for slot in sender.slots.slots {
            guard let owner = topology.slots.owner(of: slot) else { continue }
            let ownerEpoch = topology[owner]?.configEpoch ?? 0
            if ownerEpoch > sender.configEpoch {
                return .staleSlotClaim(
                    slot: slot, owner: owner, ownerConfigEpoch: ownerEpoch, requestConfigEpoch: sender.configEpoch)
            }
        }
        return nil
    }

    // MARK: Role changes

    /// Makes this node a primary serving `slots` (besides any it serves) with `configEpoch`, drops every failover
    /// in progress, and gossips the claim.
    mutating func becomePrimary(claiming slots: SlotSet, configEpoch: UInt64) {
        let wasReplica = topology.myselfNode.flags.contains(.replica)
        topology.observeCurrentEpoch(configEpoch)
        topology.update(myself) {
            $0.flags.remove(.replica)
            $0.flags.insert(.primary)
            $0.primaryID = nil
            $0.configEpoch = configEpoch
        }
        topology.slots.assign(slots, to: myself)
        incarnation += 1
        dissemination.enqueue(.alive(myselfInfo))
        dissemination.enqueue(
            .slots(owner: myself, configEpoch: configEpoch, slots: topology.slots.slots(of: myself)))
        configurationChanged(slots: true)
        failover.election = nil
        failover.manual = nil
        failover.awaitingTakeover = nil
        if wasReplica { record(.becamePrimary(configEpoch: configEpoch)) }
    }

    /// Makes this node a replica of `primary` (keeping its `nofailover` preference), drops its elections and any
    /// write pause, and gossips the new role. Does nothing if it already is one.
    mutating func becomeReplica(of primary: NodeID) {
        let me = topology.myselfNode
        guard !me.flags.contains(.replica) || me.primaryID != primary else { return }
        topology.update(myself) { $0.setRole(.replica(of: primary, noFailover: me.flags.contains(.noFailover))) }
        incarnation += 1
        dissemination.enqueue(.alive(myselfInfo))
        configurationChanged(slots: true)
        failover.election = nil
        failover.manual = nil
        resumeWrites()
        record(.becameReplica(of: primary))
    }

    /// A ping to every member not known to be failed, so a new claim spreads at once (Redis broadcasts a pong).
    mutating func broadcastPing(now: Int64) -> [Gossip.Outgoing] {
        var out: [Gossip.Outgoing] = []
        for id in memberIDs where members[id]?.failedIncarnation == nil {
            out.append(outgoing(.ping, to: id, sequence: nextSequence(), now: now))
        }
        return out
    }
}
