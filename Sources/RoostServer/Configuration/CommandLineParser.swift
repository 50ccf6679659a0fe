/// Splits a redis-server style argument list into a config file path and `--name value...` options, following
/// the loop in redis-server's `main` (Redis 7.0).
struct CommandLineParser {
    /// One `--name value...` option.
    struct Option: Equatable {
        var name: String
        var values: [String]
    }

    var configFile: String?
    var options: [Option] = []
    var wantsHelp = false
    var wantsVersion = false

    static func parse(_ arguments: [String]) throws(ConfigurationError) -> Self {
        var result = Self()
        var index = arguments.startIndex
        if let first = arguments.first, !first.hasPrefix("-") {
            result.configFile = first
            index += 1
        }
        // After a bare `--name`, the next argument is its value even if it starts with `--` (Redis's
        // `handled_last_config_arg`).
        var expectsValue = false
        while index < arguments.endIndex {
            let argument = arguments[index]
            let isLast = index == arguments.endIndex - 1
            index += 1
            if argument == "-" {
                throw ConfigurationError(
                    .invalidValue, "command line: reading the configuration from standard input is not supported"
                )
            }
            if !expectsValue && argument.hasPrefix("--") {
                guard let words = ConfigLineSplitter.split(String(argument.dropFirst(2))), let name = words.first
                else {
                    throw ConfigurationError(.syntax, "command line: cannot read option '\(argument)'")
                }
                switch name.lowercased() {
                case "help": result.wantsHelp = true
                case "version": result.wantsVersion = true
                default: break
                }
                var option = Option(name: name, values: Array(words.dropFirst()))
                expectsValue = words.count == 1
                if expectsValue && name.lowercased() == "save"
                    && (isLast || arguments[index].hasPrefix("--"))
                {
                    // redis-server turns a `--save` followed by nothing or another flag into `--save ""`.
                    option.values = [""]
                    expectsValue = false
                }
                result.options.append(option)
            } else {
                guard !result.options.isEmpty else {
                    throw ConfigurationError(
                        .wrongNumberOfArguments,
                        "command line: unexpected argument '\(argument)' (flags look like --port 6380)"
                    )
                }
                result.options[result.options.count - 1].values.append(argument)
                expectsValue = false
            }
        }
        try result.extractConfigFile()
        return result
    }

    /// Takes Roost's `--config FILE` out of the options.
    private mutating func extractConfigFile() throws(ConfigurationError) {
        for option in options where option.name.lowercased() == "config" {
            guard option.values.count == 1 else {
                throw ConfigurationError(.wrongNumberOfArguments, "command line: '--config' takes one file path")
            }
            guard configFile == nil else {
                throw ConfigurationError(.wrongNumberOfArguments, "command line: more than one config file given")
            }
            configFile = option.values[0]
        }
        options.removeAll { $0.name.lowercased() == "config" }
    }
}
