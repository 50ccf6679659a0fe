#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads small text files (config files, `/proc` and cgroup files) with plain POSIX calls, so that the
/// configuration code needs no Foundation.
@usableFromInline
enum ConfigurationFileReader {
    /// Why a file could not be read: the `strerror` text.
    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns the contents of the file at `path`, decoded as UTF-8 (invalid bytes are replaced).
    @usableFromInline
    static func contents(atPath path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ReadError(description: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(description: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[..<count])
        }
        return String(decoding: contents, as: UTF8.self)
    }
}
