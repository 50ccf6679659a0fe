/// How `CLUSTER FAILOVER` hands a primary's slots to the replica it is sent to.
public enum ManualFailoverMode: Hashable, Sendable, CustomStringConvertible {
    /// `CLUSTER FAILOVER`: the safe handoff. The primary pauses writes and sends its final replication offset;
    /// once the replica has applied that much it runs an election the voters grant although the primary is up.
    case `default`
    /// `CLUSTER FAILOVER FORCE`: an election now, granted although the primary is not failed, without waiting
    /// for the primary (which may be unreachable). Writes acknowledged by the primary but not replicated are lost.
    case force
    /// `CLUSTER FAILOVER TAKEOVER`: no election at all; the replica takes the slots at once with a new config
    /// epoch of its own (for when no majority of primaries can be reached).
    case takeover

    /// `default`, `force` or `takeover`.
    public var description: String {
        switch self {
        case .default: "default"
        case .force: "force"
        case .takeover: "takeover"
        }
    }
}

extension Gossip {
    /// How long a manual failover may take before it is aborted (Redis's `CLUSTER_MF_TIMEOUT`), in milliseconds.
    /// A primary pauses writes for twice this.
    public static let manualFailoverTimeout: Int64 = 5_000

    /// Something the failover machinery did, for the shell to log (see ``Instance/takeEvents()``).
    public enum Event: Hashable, Sendable, CustomStringConvertible {
        /// This replica's primary is `fail` (or a manual failover can start): an election is due at `at`.
        case electionScheduled(primary: NodeID, at: Int64, rank: Int)
        /// This replica asked the primaries for votes in `epoch`.
        case electionStarted(epoch: UInt64, rank: Int, forced: Bool)
        /// This primary voted for `replica` in `epoch`.
        case voteGranted(to: NodeID, epoch: UInt64)
        /// This primary refused its vote to `replica`, which asked in `epoch`.
        case voteRefused(to: NodeID, epoch: UInt64, reason: VoteRefusal)
        /// This replica won the election of `epoch` with `votes` votes and took its primary's slots.
        case electionWon(epoch: UInt64, votes: Int)
        /// The election of `epoch` ended without a majority; another is tried later with a new epoch.
        case electionTimedOut(epoch: UInt64, votes: Int, needed: Int)
        /// A scheduled or running election was dropped: the primary is no longer `fail`, or this node's role changed.
        case electionCancelled(primary: NodeID)
        /// `CLUSTER FAILOVER` was accepted by this replica.
        case manualFailoverStarted(mode: ManualFailoverMode)
        /// This replica heard its paused primary's final replication offset.
        case manualFailoverOffsetReceived(offset: UInt64)
        /// The manual failover did not complete within ``Gossip/manualFailoverTimeout``.
        case manualFailoverAborted
        /// This primary paused writes until `until` so that `replica` can take over (``Instance/manualFailoverPauseUntil``).
        case writesPaused(for: NodeID, until: Int64)
        /// This primary's manual-failover pause ended (its deadline passed, or it lost its slots).
        case writesResumed
        /// This node is now a replica of `primary`.
        case becameReplica(of: NodeID)
        /// This node is now a primary, serving its slots with `configEpoch`.
        case becamePrimary(configEpoch: UInt64)

        /// A line for the log.
        public var description: String {
            switch self {
            case .electionScheduled(let primary, let at, let rank):
                "Failover election for primary \(primary) scheduled at \(at) (rank \(rank))"
            case .electionStarted(let epoch, let rank, let forced):
                "Starting a failover election for epoch \(epoch) (rank \(rank)\(forced ? ", forced" : ""))"
            case .voteGranted(let replica, let epoch): "Failover auth granted to \(replica) for epoch \(epoch)"
            case .voteRefused(let replica, let epoch, let reason):
                "Failover auth denied to \(replica) for epoch \(epoch): \(reason)"
            case .electionWon(let epoch, let votes):
                "Failover election won with \(votes) votes in epoch \(epoch): I'm the new primary"
            case .electionTimedOut(let epoch, let votes, let needed):
                "Failover election of epoch \(epoch) timed out with \(votes) of \(needed) votes needed"
            case .electionCancelled(let primary): "Failover election for primary \(primary) cancelled"
            case .manualFailoverStarted(let mode): "Manual failover user request accepted (\(mode))"
            case .manualFailoverOffsetReceived(let offset):
                "Received replication offset \(offset) for paused primary manual failover"
            case .manualFailoverAborted: "Manual failover timed out"
            case .writesPaused(let replica, let until):
                "Manual failover requested by replica \(replica): writes paused until \(until)"
            case .writesResumed: "Manual failover pause ended, writes resumed"
            case .becameReplica(let primary): "I'm now a replica of \(primary)"
            case .becamePrimary(let epoch): "I'm now a primary, config epoch \(epoch)"
            }
        }
    }

    /// Why a primary refused its vote (Redis logs the same reasons in `clusterSendFailoverAuthIfNeeded`).
    public enum VoteRefusal: Hashable, Sendable, CustomStringConvertible {
        /// The request's epoch is below this node's current epoch.
        case staleEpoch(requestEpoch: UInt64, currentEpoch: UInt64)
        /// This node already voted in its current epoch.
        case alreadyVoted(epoch: UInt64)
        /// The requester says it is a primary.
        case requesterNotReplica
        /// The requester's primary is not known here.
        case primaryUnknown
        /// The requester's primary is not `fail` and the request is not forced.
        case primaryNotFailed(NodeID)
        /// This node voted for a replica of the same primary less than 2 × node timeout ago.
        case votedRecently(primary: NodeID, at: Int64)
        /// A claimed slot is served by a node with a greater config epoch than the request's: the requester's
        /// view of its primary is stale.
        case staleSlotClaim(slot: Int, owner: NodeID, ownerConfigEpoch: UInt64, requestConfigEpoch: UInt64)

