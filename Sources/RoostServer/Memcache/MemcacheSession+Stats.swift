import NIOCore
import RoostCore

#if canImport(Glibc)
    import Glibc
#endif

/// `stats` and its groups. Roost has no slabs: `stats slabs` and `stats items` describe the whole keyspace as one
/// slab class (class 1).
extension MemcacheSession {
    mutating func stats(_ group: String?) {
        switch group {
        case nil: generalStats()
        case "settings": settingsStats()
        case "items": itemStats()
        case "slabs": slabStats()
        case "sizes": stat("sizes_status", "disabled")
        case "conns": break
        case "reset":
            service.statistics.reset()
            return line("RESET")
        case "detail": return line("CLIENT_ERROR usage: stats detail on|off|dump")
        case "cachedump": return line("CLIENT_ERROR stats cachedump not allowed")
        default: return line("ERROR")
        }
        out.writeStaticString("END\r\n")
    }

    private mutating func stat(_ name: String, _ value: String) {
        line("STAT \(name) \(value)")
    }

    private mutating func stat(_ name: String, _ value: Int) {
        stat(name, String(value))
    }

    private var keyspaceFigures: (items: Int, bytes: Int, memory: Int, evicted: Int, expired: Int, limit: Int) {
        let limit = server.currentConfiguration.maxMemory
        return server.keyspace.withLock {
            ($0.count, $0.payloadBytes, $0.estimatedMemory, $0.statistics.evictedKeys, $0.statistics.expiredKeys, limit)
        }
    }

    private mutating func generalStats() {
        let statistics = service.statistics
        let figures = keyspaceFigures
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        stat("pid", Int(getpid()))
        stat("uptime", Int((now - service.startedAt) / 1000))
        stat("time", Int(now / 1000))
        stat("version", MemcacheService.version)
        stat("libevent", "swift-nio")
        stat("pointer_size", MemoryLayout<Int>.size * 8)
        stat("rusage_user", Self.seconds(usage.ru_utime))
        stat("rusage_system", Self.seconds(usage.ru_stime))
        stat("max_connections", server.currentConfiguration.maxClients)
        stat("curr_connections", statistics.currentConnections.load(ordering: .relaxed))
        stat("total_connections", statistics.totalConnections.load(ordering: .relaxed))
        stat("rejected_connections", statistics.rejectedConnections.load(ordering: .relaxed))
        stat("connection_structures", statistics.currentConnections.load(ordering: .relaxed))
        stat("cmd_get", statistics.getCommands.load(ordering: .relaxed))
        stat("cmd_set", statistics.setCommands.load(ordering: .relaxed))
        stat("cmd_flush", statistics.flushCommands.load(ordering: .relaxed))
        stat("cmd_touch", statistics.touchCommands.load(ordering: .relaxed))
        stat("cmd_meta", statistics.metaCommands.load(ordering: .relaxed))
        stat("get_hits", statistics.getHits.load(ordering: .relaxed))
        stat("get_misses", statistics.getMisses.load(ordering: .relaxed))
        stat("get_expired", 0)
        stat("get_flushed", 0)
        stat("delete_misses", statistics.deleteMisses.load(ordering: .relaxed))
        stat("delete_hits", statistics.deleteHits.load(ordering: .relaxed))
        stat("incr_misses", statistics.incrMisses.load(ordering: .relaxed))
        stat("incr_hits", statistics.incrHits.load(ordering: .relaxed))
        stat("decr_misses", statistics.decrMisses.load(ordering: .relaxed))
        stat("decr_hits", statistics.decrHits.load(ordering: .relaxed))
        stat("cas_misses", statistics.casMisses.load(ordering: .relaxed))
        stat("cas_hits", statistics.casHits.load(ordering: .relaxed))
        stat("cas_badval", statistics.casBadValue.load(ordering: .relaxed))
        stat("touch_hits", statistics.touchHits.load(ordering: .relaxed))
        stat("touch_misses", statistics.touchMisses.load(ordering: .relaxed))
        stat("auth_cmds", 0)
        stat("auth_errors", 0)
        stat("bytes_read", statistics.bytesRead.load(ordering: .relaxed))
        stat("bytes_written", statistics.bytesWritten.load(ordering: .relaxed))
        stat("limit_maxbytes", figures.limit)
        stat("accepting_conns", 1)
        stat("threads", server.eventLoopCount.load(ordering: .relaxed))
        stat("conn_yields", 0)
        stat("hash_power_level", max(16, Int.bitWidth - max(1, figures.items).leadingZeroBitCount))
        stat("hash_bytes", max(0, figures.memory - figures.bytes))
        stat("hash_is_expanding", 0)
        stat("expired_unfetched", figures.expired)
        stat("evicted_unfetched", 0)
        stat("evictions", figures.evicted)
        stat("reclaimed", 0)
        stat("curr_items", figures.items)
        stat("total_items", statistics.totalItems.load(ordering: .relaxed))
        stat("bytes", figures.memory)
    }

