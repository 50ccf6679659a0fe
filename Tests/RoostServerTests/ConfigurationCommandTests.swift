import Testing

@testable import RoostServer

@Suite("CONFIG GET and CONFIG SET")
struct ConfigurationCommandTests {
    private func names(_ patterns: String...) -> [String] {
        ServerConfiguration().configGet(patterns: patterns).map(\.name)
    }

    @Test func exactNamesAreCaseInsensitiveAndEchoed() {
        // redis-server 7.0.15: CONFIG GET PORT answers "PORT"; CONFIG GET port PORT Port answers once.
        #expect(names("PORT") == ["PORT"])
        #expect(names("port", "PORT", "Port") == ["port"])
        #expect(names("nonexistent").isEmpty)
    }

    @Test func globsMatchCaseInsensitivelyAndEachDirectiveOnce() {
        #expect(
            names("lazyfree-*") == [
                "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del",
                "lazyfree-lazy-user-flush",
            ])
        #expect(names("MAXMEMORY*") == ["maxmemory", "maxmemory-policy", "maxmemory-samples"])
        #expect(names("maxmemory*", "*memory", "maxmemory") == ["maxmemory", "maxmemory-policy", "maxmemory-samples"])
        #expect(names("p?rt", "[pq]ort") == ["port"])
        #expect(names("*").count == ServerConfiguration.directives.count)
        #expect(Set(names("*")).count == ServerConfiguration.directives.count)
    }

    @Test func valuesAreRenderedRedisStyle() throws {
        var configuration = ServerConfiguration()
        try configuration.configSet([("maxmemory", "1kb"), ("protected-mode", "NO"), ("loglevel", "WARNING")])
        let values = Dictionary(uniqueKeysWithValues: configuration.configGet(patterns: ["*"]))
        #expect(values["maxmemory"] == "1024")
        #expect(values["protected-mode"] == "no")
        #expect(values["loglevel"] == "warning")
        #expect(values["bind"] == "127.0.0.1 -::1")
    }

    @Test func setSeveralPairs() throws {
        var configuration = ServerConfiguration()
        try configuration.configSet([
            ("maxmemory", "100mb"), ("MAXMEMORY-POLICY", "allkeys-lfu"), ("save", "3600 1 300 100"),
            ("requirepass", "secret"), ("hz", "1000"),
        ])
        #expect(configuration.maxMemory == 100 * 1024 * 1024)
        #expect(configuration.maxMemoryPolicy == "allkeys-lfu")
        #expect(configuration.save == "3600 1 300 100")
        #expect(configuration.requirePass == "secret")
        #expect(configuration.hz == 500)
        try configuration.configSet([("save", ""), ("requirepass", "")])
        #expect(configuration.save == "")
        #expect(configuration.requirePass == nil)
    }

    /// Each expected reply was produced by redis-server 7.0.15 for the same `CONFIG SET` (the `port` case uses
    /// `daemonize`'s wording there, since Redis lets `port` change and Roost does not).
    static let redisErrors: [(pairs: [(String, String)], reply: String)] = [
        ([("foo", "bar")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        ([("maxmemory", "10mb"), ("foo", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        ([("maxmemory", "1x"), ("foo", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (
            [("daemonize", "yes")],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        ),
        (
            [("daemonize", "yes"), ("foo", "1")],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        ),
        ([("foo", "1"), ("daemonize", "yes")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        ([("PORT", "1")], "ERR CONFIG SET failed (possibly related to argument 'PORT') - can't set immutable config"),
        (
            [("databases", "3")],
            "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        ),
        (
            [("maxmemory", "10mb"), ("maxmemory", "1")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"
        ),
        (
            [("MAXMEMORY", "1x")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        ),
        (
            [("timeout", "007")],
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                + "argument couldn't be parsed into an integer"
        ),
        (
            [("maxmemory", "5mb"), ("maxmemory-samples", "0")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - "
                + "argument must be between 1 and 2147483647 inclusive"
        ),
        (
            [("protected-mode", "maybe")],
            "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"
        ),
        (
            [("save", "1  2")],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
        ),
        (
            [("save", "1 2 3")],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
        ),
        (
            [("active-expire-effort", "11")],
            "ERR CONFIG SET failed (possibly related to argument 'active-expire-effort') - "
                + "argument must be between 1 and 10 inclusive"
        ),
    ]

    @Test(arguments: redisErrors)
    func errorsMatchRedis(_ example: (pairs: [(String, String)], reply: String)) {
        var configuration = ServerConfiguration()
        do {
            try configuration.configSet(example.pairs)
            Issue.record("expected \(example.reply)")
        } catch {
            #expect(error.message == example.reply)
        }
        #expect(configuration == ServerConfiguration(), "a failed CONFIG SET must change nothing")
    }

    @Test func oneBadPairChangesNothing() throws {
        var configuration = ServerConfiguration()
        try configuration.configSet([("timeout", "30")])
        let before = configuration
        #expect(throws: ConfigurationError.self) {
            try configuration.configSet([
                ("maxmemory", "1gb"), ("maxmemory-policy", "allkeys-lru"), ("hz", "20"), ("timeout", "-5"),
            ])
        }
        #expect(configuration == before)
    }

    @Test func roostSpecificRefusals() {
        var configuration = ServerConfiguration()
        #expect(
            throws: ConfigurationError(
                .invalidValue,
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - "
                    + "Roost has no persistence; 'appendonly yes' is not supported"
            )
        ) { try configuration.configSet([("appendonly", "yes")]) }
        for name in ["port", "bind", "tcp-backlog", "logfile", "pidfile", "databases", "event-loops", "unixsocket"] {
            #expect(throws: ConfigurationError.self) { try configuration.configSet([(name, "1")]) }
            #expect(ServerConfiguration.directive(named: name)?.isMutable == false)
        }
        #expect(
            throws: ConfigurationError(
                .wrongNumberOfArguments, "ERR wrong number of arguments for 'config|set' command"
            )
        ) { try configuration.configSet([]) }
    }
}
