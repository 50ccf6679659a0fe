import RoostCluster
import Testing

/// A primary's answers to vote requests, driven message by message.
@Suite("Failover votes")
struct FailoverVotingTests {
    static let settings = Gossip.Settings(nodeTimeout: 2_000)
    static let voter = node(0x10)
    static let failedPrimary = node(0x20)
    static let firstReplica = node(0x21)
    static let secondReplica = node(0x22)
    static let livePrimary = node(0x30)
    static let liveReplica = node(0x31)
    static let failedSlots = SlotSet([5001...10000])

    /// Primaries 0x10 (slots 0-5000, config epoch 1), 0x20 (`fail`, 5001-10000, epoch 2) and 0x30 (the rest,
    /// epoch 3); replicas 0x21 and 0x22 of 0x20 and 0x31 of 0x30; current epoch 3. The instance is `myself`'s.
    static func instance(myself: NodeID = voter) -> Gossip.Instance {
        let records: [ClusterNode] = [
            ClusterNode(id: voter, ip: "10.0.0.16", port: 7000, configEpoch: 1),
            ClusterNode(id: failedPrimary, ip: "10.0.0.32", port: 7000, flags: [.primary, .failed], configEpoch: 2),
            ClusterNode(id: livePrimary, ip: "10.0.0.48", port: 7000, configEpoch: 3),
            ClusterNode(
                id: firstReplica, ip: "10.0.0.33", port: 7000, flags: [.replica], primaryID: failedPrimary),
            ClusterNode(
                id: secondReplica, ip: "10.0.0.34", port: 7000, flags: [.replica], primaryID: failedPrimary),
            ClusterNode(id: liveReplica, ip: "10.0.0.49", port: 7000, flags: [.replica], primaryID: livePrimary),
        ]
        var topology = ClusterTopology(myself: records.first { $0.id == myself }!, currentEpoch: 3)
        for record in records where record.id != myself { topology.upsert(record) }
        topology.slots.assign(SlotSet([0...5000]), to: voter)
        topology.slots.assign(failedSlots, to: failedPrimary)
        topology.slots.assign(SlotSet([10001...16383]), to: livePrimary)
        return Gossip.Instance(topology: topology, settings: settings, seed: 1, now: 0)
    }

    static func request(
        from id: NodeID, role: MemberRole, epoch: UInt64, configEpoch: UInt64 = 2, slots: SlotSet = failedSlots,
        force: Bool = false
    ) -> BusMessage {
        let ip = ["10.0.0.33", "10.0.0.34", "10.0.0.49"][
            [firstReplica, secondReplica, liveReplica].firstIndex(of: id) ?? 0]
        return BusMessage(
            kind: .failoverAuthRequest(force: force),
            sender: .init(
                id: id, incarnation: 0, role: role, ip: ip, port: 7000, busPort: 17000, currentEpoch: epoch,
                configEpoch: configEpoch, slots: slots),
            sequence: 77)
    }

    /// Delivers `message` and returns the acks sent and the events.
    static func ask(_ instance: inout Gossip.Instance, _ message: BusMessage, now: Int64) -> (
        acks: [Gossip.Outgoing], events: [Gossip.Event]
    ) {
        let out = instance.receive(message, from: message.sender.ip, now: now)
        return (out.filter { $0.message.kind == .failoverAuthAck }, instance.takeEvents())
    }

