import Testing

@testable import RoostServer

@Suite("Configuration directives")
struct ConfigurationDirectiveTests {
    private static let int32Range = "argument must be between 0 and 2147483647 inclusive"
    private static let yesNo = "argument must be 'yes' or 'no'"
    private static let notInteger = "argument couldn't be parsed into an integer"
    private static let notMemory = "argument must be a memory value"

    /// One refused value per directive and the reason given. Reasons shared with Redis were checked with
    /// `CONFIG SET` on redis-server 7.0.15. `nil` marks free-text directives, which accept any value.
    static let badValues: [String: (value: String, reason: String)?] = [
        "port": ("99999", "argument must be between 0 and 65535 inclusive"),
        "bind": ("\"\"", "at least one address is required (Roost does not listen on unix sockets)"),
        "protected-mode": ("maybe", yesNo),
        "requirepass": nil,
        "maxclients": ("0", "argument must be between 1 and 4294967295 inclusive"),
        "timeout": ("-1", int32Range),
        "tcp-keepalive": ("-1", int32Range),
        "tcp-backlog": ("x", notInteger),
        "loglevel": ("loud", "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"),
        "logfile": nil,
        "proto-max-bulk-len": ("1", "argument must be between 1048576 and 9223372036854775807 inclusive"),
        "client-query-buffer-limit": ("1x", notMemory),
        "maxmemory": ("1x", notMemory),
        "maxmemory-policy": (
            "foo",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
                + "allkeys-lru, allkeys-lfu, allkeys-random, noeviction, allkeys-s3fifo, allkeys-sieve, allkeys-tinylfu"
        ),
        "maxmemory-samples": ("0", "argument must be between 1 and 2147483647 inclusive"),
        "hz": ("-1", int32Range),
        "databases": ("0", "argument must be between 1 and 2147483647 inclusive"),
        "event-loops": ("1025", "argument must be between 0 and 1024 inclusive"),
        "memcached-port": ("65536", "argument must be between 0 and 65535 inclusive"),
        "memcached-max-item-size": ("1000", "argument must be between 1024 and 1073741824 inclusive"),
        "save": ("\"1 2 3\"", "Invalid save parameters"),
        "appendonly": ("yes", "Roost has no persistence; 'appendonly yes' is not supported"),
        "daemonize": (
            "yes", "Roost runs in the foreground; 'daemonize yes' is not supported (use a service manager)"
        ),
        "pidfile": nil,
        "unixsocket": ("/tmp/r.sock", "Roost does not support unix sockets; listen with 'port' and 'bind' instead"),
        "tracking-table-max-keys": ("-1", "argument must be between 0 and 9223372036854775807 inclusive"),
        "lfu-log-factor": ("-1", int32Range),
        "lfu-decay-time": ("007", notInteger),
        "active-expire-effort": ("11", "argument must be between 1 and 10 inclusive"),
        "latency-tracking": ("maybe", yesNo),
        "slowlog-log-slower-than": ("-2", "argument must be between -1 and 9223372036854775807 inclusive"),
        "slowlog-max-len": ("+5", notInteger),
        "lazyfree-lazy-eviction": ("x", yesNo),
        "lazyfree-lazy-expire": ("1", yesNo),
        "lazyfree-lazy-server-del": ("true", yesNo),
        "lazyfree-lazy-user-del": ("on", yesNo),
        "lazyfree-lazy-user-flush": ("", yesNo),
        "cluster-enabled": ("maybe", yesNo),
        "cluster-config-file": nil,
        "cluster-node-timeout": ("0", "argument must be between 1 and 2147483647 inclusive"),
        "cluster-port": ("70000", "argument must be between 0 and 65535 inclusive"),
        "cluster-require-full-coverage": ("2", yesNo),
        "cluster-announce-ip": nil,
        "repl-backlog-size": ("1kb", "argument must be between 16384 and 9223372036854775807 inclusive"),
        "repl-timeout": ("0", "argument must be between 1 and 2147483647 inclusive"),
        "repl-ping-replica-period": ("0", "argument must be between 1 and 2147483647 inclusive"),
        "enable-debug-command": ("maybe", "argument(s) must be one of the following: no, yes, local"),
        "client-output-buffer-limit": ("normal 1mb 0", "Wrong number of arguments in buffer limit configuration."),
    ]

    @Test func everyDirectiveHasABadValueCase() {
        let names = Set(ServerConfiguration.directives.map(\.name))
        #expect(names == Set(Self.badValues.keys))
        #expect(names.count == ServerConfiguration.directives.count, "directive names must be unique")
    }

