/// Everything `roostd` can be told at launch: the values of the redis.conf-style directives it understands.
///
/// Defaults are redis-server 7's unless a property says otherwise. Each property is set by exactly one directive in
/// ``ServerConfiguration/directives`` (its name is given in the property's documentation); that table also drives
/// config-file parsing, command-line flags, `CONFIG GET` and `CONFIG SET`.
///
/// Some directives are accepted only so that existing command lines and config files keep working
/// (`save`, `appendonly no`, `daemonize no`, `databases`, `lazyfree-lazy-*`); ``compatibilityNotes`` lists the ones
/// that are set to a value Roost does not act on, so the executable can log them.
public struct ServerConfiguration: Sendable, Hashable {
    /// `port`: the TCP port for client connections. 0 asks the operating system for a free port (Redis uses 0 for
    /// "no TCP listener", which is of no use without unix sockets). Fixed after start.
    public var port: Int = 6379

    /// `bind`: the addresses to listen on. An address prefixed with `-` is optional: if it is not available (say,
    /// IPv6 is disabled) it is skipped instead of failing the start. The default is the one in Redis 7's shipped
    /// redis.conf (`bind 127.0.0.1 -::1`), loopback only, rather than the binary's built-in `* -::*`. Fixed after
    /// start; at most 16 addresses, as in Redis.
    public var bind: [String] = ["127.0.0.1", "-::1"]

    /// `protected-mode`: when on and no password is set, only loopback clients may run commands.
    public var protectedMode: Bool = true

    /// `requirepass`: the password of the default user; `nil` (set with `requirepass ""`) means no password.
    public var requirePass: String? = nil

    /// `maxclients`: the most client connections served at once.
    public var maxClients: Int = 10000

    /// `timeout`: seconds a client may stay idle before it is closed; 0 means never.
    public var timeout: Int = 0

    /// `tcp-keepalive`: seconds between TCP keepalive probes on client connections; 0 turns them off.
    public var tcpKeepalive: Int = 300

    /// `tcp-backlog`: the listen backlog. Fixed after start.
    public var tcpBacklog: Int = 511

    /// `loglevel`: the least severe level that is logged.
    public var logLevel: LogLevel = .notice

    /// `logfile`: the file to log to; empty means standard output. Fixed after start.
    public var logFile: String = ""

    /// `proto-max-bulk-len`: the largest bulk string a client may send, in bytes (512 MiB).
    public var protoMaxBulkLength: Int = 512 * 1024 * 1024

    /// `client-query-buffer-limit`: the most bytes buffered for one client's unparsed requests (1 GiB).
    public var clientQueryBufferLimit: Int = 1024 * 1024 * 1024

    /// `maxmemory`: the memory limit in bytes of the data (`INFO memory` `used_memory`); 0 means no limit.
    ///
    /// Roost's default is half of the memory available to the process (physical memory or the cgroup limit), where
    /// Redis's is 0 (unlimited): a cache left at its defaults must evict, not take the machine down. An explicit
    /// `maxmemory 0` still means no limit.
    public var maxMemory: Int = AvailableMemory.defaultLimit

    /// `maxmemory-policy`: what to evict when `maxmemory` is reached; one of ``maxMemoryPolicies``, stored in
    /// lower case. Roost's default is `allkeys-sieve`, the policy with the lowest miss ratio in most of the trace
    /// suite replayed against a live server at equal memory (docs/EVICTION.md); Redis's default, `noeviction`,
    /// refuses writes instead of evicting.
    public var maxMemoryPolicy: String = "allkeys-sieve"

    /// `tracking-table-max-keys`: the most keys the client-side-caching table remembers for default-mode
    /// `CLIENT TRACKING` clients; 0 means no bound. When a read would pass it, keys are evicted from the table and
    /// invalidated for their readers (see docs/TRACKING.md).
    public var trackingTableMaxKeys: Int = 1_000_000

    /// `maxmemory-samples`: how many keys the sampled LRU/LFU/TTL policies look at per eviction.
    public var maxMemorySamples: Int = 5

    /// `hz`: how many times a second background tasks (active expiry, timeouts) run. Values are accepted from 0 up
    /// to 2147483647 and clamped to 1...500, as Redis does.
    public var hz: Int = 10

    /// `databases`: accepted for compatibility (any value ≥ 1) and reported by `CONFIG GET`, but Roost serves
    /// only database 0 whatever it says (`SELECT` of another index fails). Roost's default is 1. Fixed after start.
    public var databases: Int = 1

    /// `event-loops` (Roost's own directive): the number of event loops serving connections. 0 means one per core
    /// this process may actually use (CPU affinity and cgroup CPU quota, at least 1); see
    /// ``resolvedEventLoops``. Fixed after start.
    public var eventLoops: Int = 0

    /// `memcached-port` (Roost's own directive): the TCP port of the memcached protocol listener (text and meta, see
    /// docs/MEMCACHED.md), on the same `bind` addresses and under the same protected-mode rule as `port`. 0 (the
    /// default) means no memcached listener. Fixed after start.
    public var memcachedPort: Int = 0

    /// `memcached-max-item-size` (Roost's own directive, memcached's `-I`): the largest item a memcached client may
    /// store, counting memcached's per-item overhead, in bytes (1 MiB; from 1 KiB to 1 GiB as memcached allows).
    public var memcachedMaxItemSize: Int = 1024 * 1024

    /// `client-output-buffer-limit`: unsent-reply limits per client class (see ``OutputBufferLimits``).
    public var outputBufferLimits = OutputBufferLimits()