    @Test("A vote is an ack to the requester; lastVoteEpoch is set and counts as a configuration change")
    func grant() {
        var instance = Self.instance()
        let version = instance.configurationVersion
        let answer = Self.ask(
            &instance, Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 4), now: 0)
        #expect(answer.events == [.voteGranted(to: Self.firstReplica, epoch: 4)])
        #expect(answer.acks.count == 1)
        #expect(answer.acks.first?.to == Self.firstReplica)
        #expect(answer.acks.first?.message.sequence == 77)
        #expect(answer.acks.first?.message.sender.currentEpoch == 4)
        #expect(instance.topology.lastVoteEpoch == 4)
        #expect(instance.configurationVersion > version)
        #expect(instance.topology.nodesFile.hasSuffix("vars currentEpoch 4 lastVoteEpoch 4\n"))
    }

    @Test("One vote per epoch: a second request in the same epoch is refused, even forced")
    func oneVotePerEpoch() {
        var instance = Self.instance()
        _ = Self.ask(
            &instance, Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 4), now: 0)
        let second = Self.ask(
            &instance,
            Self.request(
                from: Self.liveReplica, role: .replica(of: Self.livePrimary), epoch: 4, configEpoch: 3,
                slots: SlotSet([10001...16383]), force: true),
            now: 10)
        #expect(second.acks.isEmpty)
        #expect(second.events == [.voteRefused(to: Self.liveReplica, epoch: 4, reason: .alreadyVoted(epoch: 4))])
    }

    @Test("A request from an older epoch is refused")
    func staleEpoch() {
        var instance = Self.instance()
        let answer = Self.ask(
            &instance, Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 2), now: 0)
        #expect(answer.acks.isEmpty)
        #expect(
            answer.events == [
                .voteRefused(to: Self.firstReplica, epoch: 2, reason: .staleEpoch(requestEpoch: 2, currentEpoch: 3))
            ])
    }

    @Test("A primary, or a replica of an unknown primary, gets no vote")
    func notAReplicaOfAKnownPrimary() {
        var instance = Self.instance()
        let stranger = node(0x40)
        let fromPrimary = Self.ask(
            &instance, Self.request(from: stranger, role: .primary, epoch: 4, slots: SlotSet()), now: 0)
        #expect(fromPrimary.acks.isEmpty)
        #expect(fromPrimary.events == [.voteRefused(to: stranger, epoch: 4, reason: .requesterNotReplica)])
        let orphan = Self.ask(&instance, Self.request(from: stranger, role: .replica(of: node(0x99)), epoch: 5), now: 0)
        #expect(orphan.acks.isEmpty)
        #expect(orphan.events == [.voteRefused(to: stranger, epoch: 5, reason: .primaryUnknown)])
    }

    @Test("A replica of a primary that is not failed gets a vote only when forced")
    func primaryNotFailed() {
        var instance = Self.instance()
        let unforced = Self.request(
            from: Self.liveReplica, role: .replica(of: Self.livePrimary), epoch: 4, configEpoch: 3,
            slots: SlotSet([10001...16383]))
        let refused = Self.ask(&instance, unforced, now: 0)
        #expect(refused.acks.isEmpty)
        #expect(
            refused.events == [
                .voteRefused(to: Self.liveReplica, epoch: 4, reason: .primaryNotFailed(Self.livePrimary))
            ])
        var forced = unforced
        forced.kind = .failoverAuthRequest(force: true)
        let granted = Self.ask(&instance, forced, now: 1)
        #expect(granted.acks.count == 1)
        #expect(granted.events == [.voteGranted(to: Self.liveReplica, epoch: 4)])
    }

    @Test("No second vote for a replica of the same primary within 2 x node timeout")
    func votedRecently() {
        var instance = Self.instance()
        _ = Self.ask(
            &instance, Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 4),
            now: 1_000)
        let soon = Self.ask(
            &instance, Self.request(from: Self.secondReplica, role: .replica(of: Self.failedPrimary), epoch: 5),
            now: 4_999)
        #expect(soon.acks.isEmpty)
        #expect(
            soon.events == [
                .voteRefused(
                    to: Self.secondReplica, epoch: 5, reason: .votedRecently(primary: Self.failedPrimary, at: 1_000))
            ])
        let later = Self.ask(
            &instance, Self.request(from: Self.secondReplica, role: .replica(of: Self.failedPrimary), epoch: 6),
            now: 5_000)
        #expect(later.acks.count == 1)
        #expect(later.events == [.voteGranted(to: Self.secondReplica, epoch: 6)])
    }

    @Test("A request whose config epoch is older than a claimed slot's owner is refused")
    func staleSlotClaim() {
        var instance = Self.instance()
        let answer = Self.ask(
            &instance,
            Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 4, configEpoch: 1),
            now: 0)
        #expect(answer.acks.isEmpty)
        #expect(
            answer.events == [
                .voteRefused(
                    to: Self.firstReplica, epoch: 4,
                    reason: .staleSlotClaim(
                        slot: 5001, owner: Self.failedPrimary, ownerConfigEpoch: 2, requestConfigEpoch: 1))
            ])
        #expect(instance.topology.lastVoteEpoch == 0)
    }

    @Test("Only primaries that serve slots vote")
    func onlySlotServingPrimariesVote() {
        var replica = Self.instance(myself: Self.liveReplica)
        let answer = Self.ask(
            &replica, Self.request(from: Self.firstReplica, role: .replica(of: Self.failedPrimary), epoch: 4), now: 0)
        #expect(answer.acks.isEmpty && answer.events.isEmpty)
        #expect(replica.topology.lastVoteEpoch == 0)
    }

    @Test("An election: requests to every slot-serving primary, acks from a majority win with the election's epoch")
    func election() {
        var replica = Self.instance(myself: Self.firstReplica)
        replica.setReplicationOffset(10)
        var out = replica.tick(now: 1)
        // The sibling 0x22 has sent no offset (0 < 10): rank 0.
        guard case .electionScheduled(Self.failedPrimary, let at, 0)? = replica.takeEvents().first else {
            Issue.record("no election scheduled")
            return
        }
        #expect(at >= 1 + 500 && at <= 1 + 1_000)
        #expect(out.contains { $0.to == Self.secondReplica && $0.message.kind == .ping })
        out = replica.tick(now: at)
        let requests = out.filter { $0.message.kind == .failoverAuthRequest(force: false) }
        #expect(Set(requests.map(\.to)) == [Self.voter, Self.failedPrimary, Self.livePrimary])
        #expect(requests.allSatisfy { $0.message.sender.currentEpoch == 4 && $0.message.sender.configEpoch == 2 })
        #expect(requests.allSatisfy { $0.message.sender.slots == Self.failedSlots })
        #expect(replica.takeEvents() == [.electionStarted(epoch: 4, rank: 0, forced: false)])
        var voter = Self.instance()
        let ack = voter.receive(requests.first { $0.to == Self.voter }!.message, from: "10.0.0.33", now: at + 5)
            .first { $0.message.kind == .failoverAuthAck }!
        #expect(replica.receive(ack.message, from: "10.0.0.16", now: at + 10).isEmpty)
        #expect(replica.topology.myselfNode.flags.contains(.replica))
        // A repeated ack from the same primary does not count twice.
        #expect(replica.receive(ack.message, from: "10.0.0.16", now: at + 11).isEmpty)
        var live = Self.instance(myself: Self.livePrimary)
        let second = live.receive(requests.first { $0.to == Self.livePrimary }!.message, from: "10.0.0.33", now: at + 5)
            .first { $0.message.kind == .failoverAuthAck }!
        let broadcast = replica.receive(second.message, from: "10.0.0.48", now: at + 12)
        #expect(replica.topology.myselfNode.isPrimary)
        #expect(replica.topology.myselfNode.configEpoch == 4)
        #expect(replica.topology.slots.slots(of: Self.firstReplica) == Self.failedSlots)
        #expect(Set(broadcast.map(\.to)) == [Self.voter, Self.livePrimary, Self.secondReplica, Self.liveReplica])
        #expect(replica.takeEvents() == [.electionWon(epoch: 4, votes: 2), .becamePrimary(configEpoch: 4)])
    }

    /// Found by the fault suite (a primary paused, or cut off, while its replica was elected): the resumed primary
    /// hears of the winner's claim from a third node first, loses its slots and becomes the winner's replica while
    /// its record of the winner still says "my replica". That stale record is not the winner yielding to it: it
    /// must stay a replica, not take the slots back.
    @Test("A demoted primary does not mistake its stale record of the winner for a yield")
    func staleRecordIsNotAYield() {
        var instance = Self.instance(myself: Self.failedPrimary)
        let news = BusMessage(
            kind: .ping,
            sender: .init(
                id: Self.livePrimary, incarnation: 0, role: .primary, ip: "10.0.0.48", port: 7000, busPort: 17000,
                currentEpoch: 4, configEpoch: 3, slots: SlotSet([10001...16383])),
            sequence: 1, gossip: [.slots(owner: Self.firstReplica, configEpoch: 4, slots: Self.failedSlots)])
        _ = instance.receive(news, from: "10.0.0.48", now: 10)
        #expect(instance.topology.myselfNode.role == .replica(of: Self.firstReplica))
        #expect(instance.topology[Self.firstReplica]?.primaryID == Self.failedPrimary)  // the stale record
        // A frame the winner sent during its election, delivered late: still "replica of you", current epoch 4.
        let late = BusMessage(
            kind: .ping,
            sender: .init(
                id: Self.firstReplica, incarnation: 0, role: .replica(of: Self.failedPrimary), ip: "10.0.0.33",
                port: 7000, busPort: 17000, currentEpoch: 4, configEpoch: 2, slots: Self.failedSlots),
            sequence: 2)
        _ = instance.receive(late, from: "10.0.0.33", now: 15)
        for now in stride(from: Int64(20), through: 5_000, by: 100) { _ = instance.tick(now: now) }
        #expect(instance.topology.myselfNode.role == .replica(of: Self.firstReplica))
        #expect(instance.topology.slots.slotCount(of: Self.failedPrimary) == 0)
        let events = instance.takeEvents()
        #expect(!events.contains { if case .becamePrimary = $0 { true } else { false } })
    }
}
