/// What a node allows the inbound side of its bus: how many connections, how long a connection may go without
/// delivering a complete frame, and how often refusals are logged.
///
/// The bus port is open to anything that can reach it, so these bound what a broken or stray client can cost:
///
/// - **Connections.** At most ``maximumConnections(knownNodes:)``: `connectionsPerNode` × the nodes this node
///   knows (itself included) + `connectionHeadroom`. Each peer keeps one link to each address, so a healthy
///   cluster needs one inbound connection per other node; the factor 2 lets a peer's reconnection overlap the old
///   link before this node sees it close, and the headroom covers nodes not yet known (a `CLUSTER MEET`, a
///   restarted node with a new address). A connection over the limit is closed before anything is read.
/// - **Time to a complete frame.** A peer writes a frame as soon as its link connects, and a frame is at most
///   ``BusFrame/Limits/maximumFrameLength`` bytes, which takes milliseconds on any network a cluster runs on. So a
///   new connection must deliver its first complete frame, and a frame once started must be completed, within
///   `frameTimeout`. Only then may buffered bytes sit on a connection, so each holds at most one partial frame for
///   at most that long.
/// - **Idle links.** A link with nothing buffered that delivers no frame for `idleTimeout` is closed. A peer
///   writes to it whenever it probes this node or answers this node's probes, so this is several node timeouts;
///   closing a quiet peer's link costs it one reconnection.
///
/// These protect memory and file descriptors, not the cluster's state: like Redis's, the bus is unauthenticated
/// and belongs on a trusted network.
public struct BusInboundLimits: Hashable, Sendable {
    /// Inbound connections allowed per known node.
    public var connectionsPerNode: Int
    /// Inbound connections allowed beyond `connectionsPerNode` × the known nodes.
    public var connectionHeadroom: Int
    /// Milliseconds a new connection has to deliver its first frame, and a started frame has to complete.
    public var frameTimeout: Int64
    /// Milliseconds a link with nothing buffered may go without delivering a frame.
    public var idleTimeout: Int64

    /// Limits for a node timeout of `nodeTimeout` milliseconds: 2 connections per node + 32; a frame timeout of
    /// the node timeout between 1 and 5 seconds; an idle timeout of 4 node timeouts, at least a minute.
    public init(nodeTimeout: Int64) {
        self.connectionsPerNode = 2
        self.connectionHeadroom = 32
        self.frameTimeout = min(max(nodeTimeout, 1_000), 5_000)
        self.idleTimeout = max(4 * nodeTimeout, 60_000)
    }

    /// The most inbound connections allowed while this node knows `knownNodes` nodes (itself included).
    public func maximumConnections(knownNodes: Int) -> Int {
        connectionsPerNode * max(knownNodes, 1) + connectionHeadroom
    }

    /// Whether a new inbound connection is accepted while `open` are open.
    public func admits(open: Int, knownNodes: Int) -> Bool {
        open < maximumConnections(knownNodes: knownNodes)
    }
}

extension BusInboundLimits {
    /// The timing of one inbound connection: fed what each read left behind, it says when the connection must be
    /// closed if nothing more happens. Times are milliseconds on a monotonic clock.
    public struct Link: Hashable, Sendable {
        /// The limits this link is held to.
        public let limits: BusInboundLimits
        /// When the connection opened.
        public let opened: Int64
        /// When the last complete frame arrived, if any has.
        public private(set) var lastFrame: Int64?
        /// When the first byte of the frame now buffered arrived, if part of a frame is buffered.
        public private(set) var partialSince: Int64?

        /// A connection opened at `now`.
        public init(limits: BusInboundLimits, opened now: Int64) {
            self.limits = limits
            self.opened = now
        }

        /// A read at `now` completed `frames` frames and left `buffered` bytes of the next one.
        public mutating func onRead(now: Int64, frames: Int, buffered: Int) {
            if frames > 0 {
                lastFrame = now
                partialSince = buffered > 0 ? now : nil
            } else if buffered > 0 {
                partialSince = partialSince ?? now
            } else {
                partialSince = nil
            }
        }

        /// When the connection is to be closed unless another frame completes first: `frameTimeout` after it
        /// opened until a first frame completes (however the bytes trickle in), then `frameTimeout` after a
        /// frame's first byte, or `idleTimeout` after the last frame while nothing is buffered.
        public var deadline: Int64 {
            guard let lastFrame else { return opened + limits.frameTimeout }
            if let partialSince { return partialSince + limits.frameTimeout }
            return lastFrame + limits.idleTimeout
        }

        /// Whether the connection has outlived its deadline at `now`.
        public func isExpired(now: Int64) -> Bool { now >= deadline }
    }

    /// A budget for log lines about refused or closed connections, so a flood of them cannot fill the disk: at
    /// most `burst` lines per `interval` milliseconds; the rest are counted and reported with the next line let
    /// through.
    public struct LogBudget: Hashable, Sendable {
        /// Lines allowed per interval.
        public let burst: Int
        /// The interval's length in milliseconds.
        public let interval: Int64
        private var windowStart: Int64?
        private var used = 0
        private var suppressed = 0

        /// A budget of `burst` lines per `interval` milliseconds.
        public init(burst: Int = 10, interval: Int64 = 60_000) {
            self.burst = burst
            self.interval = interval
        }

        /// Asks to log one line at `now`: `nil` if it must be dropped, else how many were dropped before it.
        public mutating func take(now: Int64) -> Int? {
            if windowStart.map({ now - $0 >= interval }) ?? true {
                windowStart = now
                used = 0
            }
            guard used < burst else {
                suppressed += 1
                return nil
            }
            used += 1
            defer { suppressed = 0 }
            return suppressed
        }
    }
}
