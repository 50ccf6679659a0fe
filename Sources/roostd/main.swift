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

// `logfile ""` logs to standard output, as redis-server does; otherwise append to the file.
var logDescriptor: Int32 = 1
if !configuration.logFile.isEmpty {
    logDescriptor = open(configuration.logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if logDescriptor < 0 {
        FileHandleOutput.standardError("roostd: can't open the log file '\(configuration.logFile)'\n")
        exit(1)
    }
}
let level = configuration.logLevel.swiftLogLevel
LoggingSystem.bootstrap { label in
    DescriptorLogHandler(label: label, descriptor: logDescriptor, logLevel: level)
}
let logger = Logger(label: "roostd")
for note in configuration.compatibilityNotes {
    logger.notice("\(note)")
}
if !configuration.pidFile.isEmpty {
    let descriptor = open(configuration.pidFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if descriptor >= 0 {
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    } else {
        logger.warning("Failed to write PID file", metadata: ["path": "\(configuration.pidFile)"])
    }
}
defer { if !configuration.pidFile.isEmpty { unlink(configuration.pidFile) } }
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
    if !configuration.pidFile.isEmpty { unlink(configuration.pidFile) }
    exit(1)
}
