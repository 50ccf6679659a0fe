#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The cluster config file (`cluster-config-file`, Redis's `nodes.conf` format) on disk, with plain POSIX calls.
enum ClusterConfigFile {
    /// Why the file could not be read or written: the operation and the `strerror` text.
    struct IOError: Error, CustomStringConvertible {
        let description: String
    }

    /// The file's contents, or `nil` if it does not exist.
    static func contents(of path: String) throws(IOError) -> String? {
        if access(path, F_OK) != 0 && errno == ENOENT { return nil }
        do {
            return try ConfigurationFileReader.contents(atPath: path)
        } catch {
            throw IOError(description: "cannot read \(path): \(error)")
        }
    }

    /// Replaces the file atomically: writes a temporary file next to it, syncs it, then renames it over the old
    /// one, so a crash leaves either the old or the new contents, never a torn file.
    static func replace(_ path: String, with contents: String) throws(IOError) {
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("open \(temporary)") }
        var bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes {
                write(descriptor, $0.baseAddress! + written, $0.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let error = failure("write \(temporary)")
                close(descriptor)
                unlink(temporary)
                throw error
            }
            written += count
        }
        bytes.removeAll()
        fsync(descriptor)
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let error = failure("rename \(temporary) to \(path)")
            unlink(temporary)
            throw error
        }
    }

    private static func failure(_ operation: String) -> IOError {
        IOError(description: "\(operation): \(String(cString: strerror(errno)))")
    }
}