        /// The reason, for the log.
        public var description: String {
            switch self {
            case .staleEpoch(let request, let current): "its epoch \(request) is below my current epoch \(current)"
            case .alreadyVoted(let epoch): "already voted in epoch \(epoch)"
            case .requesterNotReplica: "it is a primary"
            case .primaryUnknown: "its primary is unknown to me"
            case .primaryNotFailed(let primary): "its primary \(primary) is not failed and the request is not forced"
            case .votedRecently(let primary, let at): "voted for a replica of \(primary) at \(at), too recently"
            case .staleSlotClaim(let slot, let owner, let ownerEpoch, let requestEpoch):
                "slot \(slot) is served by \(owner) with config epoch \(ownerEpoch) > \(requestEpoch)"
            }
        }
    }

    /// Why `CLUSTER REPLICATE` or `CLUSTER FAILOVER` was refused.
    public struct FailoverCommandError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The kind of refusal.
        public enum Code: Hashable, Sendable {
            /// `CLUSTER REPLICATE` of a node this one does not know.
            case unknownNode
            /// `CLUSTER REPLICATE` of this node itself.
            case replicateMyself
            /// `CLUSTER REPLICATE` of a replica.
            case replicateReplica
            /// `CLUSTER REPLICATE` on a primary that serves slots.
            case primaryNotEmpty
            /// `CLUSTER FAILOVER` on a primary.
            case notReplica
            /// `CLUSTER FAILOVER` on a replica whose primary is unknown.
            case primaryUnknown
            /// `CLUSTER FAILOVER` without `FORCE` or `TAKEOVER` while the primary is failed or unreachable.
            case primaryDown
        }

        /// The kind of refusal.
        public var code: Code
        /// The whole error line as Redis 7.0 words it, `ERR ` prefix included (the shell replies with it as is).
        public var message: String

        /// An error.
        public init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        /// `message`.
        public var description: String { message }

        static func unknownNode(_ id: NodeID) -> Self { Self(.unknownNode, "ERR Unknown node \(id)") }
        static let replicateMyself = Self(.replicateMyself, "ERR Can't replicate myself")
        static let replicateReplica = Self(.replicateReplica, "ERR I can only replicate a master, not a replica.")
        static let primaryNotEmpty = Self(
            .primaryNotEmpty, "ERR To set a master the node must be empty and without assigned slots.")
        static let notReplica = Self(.notReplica, "ERR You should send CLUSTER FAILOVER to a replica")
        static let primaryUnknown = Self(.primaryUnknown, "ERR I'm a replica but my master is unknown to me")
        static let primaryDown = Self(.primaryDown, "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    }
}

extension Gossip.Settings {
    /// How long an election collects votes: max(2 × node timeout, 2 s), as Redis.
    public var failoverAuthTimeout: Int64 { max(2 * nodeTimeout, 2_000) }
    /// How long after an election started a failed one is retried: twice ``failoverAuthTimeout``.
    public var failoverRetryInterval: Int64 { 2 * failoverAuthTimeout }
}

extension Gossip.Instance {
    /// The failover state of one node: its election (as a replica), its manual failover, its write pause (as a
    /// primary) and its votes.
    struct Failover: Sendable {
        var election: Election?
        var manual: ManualFailover?
        var pause: WritePause?
        var awaitingTakeover: AwaitingTakeover?
        /// This replica's primary said, in a message of its own, that it now replicates this node (an empty
        /// restart). Its new role may not have reached the topology: a restarted node's incarnation can be below
        /// the one the others know.
        var yieldedPrimary: NodeID?
        /// For each primary, when this node last voted for one of its replicas (Redis's `voted_time`).
        var votedAt: [NodeID: Int64] = [:]
        /// What happened, until the shell takes it.
        var events: [Gossip.Event] = []
    }

    /// A replica's election to replace `primary`.
    struct Election: Sendable {
        /// The primary being replaced.
        var primary: NodeID
        /// When the requests are (or were) sent: Redis's `failover_auth_time`.
        var startsAt: Int64
        /// How many sibling replicas have a greater offset.
        var rank: Int
        /// A manual failover's election: sent with the force flag, not tied to the primary being `fail`.
        var forced: Bool
        var phase: Phase

        enum Phase: Sendable {
            /// Waiting for `startsAt`.
            case scheduled
            /// Requests sent in `epoch`; the primaries that voted so far.
            case collecting(epoch: UInt64, votes: Set<NodeID>)
            /// No majority; waiting until the retry interval passes.
            case timedOut(epoch: UInt64)
        }
    }

    /// A `CLUSTER FAILOVER` in progress on this replica.
    struct ManualFailover: Sendable {
        var mode: ManualFailoverMode
        var primary: NodeID
        var deadline: Int64
        /// The paused primary's final offset, once heard (default mode).
        var pausedOffset: UInt64?
    }

    /// This primary's writes paused for a replica's manual failover.
    struct WritePause: Sendable {
        var replica: NodeID
        var until: Int64
        /// The final offset the shell confirmed, once it has paused writes.
        var offset: UInt64?
    }

    /// This node yielded to `replica` after an empty restart and waits for it to take the slots.
    struct AwaitingTakeover: Sendable {
        var replica: NodeID
        var deadline: Int64
    }
}
