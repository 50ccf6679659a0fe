#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How much memory this process may really use: physical memory, narrowed on Linux by the cgroup memory limit
/// (`memory.max` in cgroup v2, `memory.limit_in_bytes` in v1), so that a container's limit is respected.
enum AvailableMemory {
    /// Bytes available to this process.
    static func bytes() -> Int {
        var total = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        #if os(Linux)
            for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
                guard let text = try? ConfigurationFileReader.contents(atPath: path),
                    let limit = Int(text.filter { !$0.isWhitespace }), limit > 0
                else { continue }
                total = min(total, limit)
            }
        #endif
        return max(total, 64 << 20)
    }

    /// Roost's default `maxmemory`: half of the memory available, so that a cache left at its defaults evicts
    /// instead of taking the machine down (Redis's default, 0, is unlimited). The other half leaves room for
    /// client buffers, allocator fragmentation and the rest of the system.
    static let defaultLimit = bytes() / 2
}
