import Testing

@testable import RoostServer

@Suite("Configuration command line")
struct ConfigurationArgumentsTests {
    private struct MissingFile: Error, CustomStringConvertible {
        var description: String { "No such file or directory" }
    }

    private static let files = [
        "/etc/roost.conf": "port 7000\nmaxmemory 1mb\nloglevel warning\n",
        "/etc/other.conf": "port 8000\n",
    ]

    private func load(_ arguments: [String]) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.load(arguments: arguments) { path in
            guard let text = Self.files[path] else { throw MissingFile() }
            return text
        }
    }

    private func request(_ arguments: [String]) throws(ConfigurationError) -> LaunchRequest {
        try LaunchRequest(arguments: arguments) { _ in "" }
    }

    @Test func noArgumentsGivesDefaults() throws {
        #expect(try load([]) == ServerConfiguration())
    }

    @Test func flagsOverrideTheFileWhateverTheirPosition() throws {
        let positional = try load(["/etc/roost.conf", "--port", "7100"])
        #expect(positional.port == 7100)
        #expect(positional.maxMemory == 1_048_576)
        #expect(positional.logLevel == .warning)
        let flagFirst = try load(["--port", "7200", "--config", "/etc/roost.conf"])
        #expect(flagFirst.port == 7200)
        #expect(flagFirst.maxMemory == 1_048_576)
    }

    @Test func valuesRunUntilTheNextFlag() throws {
        let configuration = try load(["--bind", "10.0.0.1", "::1", "--save", "3600", "1", "300", "100", "--hz", "50"])
        #expect(configuration.bind == ["10.0.0.1", "::1"])
        #expect(configuration.save == "3600 1 300 100")
        #expect(configuration.hz == 50)
    }

    @Test func redisServerSpecialCases() throws {
        // One argument holding name and value.
        #expect(try load(["--port 6380"]).port == 6380)
        // A multi-word value in one argument is split.
        #expect(try load(["--save", "3600 1"]).save == "3600 1")
        // `--save` followed by another flag or by nothing means `--save ""`.
        #expect(try load(["--save", "--port", "1"]).port == 1)
        #expect(try load(["--port", "2", "--save"]).save == "")
        // The first argument after a bare flag is its value even if it starts with `--`.
        #expect(try load(["--requirepass", "--secret"]).requirePass == "--secret")
        // Values may contain spaces.
        #expect(try load(["--logfile", "/var/log/my roost.log"]).logFile == "/var/log/my roost.log")
    }

    @Test func errorsNameTheFlag() {
        #expect(throws: ConfigurationError(.unknownDirective, "command line: unknown directive '--maxmemroy'")) {
            try load(["--maxmemroy", "1"])
        }
        #expect(
            throws: ConfigurationError(
                .invalidValue,
                "command line: invalid value 'abc' for '--port': argument couldn't be parsed into an integer"
            )
        ) { try load(["--port", "abc"]) }
        #expect(
            throws: ConfigurationError(.wrongNumberOfArguments, "command line: wrong number of arguments for '--port'")
        ) { try load(["--port", "1", "2"]) }
        #expect(throws: ConfigurationError.self) { try load(["--port"]) }
        #expect(throws: ConfigurationError.self) { try load(["/etc/roost.conf", "stray"]) }
        #expect(throws: ConfigurationError.self) { try load(["-"]) }
        #expect(throws: ConfigurationError.self) { try load(["/etc/roost.conf", "--config", "/etc/other.conf"]) }
    }

    @Test func fileErrors() {
        #expect(
            throws: ConfigurationError(
                .unreadableFile, "can't open config file '/nowhere.conf': No such file or directory"
            )
        ) { try load(["/nowhere.conf"]) }
        #expect(throws: ConfigurationError.self) {
            _ = try ServerConfiguration.load(arguments: ["/x.conf"]) { _ in "port 1\nport nope\n" }
        }
    }

    @Test func defaultReaderReadsFromDisk() {
        #expect(throws: ConfigurationError.self) {
            _ = try ServerConfiguration.load(arguments: ["/nonexistent/roost-test.conf"])
        }
    }

    @Test(arguments: [["--help"], ["-h"], ["--port", "1", "--help"], ["/etc/roost.conf", "--help"]])
    func help(_ arguments: [String]) throws {
        guard case .help(let text) = try request(arguments) else {
            Issue.record("expected help")
            return
        }
        #expect(text.contains("Usage: roostd"))
        #expect(text.contains("--maxmemory-policy allkeys-sieve"))
        #expect(text.contains("--port 6379  (fixed after start)"))
    }

    @Test(arguments: [["--version"], ["-v"], ["--port", "1", "--version"]])
    func version(_ arguments: [String]) throws {
        #expect(try request(arguments) == .version)
    }

    @Test func loadRefusesHelpAndVersion() {
        #expect(throws: ConfigurationError.self) { try load(["--help"]) }
        #expect(throws: ConfigurationError.self) { try load(["-v"]) }
    }

    @Test func runRequest() throws {
        var expected = ServerConfiguration()
        expected.port = 1234
        #expect(try request(["--port", "1234"]) == .run(expected))
    }
}
