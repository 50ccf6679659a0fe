#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many cores this process may really use: the online processors, narrowed on Linux by the CPU affinity mask
/// (`Cpus_allowed_list` in `/proc/self/status`, which `taskset` and container cpusets set) and by the cgroup CPU
/// quota (`cpu.max` in cgroup v2, `cpu.cfs_quota_us` / `cpu.cfs_period_us` in v1), rounded up; at least 1.
///
/// Roost sizes its event loops by this, not by the machine's core count: two loops sharing one core cost several
/// times the tail latency (see DESIGN.md, "Data path").
enum AvailableCores {
    /// The number of cores available to this process, at least 1.
    static func count() -> Int {
        var cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #if os(Linux)
            if let status = try? ConfigurationFileReader.contents(atPath: "/proc/self/status"),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
                let allowed = cpuListCount(String(line.dropFirst("Cpus_allowed_list:".count)))
            {
                cores = min(cores, allowed)
            }
            if let quota = cgroupQuota() { cores = min(cores, quota) }
        #endif
        return max(1, cores)
    }

    /// The number of CPUs in a Linux CPU list such as `0-3,8,10-11`, or `nil` if it does not parse.
    static func cpuListCount(_ list: String) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.filter { !$0.isWhitespace }) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                total += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                total += high - low + 1
            default:
                return nil
            }
        }
        return total > 0 ? total : nil
    }

    /// Cores granted by a quota and period in microseconds (rounded up), or `nil` for no quota.
    static func quotaCores(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }

    /// The CPU quota of this process's cgroup, if any (v2 first, then v1).
    private static func cgroupQuota() -> Int? {
        var candidates = ["/sys/fs/cgroup/cpu.max"]
        if let membership = try? ConfigurationFileReader.contents(atPath: "/proc/self/cgroup"),
            let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        {
            let path = line.dropFirst(3).filter { !$0.isNewline }
            if path != "/" { candidates.insert("/sys/fs/cgroup\(path)/cpu.max", at: 0) }
        }
        for candidate in candidates {
            if let text = try? ConfigurationFileReader.contents(atPath: candidate) {
                let fields = text.split(whereSeparator: \.isWhitespace)
                guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]) else { return nil }
                return quotaCores(quota: quota, period: period)
            }
        }
        let v1 = "/sys/fs/cgroup/cpu/"
        guard let quotaText = try? ConfigurationFileReader.contents(atPath: v1 + "cpu.cfs_quota_us"),
            let periodText = try? ConfigurationFileReader.contents(atPath: v1 + "cpu.cfs_period_us"),
            let quota = Int(quotaText.filter { !$0.isWhitespace }),
            let period = Int(periodText.filter { !$0.isWhitespace })
        else { return nil }
        return quotaCores(quota: quota, period: period)
    }
}
