import RoostCore

#if canImport(Glibc)
    import Glibc
#endif

/// Renders `INFO` text: `# Section` headers and `field:value` lines, with Redis's field names so that tools which
/// parse `INFO` keep working.
struct InfoReport {
    let server: ServerState
    let session: ClientSession

    static let defaultSections = [
        "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
        "errorstats", "cluster", "keyspace",
    ]
    static let allSections = defaultSections + ["commandstats"]

    func render(sections requested: [String]) -> String {
        var names: [String] = []
        if requested.isEmpty || requested.contains("default") { names += InfoReport.defaultSections }
        if requested.contains("all") || requested.contains("everything") { names += InfoReport.allSections }
        names += requested.filter { InfoReport.allSections.contains($0) }
        var seen = Set<String>()
        var text = ""
        for name in InfoReport.allSections where names.contains(name) && seen.insert(name).inserted {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(name == "commandstats" ? "Commandstats" : name.prefix(1).uppercased() + name.dropFirst())\r\n"
            for (field, value) in fields(of: name) { text += "\(field):\(value)\r\n" }
        }
        return text
    }

    private func fields(of section: String) -> [(String, String)] {
        switch section {
        case "server": serverFields()
        case "clients": clientFields()
        case "memory": memoryFields()
        case "persistence":
            [
                ("loading", "0"), ("async_loading", "0"), ("rdb_changes_since_last_save", "0"),
                ("rdb_bgsave_in_progress", "0"), ("rdb_last_bgsave_status", "ok"),
                ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"),
            ]
        case "stats": statsFields()
        case "replication": replicationFields()
        case "cpu": cpuFields()
        case "errorstats": []
        case "cluster": [("cluster_enabled", server.cluster == nil ? "0" : "1")]
        case "keyspace": keyspaceFields()
        case "commandstats": commandFields()
        default: []
        }
    }

    /// Redis's `INFO replication` fields (`slave` wording included, as tools parse it).
    private func replicationFields() -> [(String, String)] {
        let state = server.replication.state.withLock { $0 }
        let now = server.clock()
        var fields: [(String, String)] = []
        switch state.role {
        case .primary:
            fields.append(("role", "master"))
            let feeds = state.feeds.values.sorted { $0.address < $1.address }
            fields.append(("connected_slaves", "\(feeds.count)"))
            for (index, feed) in feeds.enumerated() {
                let lag = max(0, (now - feed.ackTime) / 1000)
                fields.append(
                    (
                        "slave\(index)",
                        "ip=\(feed.ip),port=\(feed.listeningPort),state=\(feed.online ? "online" : "wait_bgsave"),"
                            + "offset=\(feed.ackOffset),lag=\(lag)"
                    ))
            }
        case .replica(let host, let port):
            let up = state.linkState == .connected
            fields += [
                ("role", "slave"), ("master_host", host), ("master_port", "\(port)"),
                ("master_link_status", up ? "up" : "down"),
                (
                    "master_last_io_seconds_ago",
                    state.lastPrimaryIO == 0 ? "-1" : "\((now - state.lastPrimaryIO) / 1000)"
                ),
                ("master_sync_in_progress", state.linkState == .sync ? "1" : "0"),
                ("slave_read_repl_offset", "\(state.offset)"), ("slave_repl_offset", "\(state.offset)"),
                ("slave_priority", "100"), ("slave_read_only", "1"), ("replica_announced", "1"),
                ("connected_slaves", "0"),
            ]
            if !up { fields.append(("master_link_down_since_seconds", "-1")) }
        }
        let backlog = state.backlog
        fields += [
            ("master_failover_state", "no-failover"),
            ("master_replid", state.replicationID), ("master_replid2", state.replicationID2),
            ("master_repl_offset", "\(state.offset)"), ("second_repl_offset", "\(state.secondOffset)"),
            ("repl_backlog_active", backlog == nil ? "0" : "1"),
            ("repl_backlog_size", "\(backlog?.capacity ?? server.currentConfiguration.replBacklogSize)"),
            ("repl_backlog_first_byte_offset", "\(backlog.map { $0.firstOffset + 1 } ?? 0)"),
            ("repl_backlog_histlen", "\(backlog?.count ?? 0)"),
        ]
        return fields
    }