    @Test(arguments: ServerConfiguration.directives.map(\.name))
    func badValueIsRefusedWithItsReason(_ name: String) throws {
        guard let entry = Self.badValues[name], let (value, reason) = entry else { return }
        let expected = "roost.conf:1: invalid value '\(value.replacingQuotes)' for '\(name)': \(reason)"
        #expect(throws: ConfigurationError(.invalidValue, expected)) {
            try ServerConfiguration.parse(fileContents: "\(name) \(value.isEmpty ? "\"\"" : value)")
        }
    }

    /// The defaults that Roost shares with redis-server 7.0.15, as its `CONFIG GET` prints them.
    static let redisDefaults: [(String, String)] = [
        ("protected-mode", "yes"), ("requirepass", ""), ("maxclients", "10000"), ("timeout", "0"),
        ("tcp-keepalive", "300"), ("tcp-backlog", "511"), ("loglevel", "notice"), ("logfile", ""),
        ("proto-max-bulk-len", "536870912"), ("client-query-buffer-limit", "1073741824"),
        ("maxmemory-samples", "5"), ("hz", "10"), ("appendonly", "no"),
        ("unixsocket", ""), ("lfu-log-factor", "10"), ("lfu-decay-time", "1"), ("active-expire-effort", "1"),
        ("latency-tracking", "yes"), ("slowlog-log-slower-than", "10000"), ("slowlog-max-len", "128"),
        ("lazyfree-lazy-eviction", "no"), ("lazyfree-lazy-expire", "no"), ("lazyfree-lazy-server-del", "no"),
        ("lazyfree-lazy-user-del", "no"), ("lazyfree-lazy-user-flush", "no"), ("cluster-enabled", "no"),
        ("cluster-config-file", "nodes.conf"), ("cluster-node-timeout", "15000"), ("cluster-port", "0"),
        ("cluster-require-full-coverage", "yes"), ("cluster-announce-ip", ""), ("repl-backlog-size", "1048576"),
        ("repl-timeout", "60"), ("repl-ping-replica-period", "10"), ("enable-debug-command", "no"),
        ("tracking-table-max-keys", "1000000"),
    ]

    /// Deliberate differences: a cache left at its defaults evicts (SIEVE) within half the available memory.
    @Test func memoryDefaultsAreACachesNotRedis() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.maxMemoryPolicy == "allkeys-sieve")
        #expect(configuration.maxMemory > 0)
        #expect(configuration.maxMemory == AvailableMemory.bytes() / 2)
        let explicit = try ServerConfiguration.parse(fileContents: "maxmemory 0\nmaxmemory-policy noeviction")
        #expect(explicit.maxMemory == 0)
        #expect(explicit.maxMemoryPolicy == "noeviction")
    }

    @Test(arguments: redisDefaults)
    func defaultsRenderLikeRedis(_ name: String, _ value: String) throws {
        let directive = try #require(ServerConfiguration.directive(named: name))
        #expect(directive.value(in: ServerConfiguration()) == value)
    }

    @Test func roostDefaults() {
        let defaults = ServerConfiguration()
        let rendered = Dictionary(uniqueKeysWithValues: defaults.configGet(patterns: ["*"]))
        #expect(rendered["port"] == "6379")
        #expect(rendered["bind"] == "127.0.0.1 -::1")
        #expect(rendered["databases"] == "1")
        #expect(rendered["event-loops"] == "0")
        #expect(rendered["memcached-port"] == "0")
        #expect(rendered["memcached-max-item-size"] == "1048576")
        #expect(rendered["save"] == "")
        #expect(rendered["daemonize"] == "no")
        #expect(rendered["pidfile"] == "")
        #expect(defaults.resolvedEventLoops >= 1)
    }

    @Test func everyDirectiveRoundTripsThroughItsRendering() throws {
        var configuration = ServerConfiguration()
        try configuration.configSet([("maxmemory", "3gb"), ("save", "60 1000"), ("requirepass", "s3cret")])
        configuration.bind = ["0.0.0.0", "::"]
        configuration.port = 7777
        let file = configuration.configGet(patterns: ["*"])
            .map { name, value in "\(name) \"\(value)\"" }
            .joined(separator: "\n")
        #expect(try ServerConfiguration.parse(fileContents: file) == configuration)
    }

    @Test func coreCounting() {
        #expect(AvailableCores.cpuListCount("0-3,8,10-11") == 7)
        #expect(AvailableCores.cpuListCount("\t0\n") == 1)
        #expect(AvailableCores.cpuListCount("3-1") == nil)
        #expect(AvailableCores.cpuListCount("") == nil)
        #expect(AvailableCores.quotaCores(quota: 150_000, period: 100_000) == 2)
        #expect(AvailableCores.quotaCores(quota: 100_000, period: 100_000) == 1)
        #expect(AvailableCores.quotaCores(quota: -1, period: 100_000) == nil)
        #expect(AvailableCores.count() >= 1)
    }
}

extension String {
    /// The value as the splitter returns it from a quoted config argument.
    fileprivate var replacingQuotes: String {
        hasPrefix("\"") && hasSuffix("\"") && count >= 2 ? String(dropFirst().dropLast()) : self
    }
}
