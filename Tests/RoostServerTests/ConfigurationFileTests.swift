import Testing

@testable import RoostServer

@Suite("Configuration file")
struct ConfigurationFileTests {
    private func parse(_ text: String) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.parse(fileContents: text, path: "roost.conf")
    }

    private func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func commentsBlankLinesAndCase() throws {
        let configuration = try parse(
            """
            # Roost test configuration
               # indented comment

            PORT 7000
            \tMaxMemory 100mb\t
            maxmemory-policy ALLKEYS-LRU
            protected-mode No
            """
        )
        #expect(configuration.port == 7000)
        #expect(configuration.maxMemory == 100 * 1024 * 1024)
        #expect(configuration.maxMemoryPolicy == "allkeys-lru")
        #expect(!configuration.protectedMode)
    }

    @Test func crlfLineEndings() throws {
        let configuration = try parse("port 7001\r\nhz 20\r\n")
        #expect(configuration.port == 7001)
        #expect(configuration.hz == 20)
    }

    @Test func laterLinesWin() throws {
        #expect(try parse("port 1\nport 2\n").port == 2)
    }

    @Test func quoting() throws {
        let configuration = try parse(
            #"""
            requirepass "p@ss word\t\x41\"q\""
            logfile 'it\'s here.log'
            pidfile "/var/run/roost.pid"
            """#
        )
        #expect(configuration.requirePass == "p@ss word\tA\"q\"")
        #expect(configuration.logFile == "it's here.log")
        #expect(configuration.pidFile == "/var/run/roost.pid")
        #expect(try parse(#"requirepass a"b c""#).requirePass == "ab c")
        #expect(try parse(#"requirepass """#).requirePass == nil)
    }

    @Test func splitterMatchesSdssplitargs() {
        #expect(ConfigLineSplitter.split(#"  a  "b c"  'd e' "#) == ["a", "b c", "d e"])
        #expect(ConfigLineSplitter.split(#""\n\r\t\b\a\\\z""#) == ["\n\r\t\u{08}\u{07}\\z"])
        #expect(ConfigLineSplitter.split(#""\x4a\x4B\x4""#) == ["JKx4"])
        #expect(ConfigLineSplitter.split(#"'a\'b\nc'"#) == ["a'b\\nc"])
        #expect(ConfigLineSplitter.split("") == [])
        #expect(ConfigLineSplitter.split(#""abc"#) == nil)
        #expect(ConfigLineSplitter.split("'abc") == nil)
        #expect(ConfigLineSplitter.split(#""abc"d"#) == nil)
        #expect(ConfigLineSplitter.split("'abc'd") == nil)
    }

    @Test(arguments: [
        ("1", 1), ("1b", 1), ("1B", 1), ("1k", 1000), ("1K", 1000), ("1kb", 1024), ("1KB", 1024),
        ("1m", 1_000_000), ("1mb", 1_048_576), ("1Mb", 1_048_576), ("1g", 1_000_000_000), ("1gb", 1_073_741_824),
        ("2GB", 2_147_483_648), ("0", 0), ("007", 7),
    ])
    func memoryUnits(_ text: String, _ bytes: Int) throws {
        #expect(try parse("maxmemory \(text)").maxMemory == bytes)
    }

    @Test(arguments: ["1kk", "k", "-1", "1.5mb", "1 kb", "+1", "1t", "", "99999999999gb"])
    func badMemoryValues(_ text: String) {
        let failure = error("maxmemory \"\(text)\"")
        #expect(failure?.code == .invalidValue)
        #expect(failure?.message.hasSuffix("argument must be a memory value") == true)
    }

    @Test func errorsNameTheFileAndLine() {
        let unknown = error("# comment\n\nport 1\nmaxmemroy 1\n")
        #expect(unknown == ConfigurationError(.unknownDirective, "roost.conf:4: unknown directive 'maxmemroy'"))
        #expect(
            error("\nport abc")
                == ConfigurationError(
                    .invalidValue,
                    "roost.conf:2: invalid value 'abc' for 'port': argument couldn't be parsed into an integer"
                )
        )
        #expect(
            error("requirepass \"abc")
                == ConfigurationError(.syntax, "roost.conf:1: Unbalanced quotes in configuration line")
        )
        #expect(
            error("port")
                == ConfigurationError(.wrongNumberOfArguments, "roost.conf:1: wrong number of arguments for 'port'")
        )
        #expect(error("port 1 2")?.code == .wrongNumberOfArguments)
        // As in Redis, a comment must be on its own line.
        #expect(error("port 1 # comment")?.code == .wrongNumberOfArguments)
        #expect(
            error("include other.conf")?.message
                == "roost.conf:1: 'include' is not supported; put all directives in one file"
        )
    }

    @Test func multiWordDirectives() throws {
        #expect(try parse("bind 10.0.0.1 -::1").bind == ["10.0.0.1", "-::1"])
        #expect(try parse("bind \"10.0.0.1 ::1\"").bind == ["10.0.0.1", "::1"])
        #expect(error("bind \"\"")?.code == .invalidValue)
        let seventeen = (1...17).map { "10.0.0.\($0)" }.joined(separator: " ")
        #expect(error("bind \(seventeen)")?.message.hasSuffix("Too many bind addresses specified.") == true)
    }

    /// redis-server 7.0.15 with `save 1 2` and `save 3 4` in its file reports `CONFIG GET save` = `1 2 3 4`.
    @Test func saveLinesAddUpAndEmptyClears() throws {
        #expect(try parse("save 1 2\nsave 3 4").save == "1 2 3 4")
        #expect(try parse("save 1 2\nsave \"\"\nsave 5 6").save == "5 6")
        #expect(try parse("save \"3600 1 300 100\"").save == "3600 1 300 100")
        #expect(error("save 1 2 3")?.message.hasSuffix("Invalid save parameters") == true)
        #expect(error("save 0 1")?.message.hasSuffix("Invalid save parameters") == true)
    }

    /// redis-server 7.0.15 reports `hz 500` for `hz 1000` and `hz 1` for `hz 0`.
    @Test func hzIsClamped() throws {
        #expect(try parse("hz 1000").hz == 500)
        #expect(try parse("hz 0").hz == 1)
    }

    @Test func unsupportedFeaturesAreRefusedClearly() {
        #expect(error("appendonly yes")?.message.contains("Roost has no persistence") == true)
        #expect(error("daemonize yes")?.message.contains("runs in the foreground") == true)
        #expect(error("unixsocket /tmp/roost.sock")?.message.contains("unix sockets") == true)
        #expect((try? parse("appendonly no\ndaemonize no\nunixsocket \"\"")) == ServerConfiguration())
    }

    @Test func compatibilityNotes() throws {
        #expect(ServerConfiguration().compatibilityNotes.isEmpty)
        #expect(try parse("save 60 1\ndatabases 16").compatibilityNotes.count == 2)
    }
}
