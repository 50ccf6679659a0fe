public import Logging

extension ServerConfiguration.LogLevel {
    /// The swift-log level for Redis's `loglevel` names.
    public var swiftLogLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .verbose: .info
        case .notice: .notice
        case .warning: .warning
        case .nothing: .critical
        }
    }
}
