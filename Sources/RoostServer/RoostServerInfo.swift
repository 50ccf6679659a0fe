/// Version facts for the executable and clients.
public enum RoostServerInfo {
    /// Roost's own version.
    public static var roostVersion: String { ConnectionCommands.roostVersion }
    /// The Redis version whose semantics Roost matches.
    public static var redisVersion: String { ConnectionCommands.redisVersion }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to standard error without Foundation.
public enum FileHandleOutput {
    /// Writes `text` to standard error.
    public static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
