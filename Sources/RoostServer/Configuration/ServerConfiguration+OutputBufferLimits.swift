extension ServerConfiguration {
    /// One client class's output buffer limits, as Redis's `client-output-buffer-limit <class> <hard> <soft>
    /// <seconds>`: a client is closed at once past `hard` unsent bytes, or after staying past `soft` for `seconds`.
    /// Zero disables a limit.
    public struct OutputBufferLimit: Sendable, Hashable {
        /// Unsent bytes that close the client at once (0: none).
        public var hard: Int
        /// Unsent bytes that close the client after `seconds` (0: none).
        public var soft: Int
        /// How long the soft limit may be exceeded.
        public var seconds: Int

        /// Creates a limit.
        public init(hard: Int, soft: Int, seconds: Int) {
            self.hard = hard
            self.soft = soft
            self.seconds = seconds
        }
    }

    /// The limits per client class.
    ///
    /// Roost's default for normal clients is a 256 MiB hard limit, where Redis's is unlimited: a client that
    /// pipelines without reading must not be able to exhaust the server's memory. Replica and pub/sub defaults are
    /// Redis's. Only the normal class's hard limit is enforced so far (replicas and pub/sub arrive later).
    public struct OutputBufferLimits: Sendable, Hashable {
        /// Normal clients.
        public var normal = OutputBufferLimit(hard: 256 << 20, soft: 0, seconds: 0)
        /// Replicas (`replica`, or Redis's older `slave`).
        public var replica = OutputBufferLimit(hard: 256 << 20, soft: 64 << 20, seconds: 60)
        /// Pub/sub subscribers.
        public var pubsub = OutputBufferLimit(hard: 32 << 20, soft: 8 << 20, seconds: 60)

        /// Creates the defaults.
        public init() {}
    }

    /// `client-output-buffer-limit`: groups of four words (`class hard soft seconds`), over one or several lines;
    /// classes not named keep their values. Rendered as Redis renders it (`slave` for replicas, bytes).
    static let outputBufferLimitDirective = ConfigurationDirective(
        name: "client-output-buffer-limit",
        aliases: [],
        arity: .words,
        isMutable: true,
        accumulatesWhileLoading: true,
        apply: { words, configuration throws(ConfigurationDirective.ValueError) in
            guard words.count % 4 == 0, !words.isEmpty else {
                throw .init(reason: "Wrong number of arguments in buffer limit configuration.")
            }
            var limits = configuration.outputBufferLimits
            for start in stride(from: 0, to: words.count, by: 4) {
                let limit: OutputBufferLimit
                do {
                    limit = OutputBufferLimit(
                        hard: try ValueParser.memory(words[start + 1], in: 0...Int.max),
                        soft: try ValueParser.memory(words[start + 2], in: 0...Int.max),
                        seconds: try ValueParser.integer(words[start + 3], in: 0...Int.max)
                    )
                } catch {
                    throw .init(reason: "Error in hard, soft or soft_seconds setting in buffer limit configuration.")
                }
                switch words[start].lowercased() {
                case "normal": limits.normal = limit
                case "replica", "slave": limits.replica = limit
                case "pubsub": limits.pubsub = limit
                default: throw .init(reason: "Invalid client class specified in buffer limit configuration.")
                }
            }
            configuration.outputBufferLimits = limits
        },
        render: { configuration in
            let limits = configuration.outputBufferLimits
            return [("normal", limits.normal), ("slave", limits.replica), ("pubsub", limits.pubsub)]
                .map { "\($0.0) \($0.1.hard) \($0.1.soft) \($0.1.seconds)" }
                .joined(separator: " ")
        }
    )
}
