import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Writes log lines to a file descriptor (standard output or the `logfile`), one `write` per line so that lines
/// from different event loops never interleave. Format: `time level label: message [metadata]`.
struct DescriptorLogHandler: LogHandler {
    let label: String
    let descriptor: Int32
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, descriptor: Int32, logLevel: Logger.Level) {
        self.label = label
        self.descriptor = descriptor
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let rendered =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        var line = Array("\(Self.timestamp()) \(event.level) \(label): \(event.message)\(rendered)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
