/// What one node knows about a cluster member (itself included): one line of `CLUSTER NODES` without the slots,
/// which live in the ``SlotMap``.
public struct ClusterNode: Hashable, Sendable {
    /// The node's name.
    public var id: NodeID
    /// The address clients use (empty while unknown, shown with the `noaddr` flag).
    public var ip: String
    /// The client port.
    public var port: Int
    /// The cluster bus port (by default the client port + 10000).
    public var busPort: Int
    /// The announced hostname, empty if none.
    public var hostname: String
    /// Role and health flags.
    public var flags: Flags
    /// The primary this node replicates, for a replica.
    public var primaryID: NodeID?
    /// When the last unanswered ping to this node was sent, in Unix milliseconds; 0 if none is outstanding.
    public var pingSent: Int64
    /// When the last reply from this node arrived, in Unix milliseconds.
    public var pongReceived: Int64
    /// The config epoch this node claims its slots with (a replica shows its primary's).
    public var configEpoch: UInt64
    /// Whether the bus link to this node is up.
    public var linkState: LinkState

    /// A node record; flags default to a primary with nothing else known.
    public init(
        id: NodeID, ip: String, port: Int, busPort: Int? = nil, hostname: String = "", flags: Flags = [.primary],
        primaryID: NodeID? = nil, pingSent: Int64 = 0, pongReceived: Int64 = 0, configEpoch: UInt64 = 0,
        linkState: LinkState = .connected
    ) {
        self.id = id
        self.ip = ip
        self.port = port
        self.busPort = busPort ?? port + 10000
        self.hostname = hostname
        self.flags = flags
        self.primaryID = primaryID
        self.pingSent = pingSent
        self.pongReceived = pongReceived
        self.configEpoch = configEpoch
        self.linkState = linkState
    }

    /// Whether the node is a primary.
    public var isPrimary: Bool { flags.contains(.primary) }
    /// Whether the cluster agrees that the node is down (`fail`).
    public var isFailed: Bool { flags.contains(.failed) }

    /// The state of the bus link, as the eighth field of `CLUSTER NODES`.
    public enum LinkState: String, Hashable, Sendable {
        case connected
        case disconnected
    }

    /// The node flags of `CLUSTER NODES`, in Redis's order.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// `myself`: the node answering.
        public static let myself = Flags(rawValue: 1 << 0)
        /// `master`: a primary.
        public static let primary = Flags(rawValue: 1 << 1)
        /// `slave`: a replica.
        public static let replica = Flags(rawValue: 1 << 2)
        /// `fail?`: this node cannot reach it (Redis's PFAIL; SWIM's "suspect" from this node's own probes).
        public static let possiblyFailed = Flags(rawValue: 1 << 3)
        /// `fail`: a majority of primaries agree that it is down.
        public static let failed = Flags(rawValue: 1 << 4)
        /// `handshake`: met but not yet confirmed.
        public static let handshake = Flags(rawValue: 1 << 5)
        /// `noaddr`: its address is unknown.
        public static let noAddress = Flags(rawValue: 1 << 6)
        /// `nofailover`: a replica that will not try to fail over.
        public static let noFailover = Flags(rawValue: 1 << 7)

        /// The flags with their names, in the order `CLUSTER NODES` lists them.
        public static let names: [(flag: Flags, name: String)] = [
            (.myself, "myself"), (.primary, "master"), (.replica, "slave"), (.possiblyFailed, "fail?"),
            (.failed, "fail"), (.handshake, "handshake"), (.noAddress, "noaddr"), (.noFailover, "nofailover"),
        ]

        /// The comma-separated form (`myself,master`), or `noflags` when empty.
        public var text: String {
            let parts = Self.names.filter { contains($0.flag) }.map(\.name)
            return parts.isEmpty ? "noflags" : parts.joined(separator: ",")
        }

        /// Parses the comma-separated form; unknown names (a newer Redis's) are ignored, `noflags` is empty.
        public init(text: some StringProtocol) {
            self = []
            for part in text.split(separator: ",") {
                if let known = Self.names.first(where: { $0.name == part }) { insert(known.flag) }
            }
        }
    }
}