    /// `save`: RDB snapshot points, normalised to `"seconds changes ..."` pairs. Accepted and validated as Redis
    /// does so that existing configurations load, but Roost has no persistence and never writes a snapshot.
    /// Roost's default is `""` (no snapshots).
    public var save: String = ""

    /// `appendonly`: always `false`; Roost has no persistence, so `appendonly yes` is rejected.
    public var appendOnly: Bool = false

    /// `daemonize`: always `false`; Roost runs in the foreground (use a service manager), so `yes` is rejected.
    public var daemonize: Bool = false

    /// `pidfile`: where the executable should write its process id; empty means nowhere. Fixed after start.
    public var pidFile: String = ""

    /// `lfu-log-factor`: how slowly the LFU frequency counter saturates.
    public var lfuLogFactor: Int = 10

    /// `lfu-decay-time`: minutes after which an idle key's LFU counter is halved; 0 means never decay.
    public var lfuDecayTime: Int = 1

    /// `active-expire-effort`: how much CPU (1...10) the active expiry cycle may spend to reclaim expired keys.
    public var activeExpireEffort: Int = 1

    /// `latency-tracking`: whether per-command latency percentiles are collected.
    public var latencyTracking: Bool = true

    /// `slowlog-log-slower-than`: commands slower than this many microseconds go to the slow log; -1 disables the
    /// slow log and 0 logs every command.
    public var slowlogLogSlowerThan: Int = 10000

    /// `slowlog-max-len`: how many entries the slow log keeps.
    public var slowlogMaxLen: Int = 128

    /// `lazyfree-lazy-eviction`: free evicted values off the serving thread.
    public var lazyfreeLazyEviction: Bool = false

    /// `lazyfree-lazy-expire`: free expired values off the serving thread.
    public var lazyfreeLazyExpire: Bool = false

    /// `lazyfree-lazy-server-del`: free values overwritten or deleted as a side effect off the serving thread.
    public var lazyfreeLazyServerDel: Bool = false

    /// `lazyfree-lazy-user-del`: make `DEL` behave like `UNLINK`.
    public var lazyfreeLazyUserDel: Bool = false

    /// `lazyfree-lazy-user-flush`: make `FLUSHALL`/`FLUSHDB` asynchronous by default.
    public var lazyfreeLazyUserFlush: Bool = false

    /// `cluster-enabled`: run as a Redis Cluster node (slot routing, `CLUSTER` commands, the cluster bus). Fixed
    /// after start.
    public var clusterEnabled: Bool = false

    /// `cluster-config-file`: where the node keeps its identity, epochs and view of the cluster (`nodes.conf`
    /// format), relative to the working directory. Fixed after start.
    public var clusterConfigFile: String = "nodes.conf"

    /// `cluster-node-timeout`: milliseconds without an answer before a node is suspected; it also scales the
    /// membership protocol's period. Fixed after start (Redis lets `CONFIG SET` change it).
    public var clusterNodeTimeout: Int = 15000

    /// `cluster-port`: the cluster bus port; 0 means the client port + 10000. Fixed after start.
    public var clusterPort: Int = 0

    /// `cluster-require-full-coverage`: when on, keyed commands fail with `-CLUSTERDOWN` while any slot is
    /// unassigned or served by a failed node.
    public var clusterRequireFullCoverage: Bool = true

    /// `cluster-announce-ip`: the address this node gives other nodes and clients; empty means the bind address,
    /// or the address peers see it connect from. Fixed after start.
    public var clusterAnnounceIP: String = ""

    /// `repl-backlog-size`: how many bytes of the replication stream a primary keeps, so that a replica that was
    /// disconnected briefly resumes with a partial resync instead of a full one.
    public var replBacklogSize: Int = 1 << 20

    /// `repl-timeout`: seconds without traffic after which a replication link is considered dead and reconnected.
    public var replTimeout: Int = 60

    /// `repl-ping-replica-period`: seconds between the pings a primary sends down an idle replication stream.
    public var replPingReplicaPeriod: Int = 10

    /// `enable-debug-command`: whether `DEBUG` is accepted (`yes`), only from loopback (`local`), or not (`no`, the
    /// default). Roost's `DEBUG` carries fault injection for tests (`DEBUG CLUSTER-PARTITION`).
    public var enableDebugCommand: String = "no"

    /// A configuration with every directive at its default.
    public init() {}

    /// The accepted `maxmemory-policy` values: Redis's eight policies, in the order Redis lists them, then Roost's
    /// additions.
    public static let maxMemoryPolicies: [String] = [
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
        "allkeys-s3fifo", "allkeys-sieve", "allkeys-tinylfu",
    ]
}

extension ServerConfiguration {
    /// Log levels, from most to least verbose (the `loglevel` directive).
    public enum LogLevel: String, Sendable, Hashable, CaseIterable {
        /// Everything, including per-request detail.
        case debug
        /// Much information that is rarely useful.
        case verbose
        /// Moderately verbose; what production usually wants.
        case notice
        /// Only important and critical messages.
        case warning
        /// Nothing at all (Redis 7.2's addition).
        case nothing
    }

    /// The number of event loops to start: ``eventLoops`` if set, otherwise the cores this process may use.
    public var resolvedEventLoops: Int {
        eventLoops > 0 ? eventLoops : AvailableCores.count()
    }

    /// Human-readable notes about settings that were accepted for compatibility but have no effect in Roost, for
    /// the executable to log at startup. Empty when there is nothing to say.
    public var compatibilityNotes: [String] {
        var notes: [String] = []
        if !save.isEmpty {
            notes.append("'save \(save)' is accepted but has no effect: Roost does not persist data")
        }
        if databases != 1 {
            notes.append("'databases \(databases)' is accepted but Roost serves only database 0")
        }
        return notes
    }
}