    /// memcached's `seconds.microseconds` rendering of a CPU time.
    private static func seconds(_ time: timeval) -> String {
        let micros = String(time.tv_usec)
        return "\(time.tv_sec)." + String(repeating: "0", count: max(0, 6 - micros.count)) + micros
    }

    private mutating func settingsStats() {
        let configuration = server.currentConfiguration
        stat("maxbytes", configuration.maxMemory)
        stat("maxconns", configuration.maxClients)
        stat("tcpport", configuration.memcachedPort)
        stat("udpport", 0)
        stat("inter", configuration.bind.joined(separator: ","))
        stat("verbosity", 0)
        stat("oldest", 0)
        stat("evictions", configuration.maxMemoryPolicy == "noeviction" ? "off" : "on")
        stat("domain_socket", "NULL")
        stat("umask", 700)
        stat("growth_factor", "1.25")
        stat("chunk_size", 48)
        stat("num_threads", server.eventLoopCount.load(ordering: .relaxed))
        stat("stat_key_prefix", ":")
        stat("detail_enabled", "no")
        stat("reqs_per_event", 20)
        stat("cas_enabled", "yes")
        stat("tcp_backlog", configuration.tcpBacklog)
        stat("binding_protocol", "ascii")
        stat("auth_enabled_sasl", "no")
        stat("auth_enabled_ascii", "no")
        stat("item_size_max", limits.maxItemSize)
        stat("maxconns_fast", "yes")
        stat("hashpower_init", 0)
        stat("slab_reassign", "no")
        stat("slab_automove", 0)
        stat("lru_crawler", "no")
        stat("lru_maintainer_thread", "no")
        stat("flush_enabled", "yes")
        stat("dump_enabled", "no")
        stat("idle_timeout", configuration.timeout)
        stat("eviction_policy", configuration.maxMemoryPolicy)
    }

    private mutating func itemStats() {
        let figures = keyspaceFigures
        guard figures.items > 0 else { return }
        stat("items:1:number", figures.items)
        stat("items:1:number_hot", 0)
        stat("items:1:number_warm", 0)
        stat("items:1:number_cold", figures.items)
        stat("items:1:age", 0)
        stat("items:1:mem_requested", figures.bytes)
        stat("items:1:evicted", figures.evicted)
        stat("items:1:evicted_nonzero", 0)
        stat("items:1:evicted_time", 0)
        stat("items:1:outofmemory", 0)
        stat("items:1:tailrepairs", 0)
        stat("items:1:reclaimed", 0)
        stat("items:1:expired_unfetched", figures.expired)
        stat("items:1:evicted_unfetched", 0)
        stat("items:1:evicted_active", 0)
        stat("items:1:crawler_reclaimed", 0)
        stat("items:1:crawler_items_checked", 0)
        stat("items:1:lrutail_reflocked", 0)
    }

    private mutating func slabStats() {
        let figures = keyspaceFigures
        if figures.items > 0 {
            stat("1:chunk_size", max(1, figures.memory / figures.items))
            stat("1:chunks_per_page", 1)
            stat("1:total_pages", figures.items)
            stat("1:total_chunks", figures.items)
            stat("1:used_chunks", figures.items)
            stat("1:free_chunks", 0)
            stat("1:free_chunks_end", 0)
            stat("1:get_hits", service.statistics.getHits.load(ordering: .relaxed))
            stat("1:cmd_set", service.statistics.setCommands.load(ordering: .relaxed))
            stat("1:delete_hits", service.statistics.deleteHits.load(ordering: .relaxed))
            stat("1:incr_hits", service.statistics.incrHits.load(ordering: .relaxed))
            stat("1:decr_hits", service.statistics.decrHits.load(ordering: .relaxed))
            stat("1:cas_hits", service.statistics.casHits.load(ordering: .relaxed))
            stat("1:cas_badval", service.statistics.casBadValue.load(ordering: .relaxed))
            stat("1:touch_hits", service.statistics.touchHits.load(ordering: .relaxed))
        }
        stat("active_slabs", figures.items > 0 ? 1 : 0)
        stat("total_malloced", figures.memory)
    }
}
