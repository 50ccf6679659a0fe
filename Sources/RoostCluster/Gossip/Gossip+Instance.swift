extension Gossip {
    /// One node's membership and failure-detection state machine; see ``Gossip`` for the protocol.
    ///
    /// Feed it ``tick(now:)`` and ``receive(_:from:now:)``; send what they return. ``topology`` is the node's view
    /// (`CLUSTER NODES`), with `fail?` and `fail` flags kept current; save `nodes.conf` when
    /// ``configurationVersion`` changes.
    public struct Instance: Sendable {
        /// The settings this instance runs with.
        public let settings: Settings
        /// This node's view of the cluster.
        public internal(set) var topology: ClusterTopology
        /// This node's incarnation number.
        public internal(set) var incarnation: UInt64
        /// Increases whenever something `nodes.conf` holds changes (members, roles, flags, slots, epochs, the last
        /// vote). A granted failover vote is one: save `nodes.conf` before sending what the call returned.
        public internal(set) var configurationVersion: UInt64 = 0
        /// This node's replication offset, as last set by ``setReplicationOffset(_:)``.
        public internal(set) var replicationOffset: UInt64 = 0
        /// While this primary has paused writes for a replica's manual failover: when the pause ends at the latest
        /// (2 × ``Gossip/manualFailoverTimeout`` after the request). The shell pauses client writes while this is
        /// set, then calls ``confirmWritesPaused(offset:now:)``; it becomes `nil` at the deadline or as soon as this
        /// node loses its slots.
        public internal(set) var manualFailoverPauseUntil: Int64?

        var random: SplitMix64
        var members: [NodeID: Member] = [:]
        var memberIDs: [NodeID] = []
        var probeOrder: [NodeID] = []
        var probeIndex = 0
        var probes: [UInt64: Probe] = [:]
        var relays: [UInt64: Relay] = [:]
        var verifications: [NodeID] = []
        var nextProbeAt: Int64
        var sequence: UInt64 = 0
        var dissemination = Dissemination()
        var cachedOwnSlots: SlotSet?
        var cachedPrimaries: [NodeID]?
        var forgotten: [NodeID: Int64] = [:]
        var nextRefreshAt: Int64 = .min
        var failover = Failover()
        /// The latest time the instance was driven with.
        var lastSeen: Int64

        /// What this node tracks about another member beyond its ``ClusterNode`` record.
        struct Member: Sendable {
            var incarnation: UInt64 = 0
            /// The replication offset the member last sent.
            var replicationOffset: UInt64 = 0
            /// The incarnation at which the cluster agreed the member failed.
            var failedIncarnation: UInt64?
            /// Failure reports for the current incarnation: reporter and when it was heard.
            var reports: [NodeID: Int64] = [:]
            /// When this node last announced its own suspicion.
            var suspicionAnnouncedAt: Int64 = Self.never
            /// When this node last started a verification probe.
            var verifiedAt: Int64 = Self.never
            /// A time long before any clock the instance is driven by, without overflow in subtractions.
            static let never: Int64 = .min / 4
        }

        /// A probe this node started.
        struct Probe: Sendable {
            var target: NodeID
            var startedAt: Int64
            var indirectSent = false
        }

        /// A ping this node sent on behalf of another node's `pingRequest`.
        struct Relay: Sendable {
            var requester: NodeID
            var requesterSequence: UInt64
            var target: NodeID
            var expiresAt: Int64
        }

        /// An instance for the node `topology.myself`, knowing the members of `topology`.
        ///
        /// `seed` drives every random choice (probe order, indirect probers). `now` is the start time; the first
        /// probe is due one period later.
        public init(topology: ClusterTopology, settings: Settings, seed: UInt64, incarnation: UInt64 = 0, now: Int64) {
            self.settings = settings
            self.topology = topology
            self.incarnation = incarnation
            self.random = SplitMix64(seed: seed)
            self.nextProbeAt = now + settings.protocolPeriod
            self.lastSeen = now
            for id in topology.nodes.keys.sorted() where id != topology.myself {
                members[id] = Member()
                memberIDs.append(id)
                if topology.nodes[id]!.isFailed { members[id]!.failedIncarnation = 0 }
            }
        }

        /// The node's ID.
        public var myself: NodeID { topology.myself }

        /// When ``tick(now:)`` next has work to do.
        public var nextDeadline: Int64 {
            var deadline = nextProbeAt
            for probe in probes.values {
                let due =
                    probe.indirectSent
                    ? probe.startedAt + settings.protocolPeriod : probe.startedAt + settings.directProbeTimeout
                deadline = min(deadline, due)
            }
            if let due = failoverDeadline { deadline = min(deadline, due) }
            return deadline
        }

        /// The incarnation this node knows for `id`.
        public func incarnation(of id: NodeID) -> UInt64? {
            id == myself ? incarnation : members[id]?.incarnation
        }

        /// The failure reporters this node holds for `id` (Redis's `CLUSTER COUNT-FAILURE-REPORTS` counts them).
        public func failureReports(about id: NodeID, now: Int64) -> [NodeID] {
            guard let member = members[id] else { return [] }
            return member.reports.filter { now - $0.value <= settings.failureReportValidity }.keys.sorted()
        }

        /// How many items wait to be piggybacked.
        public var pendingGossipCount: Int { dissemination.count }

        // MARK: Commands

        /// Adds a member this node learned of out of band (`CLUSTER MEET` once the peer's ID is known, or a
        /// static seed list) and returns a `meet` to send it.
        public mutating func meet(_ info: MemberInfo, now: Int64) -> [Outgoing] {
            learn(info, now: now)
            return [outgoing(.meet, to: info.id, sequence: nextSequence(), now: now)]
        }

        /// Removes a member (`CLUSTER FORGET`): its slots become unassigned and messages from it are ignored for
        /// a minute, as Redis does, so gossip does not bring it straight back.
        public mutating func forget(_ id: NodeID, now: Int64) {
            guard id != myself, members.removeValue(forKey: id) != nil else { return }
            memberIDs.removeAll { $0 == id }
            topology.forget(id)
            forgotten[id] = now + 60_000
            dissemination.remove(.alive(id))
            dissemination.remove(.failed(id))
            dissemination.remove(.slots(id))
            dissemination.removeSuspicions(of: id)
            configurationChanged(slots: true)
        }

        /// Makes this node a primary serving `slots` in addition to its own, with a fresh config epoch greater
        /// than any it knows (what a replica does after winning a failover election, or `ADDSLOTS` + `BUMPEPOCH`),
        /// and gossips the claim.
        public mutating func claimSlots(_ slots: SlotSet, now: Int64) {
            lastSeen = max(lastSeen, now)
            becomePrimary(claiming: slots, configEpoch: topology.maximumEpoch + 1)
        }

        // MARK: Time

        /// Advances the protocol to `now`: resolves probes whose timeouts passed (asking for indirect probes,
        /// then suspecting the target), starts the period's probe, and moves failover along (elections, manual
        /// failover and pause deadlines). Returns the messages to send.
        public mutating func tick(now: Int64) -> [Outgoing] {
            lastSeen = max(lastSeen, now)
            var out: [Outgoing] = []
            relays = relays.filter { $0.value.expiresAt > now }
            for (sequence, probe) in probes.sorted(by: { $0.key < $1.key }) {
                if now >= probe.startedAt + settings.protocolPeriod {
                    probes.removeValue(forKey: sequence)
                    out += suspect(probe.target, now: now)
                } else if !probe.indirectSent && now >= probe.startedAt + settings.directProbeTimeout {
                    probes[sequence]!.indirectSent = true
                    if members[probe.target]?.failedIncarnation != nil { continue }
                    for helper in indirectHelpers(excluding: probe.target) {
                        out.append(
                            outgoing(.pingRequest(target: probe.target), to: helper, sequence: sequence, now: now))
                    }
                }
            }
            out += refreshSuspicions(now: now)
            if now >= nextProbeAt {
                nextProbeAt = max(nextProbeAt + settings.protocolPeriod, now + 1)
                if let target = nextRoundRobinTarget() { out += startProbe(of: target, now: now) }
            }
            out += startVerifications(now: now)
            out += stepFailover(now: now)
            return out
        }

        /// Starts probes of members others suspect, within the concurrency limit.
        mutating func startVerifications(now: Int64) -> [Outgoing] {
            var out: [Outgoing] = []
            while !verifications.isEmpty && probes.count < settings.maximumConcurrentProbes {
                let target = verifications.removeFirst()
                guard let member = members[target], member.failedIncarnation == nil,
                    !isSuspectedByMe(target), !probes.values.contains(where: { $0.target == target })
                else { continue }
                members[target]!.verifiedAt = now
                out += startProbe(of: target, now: now)
            }
            return out
        }

        mutating func startProbe(of target: NodeID, now: Int64) -> [Outgoing] {
            let sequence = nextSequence()
            probes[sequence] = Probe(target: target, startedAt: now)
            if topology[target]?.pingSent == 0 { topology.update(target) { $0.pingSent = now } }
            return [outgoing(.ping, to: target, sequence: sequence, now: now)]
        }

        /// The next member in the shuffled round-robin order, reshuffled after each full round.
        mutating func nextRoundRobinTarget() -> NodeID? {
            guard !memberIDs.isEmpty else { return nil }
            for _ in 0...memberIDs.count {
                if probeIndex >= probeOrder.count {
                    probeOrder = memberIDs
                    probeOrder.shuffle(using: &random)
                    probeIndex = 0
                }
                let candidate = probeOrder[probeIndex]
                probeIndex += 1
                if members[candidate] != nil && !probes.values.contains(where: { $0.target == candidate }) {
                    return candidate
                }
            }
            return nil
        }

        /// Up to k random members, other than `target`, this node does not suspect.
        mutating func indirectHelpers(excluding target: NodeID) -> [NodeID] {
            var helpers: [NodeID] = []
            let wanted = min(settings.indirectProbeCount, memberIDs.count - 1)
            var attempts = 0
            while helpers.count < wanted && attempts < 4 * settings.indirectProbeCount + 8 {
                attempts += 1
                let candidate = memberIDs[Int.random(in: 0..<memberIDs.count, using: &random)]
                if candidate == target || helpers.contains(candidate) || isSuspectedByMe(candidate)
                    || members[candidate]?.failedIncarnation != nil
                {
                    continue
                }
                helpers.append(candidate)
            }
            return helpers
        }

        func isSuspectedByMe(_ id: NodeID) -> Bool {
            topology[id]?.flags.contains(.possiblyFailed) ?? false
        }

        /// This node's own probe of `id` failed: flag it `fail?`, report it, and see whether a majority agrees.
        mutating func suspect(_ id: NodeID, now: Int64) -> [Outgoing] {
            guard let member = members[id], member.failedIncarnation == nil else { return [] }
            topology.update(id) { $0.flags.insert(.possiblyFailed) }
            configurationChanged(slots: false)
            return announceSuspicion(of: id, now: now)
        }

        /// Re-announces this node's standing suspicions so that reports stay fresh until a majority forms.
        mutating func refreshSuspicions(now: Int64) -> [Outgoing] {
            guard now >= nextRefreshAt else { return [] }
            nextRefreshAt = now + settings.protocolPeriod
            var out: [Outgoing] = []
            for id in memberIDs {
                guard let member = members[id], member.failedIncarnation == nil, isSuspectedByMe(id),
                    now - member.suspicionAnnouncedAt >= settings.suspicionRefreshInterval
                else { continue }
                out += announceSuspicion(of: id, now: now)
            }
            return out
        }

        /// Records this node's own report about `id`, gossips it (so others verify) and sends it straight to the
        /// report collectors for `id`, then checks for a majority.
        mutating func announceSuspicion(of id: NodeID, now: Int64) -> [Outgoing] {
            let subjectIncarnation = members[id]!.incarnation
            members[id]!.reports[myself] = now
            members[id]!.suspicionAnnouncedAt = now
            let report = GossipItem.suspect(subject: id, incarnation: subjectIncarnation, reporter: myself)
            dissemination.enqueue(report)
            var out: [Outgoing] = []
            for collector in reportCollectors(for: id) {
                out.append(outgoing(.ping, to: collector, sequence: nextSequence(), now: now, leading: [report]))
            }
            checkFailureAgreement(id, now: now)
            return out
        }

        /// The primaries that collect failure reports about `id`: the next few slot-serving primaries after `id`
        /// in ID order (a ring), skipping this node and members it suspects. Every node computes nearly the same
        /// set, so reports meet there without every report having to reach every node.
        mutating func reportCollectors(for id: NodeID) -> [NodeID] {
            let primaries = sortedPrimaries
            guard !primaries.isEmpty else { return [] }
            var low = 0
            var high = primaries.count
            while low < high {
                let middle = (low + high) / 2
                if primaries[middle] <= id { low = middle + 1 } else { high = middle }
            }
            var collectors: [NodeID] = []
            for step in 0..<primaries.count {
                guard collectors.count < settings.reportCollectorCount else { break }
                let candidate = primaries[(low + step) % primaries.count]
                if candidate == id || candidate == myself || isSuspectedByMe(candidate)
                    || members[candidate]?.failedIncarnation != nil
                {
                    continue
                }
                collectors.append(candidate)
            }
            return collectors
        }

        /// Marks `id` failed if this node suspects it and recent reports from a majority of slot-serving
        /// primaries agree (Redis's `markNodeAsFailingIfNeeded`).
        mutating func checkFailureAgreement(_ id: NodeID, now: Int64) {
            guard var member = members[id], member.failedIncarnation == nil, isSuspectedByMe(id) else { return }
            member.reports = member.reports.filter { now - $0.value <= settings.failureReportValidity }
            members[id] = member
            var agreeing = 0
            for reporter in member.reports.keys where topology[reporter]?.isPrimary ?? false { agreeing += 1 }
            guard agreeing >= primaryQuorum else { return }
            markFailed(id, incarnation: member.incarnation)
        }

        mutating func markFailed(_ id: NodeID, incarnation: UInt64) {
            members[id]!.failedIncarnation = incarnation
            members[id]!.reports = [:]
            topology.update(id) {
                $0.flags.remove(.possiblyFailed)
                $0.flags.insert(.failed)
            }
            dissemination.removeSuspicions(of: id)
            dissemination.enqueue(.failed(subject: id, incarnation: incarnation))
            configurationChanged(slots: false)
        }

        var primaryQuorum: Int {
            mutating get { sortedPrimaries.count / 2 + 1 }
        }

        /// The slot-serving primaries in ID order, cached until the configuration changes.
        var sortedPrimaries: [NodeID] {
            mutating get {
                if let cachedPrimaries { return cachedPrimaries }
                let primaries = topology.slotOwningPrimaries
                cachedPrimaries = primaries
                return primaries
            }
        }

        mutating func configurationChanged(slots: Bool) {
            configurationVersion += 1
            cachedPrimaries = nil
            if slots { cachedOwnSlots = nil }
        }

        mutating func nextSequence() -> UInt64 {
            sequence += 1
            return sequence
        }
    }
}
