/// One message of Roost's cluster bus: a probe, a request to probe, an answer or a meet, sent by one node to
/// another, carrying the sender's own state and a bounded number of gossip items.
///
/// The wire form is described in ``BusFrame``.
public struct BusMessage: Hashable, Sendable {
    /// What the message asks or answers.
    public var kind: Kind
    /// Who sent it and what it claims about itself.
    public var sender: Sender
    /// The probe this message belongs to: a ping's number, echoed by its ack (and by a forwarded ack).
    public var sequence: UInt64
    /// Membership and configuration news piggybacked on the message.
    public var gossip: [GossipItem]

    /// A message.
    public init(kind: Kind, sender: Sender, sequence: UInt64, gossip: [GossipItem] = []) {
        self.kind = kind
        self.sender = sender
        self.sequence = sequence
        self.gossip = gossip
    }

    /// The message kinds.
    public enum Kind: Hashable, Sendable {
        /// A direct probe: answer with ``ack(subject:)`` naming yourself.
        case ping
        /// An indirect probe: probe `target` and, if it answers, send an ack naming it back to the sender with
        /// this message's sequence number.
        case pingRequest(target: NodeID)
        /// `subject` answered the probe with this sequence number (the sender itself for a direct probe).
        case ack(subject: NodeID)
        /// A ping from a node that wants to join: the receiver adds the sender to its members (`CLUSTER MEET`).
        case meet
        /// A replica asks for a vote in a failover election (Redis's `FAILOVER_AUTH_REQUEST`). The sender's
        /// `currentEpoch` is the election's epoch; its `configEpoch` and `slots` are its primary's. `force` asks the
        /// voter to grant it although the primary is not `fail` (a manual failover).
        case failoverAuthRequest(force: Bool)
        /// A primary grants its vote to the sender of a ``failoverAuthRequest(force:)`` (Redis's
        /// `FAILOVER_AUTH_ACK`); it counts for the election whose epoch is at most the sender's `currentEpoch`.
        case failoverAuthAck
        /// A replica asks its primary to pause writes and send its final replication offset (Redis's `MFSTART`,
        /// the start of `CLUSTER FAILOVER` without options).
        case manualFailoverStart
        /// A message published on `channel` at the sender (Redis's `PUBLISH` bus message): the receiver delivers it
        /// to its own subscribers. At most ``BusFrame/maximumPublishPayload`` bytes of channel and message.
        case publish(channel: [UInt8], message: [UInt8])
    }

    /// The sender's own state, sent in every message (Redis sends the same in every bus message header).
    public struct Sender: Hashable, Sendable {
        /// The sender's ID.
        public var id: NodeID
        /// The sender's incarnation: only the sender increases it, to refute suspicion of itself.
        public var incarnation: UInt64
        /// Primary or replica.
        public var role: MemberRole
        /// The IP address the sender announces; empty to let the receiver use the connection's source address.
        public var ip: String
        /// The sender's client port.
        public var port: Int
        /// The sender's bus port.
        public var busPort: Int
        /// The greatest epoch the sender knows.
        public var currentEpoch: UInt64
        /// The sender's config epoch (a replica sends its primary's).
        public var configEpoch: UInt64
        /// The slots the sender serves (a replica sends its primary's), so every message restates its claim.
        public var slots: SlotSet
        /// A primary's replication (master) offset; a replica's applied offset. Replicas of a failed primary rank
        /// themselves by it.
        public var replicationOffset: UInt64
        /// A primary whose writes are paused for a manual failover: its ``replicationOffset`` is final, and the
        /// replica taking over may start its election once it has applied that much.
        public var manualFailoverPaused: Bool

        /// The sender's state.
        public init(
            id: NodeID, incarnation: UInt64, role: MemberRole, ip: String, port: Int, busPort: Int,
            currentEpoch: UInt64, configEpoch: UInt64, slots: SlotSet, replicationOffset: UInt64 = 0,
            manualFailoverPaused: Bool = false
        ) {
            self.id = id
            self.incarnation = incarnation
            self.role = role
            self.ip = ip
            self.port = port
            self.busPort = busPort
            self.currentEpoch = currentEpoch
            self.configEpoch = configEpoch
            self.slots = slots
            self.replicationOffset = replicationOffset
            self.manualFailoverPaused = manualFailoverPaused
        }
    }
}

/// Whether a member is a primary or a replica (and of which primary), with its failover preference.
public struct MemberRole: Hashable, Sendable {
    /// The primary this node replicates, `nil` for a primary.
    public var primaryID: NodeID?
    /// Whether the node is a replica (a replica's primary may be unknown).
    public var isReplica: Bool
    /// A replica that will not start a failover (`nofailover`).
    public var noFailover: Bool

    /// A primary.
    public static let primary = MemberRole(primaryID: nil, isReplica: false, noFailover: false)

    /// A replica of `primary`.
    public static func replica(of primary: NodeID?, noFailover: Bool = false) -> MemberRole {
        MemberRole(primaryID: primary, isReplica: true, noFailover: noFailover)
    }
}

/// A member's address and role, as gossiped so that every node can reach every other.
public struct MemberInfo: Hashable, Sendable {
    /// The member's ID.
    public var id: NodeID
    /// The incarnation this information belongs to.
    public var incarnation: UInt64
    /// Primary or replica.
    public var role: MemberRole
    /// The member's IP address.
    public var ip: String
    /// The client port.
    public var port: Int
    /// The bus port.
    public var busPort: Int

    /// Member information.
    public init(id: NodeID, incarnation: UInt64, role: MemberRole, ip: String, port: Int, busPort: Int) {
        self.id = id
        self.incarnation = incarnation
        self.role = role
        self.ip = ip
        self.port = port
        self.busPort = busPort
    }
}

/// One piece of news disseminated by piggybacking on bus messages (SWIM's infection-style dissemination).
public enum GossipItem: Hashable, Sendable {
    /// The member is alive at this incarnation (also how new members and role changes spread).
    case alive(MemberInfo)
    /// `reporter` could not reach `subject` at `incarnation`, directly or through others: a failure report.
    case suspect(subject: NodeID, incarnation: UInt64, reporter: NodeID)
    /// A majority of primaries agreed that `subject` is down at `incarnation` (`fail`).
    case failed(subject: NodeID, incarnation: UInt64)
    /// `owner` claims `slots` with config epoch `configEpoch`.
    case slots(owner: NodeID, configEpoch: UInt64, slots: SlotSet)

    /// The node the item is about.
    public var subject: NodeID {
        switch self {
        case .alive(let info): info.id
        case .suspect(let subject, _, _), .failed(let subject, _): subject
        case .slots(let owner, _, _): owner
        }
    }
}
