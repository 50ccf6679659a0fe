/// What the command line asks `roostd` to do.
public enum LaunchRequest: Sendable, Hashable {
    /// Start the server with this configuration.
    case run(ServerConfiguration)
    /// Print this usage text and exit successfully (`--help` or `-h`).
    case help(String)
    /// Print the version and exit successfully (`--version` or `-v`).
    case version

    /// Reads a redis-server style command line (without the program name).
    ///
    /// Accepted forms:
    /// - `roostd [config-file] [--directive value...]...` — a first argument that does not start with `-` is a
    ///   config file, as in redis-server;
    /// - `--config FILE` (Roost's addition) names the config file anywhere on the line;
    /// - `--directive value [value...]`: the arguments after a `--name` up to the next `--` argument belong to it,
    ///   and the first one always does (so `--requirepass --weird` works); `--save` with nothing after it means
    ///   `--save ""`; `"--port 6380"` as one argument is split into name and value.
    ///
    /// Flags are applied after the whole file, so they override it whatever their position. `--help`/`-h` and
    /// `--version`/`-v` as the first argument, or `--help`/`--version` where a flag may start, win over everything
    /// else. Reading the configuration from standard input (`-`) is not supported.
    ///
    /// - Parameters:
    ///   - arguments: The arguments, without the program name.
    ///   - readFile: Returns the contents of the file at a path; by default reads from disk.
    /// - Throws: ``ConfigurationError`` naming the file and line, or the flag, that is wrong.
    public init(
        arguments: [String],
        readFile: (String) throws -> String = ConfigurationFileReader.contents(atPath:)
    ) throws(ConfigurationError) {
        if let first = arguments.first {
            if first == "-h" || first == "--help" {
                self = .help(Self.usage)
                return
            }
            if first == "-v" || first == "--version" {
                self = .version
                return
            }
        }
        let commandLine = try CommandLineParser.parse(arguments)
        if commandLine.wantsHelp {
            self = .help(Self.usage)
            return
        }
        if commandLine.wantsVersion {
            self = .version
            return
        }
        var loader = ConfigurationLoader()
        if let path = commandLine.configFile {
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw ConfigurationError(.unreadableFile, "can't open config file '\(path)': \(error)")
            }
            try loader.applyFile(text, path: path)
        }
        for option in commandLine.options {
            try loader.apply(name: option.name, arguments: option.values, from: .commandLine)
        }
        self = .run(loader.configuration)
    }

    /// The `--help` text, listing every directive from ``ServerConfiguration/directives``.
    public static var usage: String {
        let defaults = ServerConfiguration()
        let lines = ServerConfiguration.directives.map { directive in
            let value = directive.value(in: defaults)
            let shown = value.isEmpty ? "\"\"" : value
            return "  --\(directive.name) \(shown)" + (directive.isMutable ? "" : "  (fixed after start)")
        }
        return """
            Usage: roostd [/path/to/roost.conf] [--directive value...]
                   roostd --config /path/to/roost.conf [--directive value...]
                   roostd -v or --version
                   roostd -h or --help

            The config file uses redis.conf syntax; every directive can also be given as a flag, and flags
            override the file. Examples:
              roostd --port 7777
              roostd /etc/roost/roost.conf --loglevel verbose --maxmemory 1gb --maxmemory-policy allkeys-lru

            Directives (with their defaults):

            """ + lines.joined(separator: "\n") + "\n"
    }
}
