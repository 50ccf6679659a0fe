extension ServerConfiguration {
    private static let int32Max = Int(Int32.max)
    private static let mebibyte = 1024 * 1024

    /// Every directive Roost understands, once each: the single source for config files, flags, `CONFIG GET` and
    /// `CONFIG SET`. Ranges and error texts are redis-server 7.0's unless noted.
    ///
    /// Immutable (refused by `CONFIG SET` with "can't set immutable config"): `port` and `bind` (Redis can rebind at
    /// run time; Roost fixes its listeners at start), `tcp-backlog`, `logfile`, `pidfile`, `databases`,
    /// `daemonize`, `unixsocket` (as in Redis), Roost's `event-loops`, and the cluster directives except
    /// `cluster-require-full-coverage`.
    public static let directives: [ConfigurationDirective] = [
        .integer("port", \.port, range: 0...65535, mutable: false),
        bindDirective,
        .boolean("protected-mode", \.protectedMode),
        requirePassDirective,
        .integer("maxclients", \.maxClients, range: 1...Int(UInt32.max)),
        .integer("timeout", \.timeout, range: 0...int32Max),
        .integer("tcp-keepalive", \.tcpKeepalive, range: 0...int32Max),
        .integer("tcp-backlog", \.tcpBacklog, range: 0...int32Max, mutable: false),
        logLevelDirective,
        .text("logfile", \.logFile, mutable: false),
        .memory("proto-max-bulk-len", \.protoMaxBulkLength, range: mebibyte...Int.max),
        .memory("client-query-buffer-limit", \.clientQueryBufferLimit, range: mebibyte...Int.max),
        outputBufferLimitDirective,
        .memory("maxmemory", \.maxMemory, range: 0...Int.max),
        .choice("maxmemory-policy", \.maxMemoryPolicy, among: maxMemoryPolicies),
        .integer("maxmemory-samples", \.maxMemorySamples, range: 1...int32Max),
        .integer("hz", \.hz, range: 0...int32Max, clampedTo: 1...500),
        .integer("databases", \.databases, range: 1...int32Max, mutable: false),
        .integer("event-loops", \.eventLoops, range: 0...1024, mutable: false),
        .integer("memcached-port", \.memcachedPort, range: 0...65535, mutable: false),
        .memory("memcached-max-item-size", \.memcachedMaxItemSize, range: 1024...(1024 * mebibyte)),
        saveDirective,
        .fixedBoolean(
            "appendonly", \.appendOnly, accepted: false,
            unsupported: "Roost has no persistence; 'appendonly yes' is not supported", mutable: true
        ),
        .fixedBoolean(
            "daemonize", \.daemonize, accepted: false,
            unsupported: "Roost runs in the foreground; 'daemonize yes' is not supported (use a service manager)",
            mutable: false
        ),
        .text("pidfile", \.pidFile, mutable: false),
        unixSocketDirective,
        .integer("tracking-table-max-keys", \.trackingTableMaxKeys, range: 0...Int.max),
        .integer("lfu-log-factor", \.lfuLogFactor, range: 0...int32Max),
        .integer("lfu-decay-time", \.lfuDecayTime, range: 0...int32Max),
        .integer("active-expire-effort", \.activeExpireEffort, range: 1...10),
        .boolean("latency-tracking", \.latencyTracking),
        .integer("slowlog-log-slower-than", \.slowlogLogSlowerThan, range: -1...Int.max),
        .integer("slowlog-max-len", \.slowlogMaxLen, range: 0...Int.max),
        .boolean("lazyfree-lazy-eviction", \.lazyfreeLazyEviction),
        .boolean("lazyfree-lazy-expire", \.lazyfreeLazyExpire),
        .boolean("lazyfree-lazy-server-del", \.lazyfreeLazyServerDel),
        .boolean("lazyfree-lazy-user-del", \.lazyfreeLazyUserDel),
        .boolean("lazyfree-lazy-user-flush", \.lazyfreeLazyUserFlush),
        .boolean("cluster-enabled", \.clusterEnabled, mutable: false),
        .text("cluster-config-file", \.clusterConfigFile, mutable: false),
        .integer("cluster-node-timeout", \.clusterNodeTimeout, range: 1...int32Max, mutable: false),
        .integer("cluster-port", \.clusterPort, range: 0...65535, mutable: false),
        .boolean("cluster-require-full-coverage", \.clusterRequireFullCoverage),
        .text("cluster-announce-ip", \.clusterAnnounceIP, mutable: false),
        .memory("repl-backlog-size", \.replBacklogSize, range: 16 * 1024...Int.max),
        .integer("repl-timeout", \.replTimeout, range: 1...int32Max),
        .integer("repl-ping-replica-period", \.replPingReplicaPeriod, range: 1...int32Max),
        .choice("enable-debug-command", \.enableDebugCommand, among: ["no", "yes", "local"], mutable: false),
    ]

    /// The directive called `name` (any case, canonical name or alias), if Roost knows it.
    /// - Parameter name: A directive name.
    /// - Returns: The directive, or `nil`.
    public static func directive(named name: String) -> ConfigurationDirective? {
        directives.first { $0.isNamed(name) }
    }

    private static let bindDirective = ConfigurationDirective(
        name: "bind",
        aliases: [],
        arity: .words,
        isMutable: false,
        accumulatesWhileLoading: false,
        apply: { words, configuration throws(ConfigurationDirective.ValueError) in
            guard !words.isEmpty else {
                throw .init(reason: "at least one address is required (Roost does not listen on unix sockets)")
            }
            guard words.count <= 16 else { throw .init(reason: "Too many bind addresses specified.") }
            guard !words.contains(where: { $0.isEmpty || $0 == "-" }) else {
                throw .init(reason: "Failed to bind to specified addresses.")
            }
            configuration.bind = words
        },
        render: { $0.bind.joined(separator: " ") }
    )

    private static let requirePassDirective = ConfigurationDirective(
        name: "requirepass",
        aliases: [],
        arity: .one,
        isMutable: true,
        accumulatesWhileLoading: false,
        apply: { arguments, configuration in
            configuration.requirePass = arguments[0].isEmpty ? nil : arguments[0]
        },
        render: { $0.requirePass ?? "" }
    )

    private static let logLevelDirective = ConfigurationDirective(
        name: "loglevel",
        aliases: [],
        arity: .one,
        isMutable: true,
        accumulatesWhileLoading: false,
        apply: { arguments, configuration throws(ConfigurationDirective.ValueError) in
            let names = LogLevel.allCases.map(\.rawValue)
            let name = try ValueParser.choice(arguments[0], among: names)
            configuration.logLevel = LogLevel(rawValue: name) ?? .notice
        },
        render: { $0.logLevel.rawValue }
    )

    /// `save` adds up over the lines of one load and a lone `""` clears it, as in Redis.
    private static let saveDirective = ConfigurationDirective(
        name: "save",
        aliases: [],
        arity: .words,
        isMutable: true,
        accumulatesWhileLoading: true,
        apply: { words, configuration throws(ConfigurationDirective.ValueError) in
            configuration.save = try ValueParser.savePoints(words).joined(separator: " ")
        },
        render: { $0.save }
    )

    /// Accepted only empty (`unixsocket ""`), so that configurations that clear it still load.
    private static let unixSocketDirective = ConfigurationDirective(
        name: "unixsocket",
        aliases: [],
        arity: .one,
        isMutable: false,
        accumulatesWhileLoading: false,
        apply: { arguments, _ throws(ConfigurationDirective.ValueError) in
            guard arguments[0].isEmpty else {
                throw .init(reason: "Roost does not support unix sockets; listen with 'port' and 'bind' instead")
            }
        },
        render: { _ in "" }
    )
}
