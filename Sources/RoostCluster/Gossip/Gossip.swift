/// Cluster membership and failure detection: SWIM with Redis Cluster's failure agreement.
///
/// ## The protocol
///
/// ``Gossip/Instance`` is one node's state machine. It follows SWIM (Das, Gupta and Motivala, "SWIM: Scalable
/// Weakly-consistent Infection-style Process Group Membership Protocol", DSN 2002):
///
/// - **Probing.** Every protocol period the node pings one member, taken in a shuffled round-robin order so each
///   member is probed by each node once per round. If no ack arrives within the direct timeout, it asks `k` other
///   members to ping the target on its behalf (`pingRequest`); an ack relayed by any of them counts. A probe
///   unanswered by the end of the period makes the target suspect *from this node's point of view*: Redis's
///   `fail?` (PFAIL) flag.
/// - **Incarnations.** Each node has an incarnation number that only it increases. Suspicion and failure are about
///   one incarnation; a node that hears it is suspected or failed refutes by gossiping itself `alive` with a
///   greater incarnation, which overrides them everywhere.
/// - **Dissemination.** News (a member alive at an incarnation, a suspicion, a failure, a slot claim) is
///   piggybacked on probe traffic, a bounded number of items per message, fewest-sent first, each item sent
///   `retransmitMultiplier × ⌈log₂(n + 1)⌉` times: infection-style spreading in O(log n) periods at constant cost
///   per message.
///
/// ## Deviations from SWIM, for Redis Cluster
///
/// - **Suspicion is a failure report, failure needs a majority of primaries.** A suspect item names the reporter.
///   Like Redis Cluster, a node marks a member `fail` only when it suspects the member itself and holds recent
///   reports (within ``Settings/failureReportValidity``) from a majority of the primaries that serve slots; it then
///   gossips `failed`, which every node adopts. SWIM's suspicion timeout is not used: a member suspected by a
///   minority stays `fail?` only.
/// - **Verification.** A node that hears a report about a member it does not suspect probes that member at once
///   (direct and indirect), so independent reports accumulate in a few periods instead of one round of the
///   round-robin (which takes n periods).
/// - **Targeted refutation.** A message to a member this node suspects, or believes failed, carries that news
///   first, so a member that comes back learns it at the first contact and refutes.
/// - **Direct evidence.** Any message from a member clears this node's `fail?` of it. `fail` is cleared only by
///   an incarnation greater than the failed one.
/// - **Membership is open.** A message from an unknown node adds it (Redis's `MEET`; the `meet` kind says the
///   sender is new). Members are never removed by the protocol, only by ``Instance/forget(_:now:)``.
/// - **Configuration rides along.** Every message carries the sender's epochs and slots, and slot claims are
///   gossiped, so slot maps converge by the same infection (``ClusterTopology`` applies the config-epoch rule).
///
/// ## Failover
///
/// Replica election and promotion follow Redis Cluster 7 (the specification's "Replica election and promotion"):
/// a replica whose primary is `fail` waits 500 ms + random(0…500 ms) + rank × 1 s (rank: siblings with a greater
/// replication offset), increments the current epoch and asks every slot-serving primary for a vote; each primary
/// votes once per epoch (`lastVoteEpoch`, saved in `nodes.conf`) under Redis's conditions
/// (``VoteRefusal`` lists them), and a majority makes the replica a primary serving the old slots with the
/// election's epoch as config epoch. An election without a majority times out after
/// ``Settings/failoverAuthTimeout`` and is retried after ``Settings/failoverRetryInterval``.
/// `CLUSTER FAILOVER [FORCE|TAKEOVER]` (``Instance/startManualFailover(_:now:)``), `CLUSTER REPLICATE`
/// (``Instance/replicate(_:now:)``) and the handoff of a primary restarted without its data
/// (``Instance/yieldToReplicaAfterEmptyRestart(now:)``) use the same machinery; ``Instance/takeEvents()`` reports
/// what happened. Redis's data-age check (`cluster-replica-validity-factor`) is not done.
///
/// Everything is driven from outside: ``Instance/tick(now:)`` at or after ``Instance/nextDeadline`` and
/// ``Instance/receive(_:from:now:)`` for each message, both returning the messages to send. Time is milliseconds
/// on a clock the caller chooses (Unix time lets `CLUSTER NODES` show the ping and pong times as Redis does);
/// randomness comes from a generator seeded by the caller. No I/O, no clocks, no tasks.
public enum Gossip {
    /// Timing and sizing of the protocol.
    public struct Settings: Hashable, Sendable {
        /// Redis's `cluster-node-timeout`, in milliseconds: the scale of everything else.
        public var nodeTimeout: Int64
        /// How often a new round-robin probe starts, and how long a probe may take before its target is suspect.
        public var protocolPeriod: Int64
        /// How long to wait for a direct ack before asking others to probe.
        public var directProbeTimeout: Int64
        /// How many members are asked to probe indirectly (SWIM's k).
        public var indirectProbeCount: Int
        /// The most gossip items piggybacked on one message.
        public var maximumGossipItems: Int
        /// The most bytes of gossip items on one message (at least one item is always sent).
        public var maximumGossipBytes: Int
        /// Each item is sent this many times `⌈log₂(members + 1)⌉` (SWIM's λ).
        public var retransmitMultiplier: Int
        /// How long a failure report counts toward a majority (Redis: 2 × node timeout).
        public var failureReportValidity: Int64
        /// How often a node re-announces its own suspicion of a member that is not yet failed.
        public var suspicionRefreshInterval: Int64
        /// The most probes in flight at once (one round-robin probe plus verifications).
        public var maximumConcurrentProbes: Int
        /// How many primaries each failure report is also sent to directly, to be counted there.
        public var reportCollectorCount: Int

        /// Settings derived from the node timeout: a period of a tenth of it (between 100 ms and 1 s), a direct
        /// timeout of a quarter period, k = 3, up to 12 items or 1 KiB of gossip per message, λ = 4.
        public init(nodeTimeout: Int64 = 15_000) {
            self.nodeTimeout = nodeTimeout
            self.protocolPeriod = min(max(nodeTimeout / 10, 100), 1_000)
            self.directProbeTimeout = max(protocolPeriod / 4, 1)
            self.indirectProbeCount = 3
            self.maximumGossipItems = 12
            self.maximumGossipBytes = 1_024
            self.retransmitMultiplier = 4
            self.failureReportValidity = 2 * nodeTimeout
            self.suspicionRefreshInterval = nodeTimeout
            self.maximumConcurrentProbes = 8
            self.reportCollectorCount = 3
        }
    }

    /// A message to send.
    public struct Outgoing: Hashable, Sendable {
        /// The receiver.
        public var to: NodeID
        /// The receiver's address as this node knows it.
        public var ip: String
        /// The receiver's bus port.
        public var busPort: Int
        /// The message.
        public var message: BusMessage
    }
}