    private func serverFields() -> [(String, String)] {
        let now = Clock.wallMilliseconds()
        let uptime = (now - server.startedAt) / 1000
        var name = utsname()
        uname(&name)
        let system = withUnsafeBytes(of: name.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let config = server.currentConfiguration
        return [
            ("redis_version", ConnectionCommands.redisVersion),
            ("roost_version", ConnectionCommands.roostVersion),
            ("redis_mode", server.cluster == nil ? "standalone" : "cluster"),
            ("os", "\(system) \(release) \(machine)"),
            ("arch_bits", "\(MemoryLayout<Int>.size * 8)"),
            ("multiplexing_api", "epoll"),
            ("process_id", "\(getpid())"),
            ("run_id", server.runID),
            ("tcp_port", "\(server.boundPort.load(ordering: .relaxed))"),
            ("server_time_usec", "\(Clock.wallMicroseconds())"),
            ("uptime_in_seconds", "\(uptime)"),
            ("uptime_in_days", "\(uptime / 86400)"),
            ("hz", "\(config.hz)"),
            ("event_loops", "\(server.eventLoopCount.load(ordering: .relaxed))"),
            ("executable", CommandLine.arguments.first ?? ""),
        ]
    }

    private func clientFields() -> [(String, String)] {
        let connected = server.clients.withLock { $0.count }
        return [
            ("connected_clients", "\(connected)"),
            ("maxclients", "\(server.currentConfiguration.maxClients)"),
            ("blocked_clients", String(server.blocking.blockedCount.load(ordering: .relaxed))),
            ("tracking_clients", "\(server.tracking.table.withLock { $0.clients.count })"),
        ]
    }

    private func memoryFields() -> [(String, String)] {
        let used = server.keyspace.withLock { $0.estimatedMemory }
        let rss = ProcessMetrics.residentBytes()
        let config = server.currentConfiguration
        return [
            ("used_memory", "\(used)"),
            ("used_memory_human", InfoReport.human(used)),
            ("used_memory_rss", "\(rss)"),
            ("used_memory_rss_human", InfoReport.human(rss)),
            ("maxmemory", "\(config.maxMemory)"),
            ("maxmemory_human", InfoReport.human(config.maxMemory)),
            ("maxmemory_policy", config.maxMemoryPolicy),
            ("mem_fragmentation_ratio", used > 0 ? String(format2(Double(rss) / Double(used))) : "0.00"),
            ("mem_allocator", "libc"),
        ]
    }

    private func statsFields() -> [(String, String)] {
        let stats = server.statistics
        let keyspace = server.keyspace.withLock { $0.statistics }
        let tracking = server.tracking.table.withLock {
            (keys: $0.keyCount, items: $0.totalItems, prefixes: $0.prefixCount)
        }
        return [
            ("total_connections_received", "\(stats.connectionsReceived.load(ordering: .relaxed))"),
            ("total_commands_processed", "\(stats.commandsProcessed.load(ordering: .relaxed))"),
            ("total_net_input_bytes", "\(stats.inputBytes.load(ordering: .relaxed))"),
            ("total_net_output_bytes", "\(stats.outputBytes.load(ordering: .relaxed))"),
            ("rejected_connections", "\(stats.rejectedConnections.load(ordering: .relaxed))"),
            ("sync_full", "\(server.replication.fullSyncs.load(ordering: .relaxed))"),
            ("sync_partial_ok", "\(server.replication.partialSyncs.load(ordering: .relaxed))"),
            ("sync_partial_err", "\(server.replication.refusedPartialSyncs.load(ordering: .relaxed))"),
            ("expired_keys", "\(keyspace.expiredKeys)"),
            ("evicted_keys", "\(keyspace.evictedKeys)"),
            ("keyspace_hits", "\(keyspace.keyspaceHits)"),
            ("keyspace_misses", "\(keyspace.keyspaceMisses)"),
            ("pubsub_channels", "\(server.pubsub.channelCount)"),
            ("pubsub_patterns", "\(server.pubsub.count(.pattern))"),
            ("pubsubshard_channels", "\(server.pubsub.count(.shardChannel))"),
            ("tracking_total_keys", "\(tracking.keys)"),
            ("tracking_total_items", "\(tracking.items)"),
            ("tracking_total_prefixes", "\(tracking.prefixes)"),
            ("total_error_replies", "\(stats.errorReplies.load(ordering: .relaxed))"),
            (
                "client_output_buffer_limit_disconnections",
                "\(stats.outputLimitDisconnections.load(ordering: .relaxed))"
            ),
        ]
    }

    private func cpuFields() -> [(String, String)] {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> String {
            let micros = Int(time.tv_sec) * 1_000_000 + Int(time.tv_usec)
            return "\(micros / 1_000_000).\(String(micros % 1_000_000).leftPadded(to: 6))"
        }
        return [("used_cpu_sys", seconds(usage.ru_stime)), ("used_cpu_user", seconds(usage.ru_utime))]
    }

    private func keyspaceFields() -> [(String, String)] {
        let (keys, volatile) = server.keyspace.withLock { ($0.count, $0.volatileCount) }
        guard keys > 0 else { return [] }
        return [("db0", "keys=\(keys),expires=\(volatile),avg_ttl=0")]
    }

    private func commandFields() -> [(String, String)] {
        server.commands.allIncludingSubcommands.compactMap { command in
            let stats = command.statistics
            let calls = stats.calls.load(ordering: .relaxed)
            let rejected = stats.rejectedCalls.load(ordering: .relaxed)
            guard calls > 0 || rejected > 0 else { return nil }
            let micros = stats.microseconds.load(ordering: .relaxed)
            let perCall = calls > 0 ? format2(Double(micros) / Double(calls)) : "0.00"
            return (
                "cmdstat_\(command.fullName)",
                "calls=\(calls),usec=\(micros),usec_per_call=\(perCall),rejected_calls=\(rejected),"
                    + "failed_calls=\(stats.failedCalls.load(ordering: .relaxed))"
            )
        }
    }

    /// Redis's human-readable byte sizes: `1.50M`.
    static func human(_ bytes: Int) -> String {
        let units: [(Double, String)] = [(1_099_511_627_776, "T"), (1_073_741_824, "G"), (1_048_576, "M"), (1024, "K")]
        for (size, suffix) in units where Double(bytes) >= size {
            return format2(Double(bytes) / size) + suffix
        }
        return "\(bytes)B"
    }
}

/// Two decimals, without Foundation.
func format2(_ value: Double) -> String {
    let scaled = Int((value * 100).rounded())
    return "\(scaled / 100).\(String(scaled % 100).leftPadded(to: 2))"
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Readings of this process from the kernel.
enum ProcessMetrics {
    /// Resident set size in bytes (from `/proc/self/statm`), 0 where unavailable.
    static func residentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let length = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard length > 0 else { return 0 }
        let fields = buffer[0..<length].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
