extension ServerConfiguration {
    /// Builds a configuration from a redis-server style command line (without the program name): an optional
    /// config file, then `--directive value...` flags that override it. The rules are those of
    /// ``LaunchRequest/init(arguments:readFile:)``, which the executable should use instead: this function treats
    /// `--help` and `--version` as errors.
    ///
    /// - Parameters:
    ///   - arguments: The arguments, without the program name.
    ///   - readFile: Returns the contents of the file at a path; by default reads from disk.
    /// - Returns: The configuration.
    /// - Throws: ``ConfigurationError`` naming the file and line, or the flag, that is wrong.
    public static func load(
        arguments: [String],
        readFile: (String) throws -> String = ConfigurationFileReader.contents(atPath:)
    ) throws(ConfigurationError) -> ServerConfiguration {
        switch try LaunchRequest(arguments: arguments, readFile: readFile) {
        case .run(let configuration):
            return configuration
        case .help, .version:
            throw ConfigurationError(
                .wrongNumberOfArguments, "command line: --help and --version are handled by LaunchRequest, not load"
            )
        }
    }

    /// Builds a configuration from the text of a redis.conf-style file, starting from the defaults.
    ///
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - path: The path to name in error messages.
    /// - Returns: The configuration.
    /// - Throws: ``ConfigurationError`` whose message starts with `path:line:`.
    public static func parse(fileContents text: String, path: String = "roost.conf") throws(ConfigurationError)
        -> ServerConfiguration
    {
        var loader = ConfigurationLoader()
        try loader.applyFile(text, path: path)
        return loader.configuration
    }
}
