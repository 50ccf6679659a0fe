public import NIOCore

extension RoostClient {
    /// Where the server is and how to talk to it.
    public struct Configuration: Sendable {
        /// A server address.
        public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
            /// A host name or IP address.
            public var host: String
            /// The TCP port.
            public var port: Int

            /// Creates an endpoint.
            public init(host: String, port: Int = 6379) {
                self.host = host
                self.port = port
            }

            /// `host:port`.
            public var description: String { "\(host):\(port)" }
        }

        /// Standalone server or cluster.
        public enum Mode: Sendable, Hashable {
            /// One server (or a primary behind a fixed address): every command goes there.
            case standalone(Endpoint)
            /// A Redis Cluster (Roost or Redis): the slot map is loaded from the first seed that answers and
            /// commands go to the node serving their key's slot.
            case cluster(seeds: [Endpoint])
        }

        /// Connection pool limits, per node.
        public struct Pool: Sendable, Hashable {
            /// Connections kept open per node, opened by the health check (the first is also opened on demand).
            public var minimumConnections: Int
            /// The most connections per node.
            public var maximumConnections: Int
            /// Commands outstanding on the least loaded connection before another connection is opened.
            public var pipelineThreshold: Int
            /// How often idle connections are pinged (and the minimum restored) while ``RoostClient/run()`` runs.
            public var healthCheckInterval: Duration
            /// Delays between failed connection attempts to a node.
            public var reconnectBackoff: RoostBackoff

            /// Creates pool limits. `maximumConnections` is raised to `minimumConnections` if smaller.
            public init(
                minimumConnections: Int = 1,
                maximumConnections: Int = 4,
                pipelineThreshold: Int = 128,
                healthCheckInterval: Duration = .seconds(10),
                reconnectBackoff: RoostBackoff = RoostBackoff(initial: .milliseconds(50), maximum: .seconds(2))
            ) {
                self.minimumConnections = max(0, minimumConnections)
                self.maximumConnections = max(1, max(minimumConnections, maximumConnections))
                self.pipelineThreshold = max(1, pipelineThreshold)
                self.healthCheckInterval = healthCheckInterval
                self.reconnectBackoff = reconnectBackoff
            }
        }

        /// Retries on transient failures: cluster `TRYAGAIN`, `CLUSTERDOWN`, redirections, a node unreachable
        /// during a failover, and a command that could not be sent because its connection had just closed.
        ///
        /// A command whose connection closed while it was in flight is retried only if it is read-only (it may
        /// have run already). Redirections (`MOVED`, `ASK`) are followed without waiting. Retries stop after
        /// ``maximumAttempts`` or one ``RoostClient/Configuration/commandTimeout`` after the first failure,
        /// whichever comes first.
        public struct Retry: Sendable, Hashable {
            /// Attempts in all, the first included (at least 1).
            public var maximumAttempts: Int
            /// Waits between attempts that failed for a transient reason.
            public var backoff: RoostBackoff

            /// Creates a retry policy.
            public init(
                maximumAttempts: Int = 10,
                backoff: RoostBackoff = RoostBackoff(initial: .milliseconds(25), maximum: .seconds(1))
            ) {
                self.maximumAttempts = max(1, maximumAttempts)
                self.backoff = backoff
            }
        }

        /// Standalone or cluster, with the address(es).
        public var mode: Mode
        /// Credentials: `AUTH [username] password` (in `HELLO` with RESP3). `nil` for none.
        public var password: String?
        /// The ACL user name; `nil` for the default user.
        public var username: String?
        /// A name set with `CLIENT SETNAME` on every connection.
        public var clientName: String?
        /// How long a command waits for its reply before failing with ``RoostClientError/Code/timeout``.
        public var commandTimeout: Duration
        /// How long opening a TCP connection may take.
        public var connectTimeout: Duration
        /// Whether to ask for RESP3 (`HELLO 3`); when the server refuses, RESP2 is used. Default `true`.
        public var preferRESP3: Bool
        /// In cluster mode, send read-only commands (`GET`, `MGET`, `EXISTS`, `TTL`, …) to replicas when the slot
        /// has an online replica (connections to replicas send `READONLY`). Reads may then lag writes.
        public var readFromReplicas: Bool
        /// Pool limits per node.
        public var pool: Pool
        /// Retry policy.
        public var retry: Retry
        /// How long ``RoostClient/run()`` waits, on shutdown, for in-flight commands before closing connections.
        public var shutdownTimeout: Duration
        /// The event loops connections run on.
        public var eventLoopGroup: any EventLoopGroup
        /// Encodes and decodes values for ``RoostClient/get(_:as:)`` and ``RoostClient/set(_:encoding:ttl:condition:)``.
        public var coder: any RoostCoder
        /// An in-process cache for `get`/`mget`, kept coherent by server-assisted invalidation; `nil` (the
        /// default) for none. See ``NearCache``.
        public var nearCache: NearCache?

        /// Creates a configuration.
        public init(
            mode: Mode,
            password: String? = nil,
            username: String? = nil,
            clientName: String? = nil,
            commandTimeout: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(2),
            preferRESP3: Bool = true,
            readFromReplicas: Bool = false,
            pool: Pool = Pool(),
            retry: Retry = Retry(),
            shutdownTimeout: Duration = .seconds(5),
            eventLoopGroup: (any EventLoopGroup)? = nil,
            coder: any RoostCoder = RoostJSONCoder(),
            nearCache: NearCache? = nil
        ) {
            self.mode = mode
            self.password = password
            self.username = username
            self.clientName = clientName
            self.commandTimeout = commandTimeout
            self.connectTimeout = connectTimeout
            self.preferRESP3 = preferRESP3
            self.readFromReplicas = readFromReplicas
            self.pool = pool
            self.retry = retry
            self.shutdownTimeout = shutdownTimeout
            self.eventLoopGroup = eventLoopGroup ?? RoostClient.defaultEventLoopGroup
            self.coder = coder
            self.nearCache = nearCache
        }

        /// A standalone server at `host:port`.
        public static func standalone(host: String, port: Int = 6379) -> Self {
            Self(mode: .standalone(Endpoint(host: host, port: port)))
        }

        /// A cluster reached through `seeds` (any subset of its nodes).
        public static func cluster(seeds: [Endpoint]) -> Self {
            Self(mode: .cluster(seeds: seeds))
        }
    }
}
