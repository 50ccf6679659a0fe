import Logging
import RoostServer
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

// roostd: parse redis-server style arguments, start the server, stop gracefully on SIGTERM/SIGINT or SHUTDOWN.

if CommandLine.arguments.dropFirst().first == "--commands-markdown" {
    // Used by scripts/gen-commands-doc: the command reference comes from the one command table.
    print(CommandTable.standard.markdown(), terminator: "")
    exit(0)
}

let request: LaunchRequest
do {
    request = try LaunchRequest(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandleOutput.standardError("roostd: \(error)\n")
    exit(1)
}

let configuration: ServerConfiguration
switch request {
case .help(let text):
    print(text)
    exit(0)
case .version:
    print("roostd \(RoostServerInfo.roostVersion) (Redis \(RoostServerInfo.redisVersion) compatible)")
    exit(0)
case .run(let loaded):
    configuration = loaded
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardOutput(label: label)
    handler.logLevel = configuration.logLevel.swiftLogLevel
    return handler
}
let logger = Logger(label: "roostd")
let server = RoostServer(configuration: configuration, logger: logger)
let group = ServiceGroup(
    configuration: .init(
        services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
)
do {
    try await group.run()
} catch {
    logger.critical("roostd stopped", metadata: ["error": "\(error)"])
    exit(1)
}
