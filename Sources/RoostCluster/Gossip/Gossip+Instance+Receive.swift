extension Gossip.Instance {
    /// Handles one message. `sourceIP` is the address the message came from, used when the sender announces none.
    /// Returns the messages to send (an ack, a relayed probe, a forwarded ack, probes of newly suspected members).
    public mutating func receive(_ message: BusMessage, from sourceIP: String, now: Int64) -> [Gossip.Outgoing] {
        let sender = message.sender
        guard sender.id != myself else { return [] }
        if let until = forgotten[sender.id] {
            if now < until { return [] }
            forgotten.removeValue(forKey: sender.id)
        }
        lastSeen = max(lastSeen, now)
        heardDirectly(from: sender, sourceIP: sourceIP, now: now)
        noteFailoverState(of: sender)
        var out: [Gossip.Outgoing] = []
        switch message.kind {
        case .ping, .meet:
            out.append(outgoing(.ack(subject: myself), to: sender.id, sequence: message.sequence, now: now))
        case .pingRequest(let target):
            if target == myself {
                out.append(outgoing(.ack(subject: myself), to: sender.id, sequence: message.sequence, now: now))
            } else if members[target] != nil {
                let sequence = nextSequence()
                relays[sequence] = Relay(
                    requester: sender.id, requesterSequence: message.sequence, target: target,
                    expiresAt: now + settings.protocolPeriod)
                out.append(outgoing(.ping, to: target, sequence: sequence, now: now))
            }
        case .ack(let subject):
            if let relay = relays.removeValue(forKey: message.sequence), relay.target == subject {
                if members[relay.requester] != nil {
                    out.append(
                        outgoing(
                            .ack(subject: subject), to: relay.requester, sequence: relay.requesterSequence, now: now))
                }
            } else if let probe = probes[message.sequence], probe.target == subject {
                probes.removeValue(forKey: message.sequence)
                if subject != sender.id { confirmAlive(subject, now: now) }
            }
        case .failoverAuthRequest(let force):
            out += answerVoteRequest(from: sender, sequence: message.sequence, force: force, now: now)
        case .failoverAuthAck:
            out += countVote(from: sender, now: now)
        case .manualFailoverStart:
            pauseWritesForManualFailover(requestedBy: sender, now: now)
        case .publish:
            break  // delivered by the shell (see Gossip.Instance.publishMessages)
        }
        for item in message.gossip { apply(item, now: now) }
        out += startVerifications(now: now)
        out += stepFailover(now: now)
        return out
    }

    /// A message from `sender` proves it is up now: record its address, role, incarnation, epochs and slot claim,
    /// and clear this node's own suspicion of it.
    mutating func heardDirectly(from sender: BusMessage.Sender, sourceIP: String, now: Int64) {
        let ip = sender.ip.isEmpty ? sourceIP : sender.ip
        learn(
            MemberInfo(
                id: sender.id, incarnation: sender.incarnation, role: sender.role, ip: ip, port: sender.port,
                busPort: sender.busPort), now: now)
        confirmAlive(sender.id, now: now)
        if topology.observeCurrentEpoch(sender.currentEpoch) { configurationVersion += 1 }
        if !sender.role.isReplica {
            applyClaim(owner: sender.id, configEpoch: sender.configEpoch, slots: sender.slots, now: now)
            if topology.resolveConfigEpochCollision(with: sender.id) {
                dissemination.enqueue(
                    .slots(owner: myself, configEpoch: topology.myselfNode.configEpoch, slots: ownSlots))
                configurationChanged(slots: true)
            }
        }
    }

    /// Direct evidence that `id` is up: clear `fail?`, note the pong.
    mutating func confirmAlive(_ id: NodeID, now: Int64) {
        guard members[id] != nil else { return }
        for (sequence, probe) in probes where probe.target == id { probes.removeValue(forKey: sequence) }
        let wasSuspected = isSuspectedByMe(id)
        topology.update(id) {
            $0.flags.remove(.possiblyFailed)
            $0.pingSent = 0
            $0.pongReceived = now
            $0.linkState = .connected
        }
        if wasSuspected {
            members[id]!.reports.removeValue(forKey: myself)
            dissemination.remove(.suspect(id, reporter: myself))
            configurationChanged(slots: false)
        }
    }

    /// Adds or updates a member from its own announcement or an `alive` item.
    mutating func learn(_ info: MemberInfo, now: Int64) {
        guard info.id != myself else { return }
        if forgotten[info.id].map({ now < $0 }) ?? false { return }
        guard var member = members[info.id] else {
            members[info.id] = Member(incarnation: info.incarnation)
            memberIDs.append(info.id)
            insertIntoProbeOrder(info.id)
            topology.upsert(node(from: info, pongReceived: now))
            dissemination.enqueue(.alive(info))
            configurationChanged(slots: false)
            return
        }
        let known = topology[info.id]!
        let roleChanged =
            known.flags.contains(.replica) != info.role.isReplica || known.primaryID != info.role.primaryID
        let addressChanged = known.ip != info.ip || known.port != info.port || known.busPort != info.busPort
        guard info.incarnation > member.incarnation || (info.incarnation == member.incarnation && addressChanged)
        else { return }
        let newer = info.incarnation > member.incarnation
        if newer {
            member.incarnation = info.incarnation
            member.reports = [:]
            dissemination.removeSuspicions(of: info.id)
        }
        var cleared = false
        if let failed = member.failedIncarnation, info.incarnation > failed {
            member.failedIncarnation = nil
            cleared = true
        }
        members[info.id] = member
        topology.update(info.id) {
            $0.ip = info.ip
            $0.port = info.port
            $0.busPort = info.busPort
            $0.flags.remove(.noAddress)
            if cleared { $0.flags.remove(.failed) }
            if newer { $0.flags.remove(.possiblyFailed) }
            if roleChanged { $0.setRole(info.role) }
        }
        if cleared { dissemination.remove(.failed(info.id)) }
        dissemination.enqueue(.alive(info))
        configurationChanged(slots: roleChanged)
    }

    /// Applies one piggybacked item.
    mutating func apply(_ item: GossipItem, now: Int64) {
        switch item {
        case .alive(let info):
            if info.id == myself {
                if info.incarnation >= incarnation && info != myselfInfo { refute(above: info.incarnation) }
            } else {
                learn(info, now: now)
            }
        case .suspect(let subject, let suspectedIncarnation, let reporter):
            if subject == myself {
                if suspectedIncarnation >= incarnation { refute(above: suspectedIncarnation) }
                return
            }
            guard var member = members[subject], member.failedIncarnation == nil,
                suspectedIncarnation >= member.incarnation, reporter != myself
            else { return }
            if suspectedIncarnation > member.incarnation {
                member.incarnation = suspectedIncarnation
                member.reports = [:]
            }
            let isNew = member.reports[reporter].map { now - $0 > settings.nodeTimeout / 2 } ?? true
            member.reports[reporter] = now
            members[subject] = member
            guard isNew else { return }
            if !dissemination.contains(.suspicionRumor(subject)) {
                dissemination.enqueue(item, as: .suspicionRumor(subject))
            }
            if !isSuspectedByMe(subject) && now - member.verifiedAt >= settings.protocolPeriod
                && !verifications.contains(subject)
            {
                verifications.append(subject)
            }
            checkFailureAgreement(subject, now: now)
        case .failed(let subject, let failedIncarnation):
            if subject == myself {
                if failedIncarnation >= incarnation { refute(above: failedIncarnation) }
                return
            }
            guard let member = members[subject], member.failedIncarnation == nil,
                failedIncarnation >= member.incarnation
            else { return }
            members[subject]!.incarnation = failedIncarnation
            markFailed(subject, incarnation: failedIncarnation)
        case .slots(let owner, let configEpoch, let slots):
            guard owner != myself || configEpoch > topology.myselfNode.configEpoch else { return }
            applyClaim(owner: owner, configEpoch: configEpoch, slots: slots, now: now, regossip: item)
        }
    }

    /// Applies a primary's slot claim, from its own message or from gossip; news is gossiped on (a claim heard
    /// first from the claimant itself must be passed on too, or it would spread only by direct contact). If this
    /// primary loses all its slots to one claimant, it becomes that node's replica, as in Redis; so does a replica
    /// whose primary lost all its slots to it.
    mutating func applyClaim(
        owner: NodeID, configEpoch: UInt64, slots: SlotSet, now: Int64, regossip: GossipItem? = nil
    ) {
        let knownEpoch = topology[owner]?.configEpoch
        let result = topology.applySlotClaim(by: owner, configEpoch: configEpoch, slots: slots)
        let epochNews = knownEpoch.map { configEpoch > $0 } ?? false
        guard result.changed || epochNews else { return }
        configurationChanged(slots: true)
        dissemination.enqueue(regossip ?? .slots(owner: owner, configEpoch: configEpoch, slots: slots))
        guard owner != myself else { return }
        if result.lost[myself] != nil, topology.slots.slotCount(of: myself) == 0 {
            failover.awaitingTakeover = nil
            becomeReplica(of: owner)
            return
        }
        // A replica whose primary lost all its slots follows the new owner (Redis's clusterUpdateSlotsConfigWith).
        let me = topology.myselfNode
        if me.flags.contains(.replica), let primary = me.primaryID, primary != owner, result.lost[primary] != nil,
            topology.slots.slotCount(of: primary) == 0
        {
            becomeReplica(of: owner)
        }
    }

    /// Answers suspicion or failure of this node at `heard` with a greater incarnation.
    mutating func refute(above heard: UInt64) {
        incarnation = max(incarnation, heard) + 1
        dissemination.enqueue(.alive(myselfInfo))
    }

    mutating func insertIntoProbeOrder(_ id: NodeID) {
        let position = Int.random(in: probeIndex...probeOrder.count, using: &random)
        probeOrder.insert(id, at: position)
    }

    func node(from info: MemberInfo, pongReceived: Int64) -> ClusterNode {
        var node = ClusterNode(id: info.id, ip: info.ip, port: info.port, busPort: info.busPort)
        node.setRole(info.role)
        node.pongReceived = pongReceived
        return node
    }

    /// This node as an `alive` item.
    var myselfInfo: MemberInfo {
        let me = topology.myselfNode
        return MemberInfo(
            id: myself, incarnation: incarnation, role: me.role, ip: me.ip, port: me.port, busPort: me.busPort)
    }

    /// The slots this node claims: its own, or its primary's for a replica.
    var ownSlots: SlotSet {
        mutating get {
            if let cachedOwnSlots { return cachedOwnSlots }
            let me = topology.myselfNode
            let slots = topology.slots.slots(of: me.flags.contains(.replica) ? me.primaryID ?? myself : myself)
            cachedOwnSlots = slots
            return slots
        }
    }

    /// Builds a message to `id` with this node's state and piggybacked gossip; news about the receiver itself
    /// (this node's suspicion, or its failure) goes first so it can refute.
    mutating func outgoing(
        _ kind: BusMessage.Kind, to id: NodeID, sequence: UInt64, now: Int64, leading: [GossipItem] = []
    ) -> Gossip.Outgoing {
        let me = topology.myselfNode
        var configEpoch = me.configEpoch
        if me.flags.contains(.replica), let primary = me.primaryID, let known = topology[primary] {
            configEpoch = known.configEpoch
        }
        var sender = BusMessage.Sender(
            id: myself, incarnation: incarnation, role: me.role, ip: me.ip, port: me.port, busPort: me.busPort,
            currentEpoch: topology.currentEpoch, configEpoch: configEpoch, slots: ownSlots,
            replicationOffset: replicationOffset)
        if let pause = failover.pause, pause.replica == id, let offset = pause.offset, !me.flags.contains(.replica) {
            sender.manualFailoverPaused = true
            sender.replicationOffset = offset
        }
        var gossip = leading
        if let member = members[id] {
            if let failed = member.failedIncarnation {
                gossip.append(.failed(subject: id, incarnation: failed))
            } else if let reporter = member.reports.keys.min() {
                gossip.append(.suspect(subject: id, incarnation: member.incarnation, reporter: reporter))
            }
        }
        let limit = settings.retransmitMultiplier * Self.ceilLog2(memberIDs.count + 2)
        gossip += dissemination.take(
            maximumItems: settings.maximumGossipItems, maximumBytes: settings.maximumGossipBytes, limit: limit)
        let node = topology[id]
        return Gossip.Outgoing(
            to: id, ip: node?.ip ?? "", busPort: node?.busPort ?? 0,
            message: BusMessage(kind: kind, sender: sender, sequence: sequence, gossip: gossip))
    }

    static func ceilLog2(_ value: Int) -> Int {
        Int.bitWidth - (value - 1).leadingZeroBitCount
    }
}

extension ClusterNode {
    /// The node's role as the bus carries it.
    public var role: MemberRole {
        flags.contains(.replica)
            ? .replica(of: primaryID, noFailover: flags.contains(.noFailover)) : .primary
    }

    /// Sets the role flags and primary from a bus role.
    public mutating func setRole(_ role: MemberRole) {
        if role.isReplica {
            flags.remove(.primary)
            flags.insert(.replica)
        } else {
            flags.remove(.replica)
            flags.insert(.primary)
        }
        if role.noFailover { flags.insert(.noFailover) } else { flags.remove(.noFailover) }
        primaryID = role.primaryID
    }
}
