import RoostCore

/// The server-wide state of client-side caching (`CLIENT TRACKING`), as a value fed events that returns what to
/// send: which clients track and how, the keys each default-mode client has read, and the prefixes of
/// broadcasting clients. The shell around it (``Tracking``) delivers the returned ``Directive``s.
///
/// ## Terms (Redis's)
/// - *Default mode*: a client's reads are remembered here, key → client ids. When the key changes, every
///   remembered client gets one invalidation and the key is forgotten (the next read remembers it again).
/// - *BCAST mode*: nothing is remembered; every change of a key that starts with one of the client's prefixes
///   (the empty prefix when none was given) invalidates it.
/// - *NOLOOP*: a client is not told about changes it made itself (writes only; a key that expired or was evicted
///   during its command is still reported).
/// - *OPTIN / OPTOUT*: decided per read by the connection (``TrackingTable/remembersRead(_:cachingGiven:)``), so
///   they do not reach the table beyond being reported.
///
/// ## Bound
/// The number of remembered keys is bounded by `tracking-table-max-keys` (0: no bound). Where Redis trims an
/// oversized table from its cron, Roost makes room when a read would pass the bound: it evicts keys chosen at
/// random (as Redis does) and invalidates them for every client that remembered them, so no client is left caching
/// a key nobody will report; lowering the bound evicts at once.
///
/// Entries of clients that stopped tracking or disconnected stay until their key changes or is evicted, as in
/// Redis; they are skipped when invalidations are sent.
struct TrackingTable: Sendable {
    /// How a client tracks (`CLIENT TRACKING on` options).
    struct Options: Sendable, Hashable {
        /// The client id invalidations are sent to instead of this connection (0: none).
        var redirect: UInt64 = 0
        var broadcast = false
        var optIn = false
        var optOut = false
        var noLoop = false
    }

    /// A tracking client.
    struct Client: Sendable, Hashable {
        var options: Options
        /// BCAST prefixes, sorted.
        var prefixes: [[UInt8]] = []
        /// An invalidation could not be delivered because the redirect target was gone.
        var brokenRedirect = false
    }

    /// What a client is told.
    enum Invalidation: Sendable, Hashable {
        /// These keys changed.
        case keys([[UInt8]])
        /// Every key changed (`FLUSHALL`): Redis's null invalidation.
        case all
    }

    /// Send `invalidation` to tracking client `client` (through its redirect target when `redirect` is not 0).
    struct Directive: Sendable, Hashable {
        var client: UInt64
        var redirect: UInt64
        var invalidation: Invalidation
    }

    /// `tracking-table-max-keys` (0: no bound).
    private(set) var maxKeys: Int
    /// Clients with tracking on, by id.
    private(set) var clients: [UInt64: Client] = [:]
    /// Remembered keys: position in ``entries`` by key.
    private var index: [[UInt8]: Int] = [:]
    /// Remembered keys and the clients that read them (dense, so a random victim costs O(1)).
    private var entries: [(key: [UInt8], clients: [UInt64])] = []
    /// Key–client pairs remembered (`INFO` `tracking_total_items`).
    private(set) var totalItems = 0
    /// BCAST prefixes and the clients registered for each.
    private var prefixTable: [[UInt8]: Set<UInt64>] = [:]
    /// xorshift64* state for choosing victims.
    private var randomState: UInt64

    /// Creates an empty table bounded to `maxKeys` keys (0: no bound); `seed` picks the eviction order.
    init(maxKeys: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        self.maxKeys = maxKeys
        self.randomState = seed == 0 ? 1 : seed
    }

    /// Keys remembered (`INFO` `tracking_total_keys`).
    var keyCount: Int { entries.count }
    /// BCAST prefixes registered by any client (`INFO` `tracking_total_prefixes`).
    var prefixCount: Int { prefixTable.count }
    /// Nothing to track and nothing to invalidate: the keyspace need not report changes.
    var isIdle: Bool { clients.isEmpty && entries.isEmpty }

    /// The client ids that remembered `key`, for tests.
    func readers(of key: [UInt8]) -> [UInt64] {
        index[key].map { entries[$0].clients } ?? []
    }

    // MARK: Clients

    /// Whether a read by a client in `options` mode is remembered: always in default mode; with OPTIN only after
    /// `CLIENT CACHING yes`, with OPTOUT unless after `CLIENT CACHING no` (`cachingGiven`: the connection's last
    /// command was that `CLIENT CACHING`). BCAST clients remember nothing.
    static func remembersRead(_ options: Options, cachingGiven: Bool) -> Bool {
        if options.broadcast { return false }
        if options.optIn { return cachingGiven }
        if options.optOut { return !cachingGiven }
        return true
    }

    /// Checks `CLIENT TRACKING on` for client `id` with `options` and new BCAST `prefixes`, with Redis's errors in
    /// Redis's order.
    func validateEnable(_ id: UInt64, options: Options, prefixes: [[UInt8]]) throws(CommandError) {
        if !options.broadcast && !prefixes.isEmpty {
            throw CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        }
        let current = clients[id]
        if let current, current.options.broadcast != options.broadcast {
            throw CommandError(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
                    + "re-enabling it with a different mode.")
        }
        if options.broadcast && (options.optIn || options.optOut) {
            throw CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        }
        if options.optIn && options.optOut {
            throw CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        }
        if let current,
            (options.optIn && current.options.optOut) || (options.optOut && current.options.optIn)
        {
            throw CommandError(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then "
                    + "re-enabling it with a different mode.")
        }
        guard options.broadcast else { return }
        let existing = current?.prefixes ?? []
        for (position, prefix) in prefixes.enumerated() {
            if let collision = existing.first(where: { Self.overlap($0, prefix) }) {
                throw CommandError(
                    "ERR Prefix '\(Self.text(prefix))' overlaps with an existing prefix '\(Self.text(collision))'. "
                        + "Prefixes for a single client must not overlap.")
            }
            for other in prefixes[(position + 1)...] where Self.overlap(prefix, other) {
                throw CommandError(
                    "ERR Prefix '\(Self.text(prefix))' overlaps with another provided prefix '\(Self.text(other))'. "
                        + "Prefixes for a single client must not overlap.")
            }
        }
    }

    /// `CLIENT TRACKING on` (after ``validateEnable(_:options:prefixes:)``): the options replace the previous ones,
    /// BCAST prefixes add to the client's (the empty prefix when none are given), the broken-redirect mark clears.
    mutating func enable(_ id: UInt64, options: Options, prefixes: [[UInt8]]) {
        var client = clients[id] ?? Client(options: options)
        client.options = options
        client.brokenRedirect = false
        if options.broadcast {
            for prefix in prefixes.isEmpty ? [[]] : prefixes where !client.prefixes.contains(prefix) {
                client.prefixes.append(prefix)
                prefixTable[prefix, default: []].insert(id)
            }
            client.prefixes.sort { $0.lexicographicallyPrecedes($1) }
        }
        clients[id] = client
    }

    /// `CLIENT TRACKING off`, `RESET` or a disconnect: the client's prefixes go; its remembered keys stay until
    /// they change (and are then skipped), as in Redis.
    mutating func disable(_ id: UInt64) {
        guard let client = clients.removeValue(forKey: id) else { return }
        for prefix in client.prefixes {
            prefixTable[prefix]?.remove(id)
            if prefixTable[prefix]?.isEmpty == true { prefixTable[prefix] = nil }
        }
    }

    /// Marks that client `id`'s redirect target was gone when an invalidation was due.
    mutating func markBrokenRedirect(_ id: UInt64) {
        clients[id]?.brokenRedirect = true
    }

    // MARK: Events

    /// Client `id` is about to read `keys`: they are remembered for it. Returns the invalidations of keys evicted
    /// to stay within ``maxKeys``.
    mutating func remember(_ keys: [[UInt8]], for id: UInt64) -> [Directive] {
        var directives: [Directive] = []
        for key in keys {
            if let position = index[key] {
                if !entries[position].clients.contains(id) {
                    entries[position].clients.append(id)
                    totalItems += 1
                }
                continue
            }
            if maxKeys > 0 {
                while entries.count >= maxKeys { evictRandomKey(into: &directives) }
            }
            index[key] = entries.count
            entries.append((key, [id]))
            totalItems += 1
        }
        return directives
    }

    /// `key` changed (`cause` as the keyspace reports it; `writer` is the client whose command wrote it, 0 for
    /// none): its readers and the BCAST clients of a matching prefix are invalidated, except a NOLOOP writer, and
    /// the key is forgotten.
    mutating func keyChanged(
        _ key: UnsafeRawBufferPointer, cause: KeyChangeCause = .write, writer: UInt64 = 0
    ) -> [Directive] {
        guard !entries.isEmpty || !prefixTable.isEmpty else { return [] }
        let author = cause == .write ? writer : 0
        var directives: [Directive] = []
        var keyBytes: [UInt8]?
        for (prefix, ids) in prefixTable where Self.hasPrefix(key, prefix) {
            let bytes = keyBytes ?? Array(key)
            keyBytes = bytes
            for id in ids {
                guard let client = clients[id], client.options.broadcast else { continue }
                if client.options.noLoop && id == author { continue }
                directives.append(
                    Directive(client: id, redirect: client.options.redirect, invalidation: .keys([bytes])))
            }
        }
        guard !entries.isEmpty else { return directives }
        let bytes = keyBytes ?? Array(key)
        guard let position = index[bytes] else { return directives }
        for id in removeEntry(at: position) {
            guard let client = clients[id], !client.options.broadcast else { continue }
            if client.options.noLoop && id == author { continue }
            directives.append(Directive(client: id, redirect: client.options.redirect, invalidation: .keys([bytes])))
        }
        return directives
    }

    /// Every key was removed (`FLUSHALL`, `FLUSHDB`, a replica's full sync): every tracking client, NOLOOP or not,
    /// gets the null invalidation, and the table is emptied.
    mutating func flushed() -> [Directive] {
        forgetKeys()
        return clients.keys.sorted().map { id in
            Directive(client: id, redirect: clients[id]!.options.redirect, invalidation: .all)
        }
    }

    /// Forgets every remembered key without telling anyone (when no client tracks any more).
    mutating func forgetKeys() {
        entries.removeAll()
        index.removeAll()
        totalItems = 0
    }

    /// Sets the bound and evicts (invalidating) until the table is within it.
    mutating func setMaxKeys(_ maxKeys: Int) -> [Directive] {
        self.maxKeys = maxKeys
        var directives: [Directive] = []
        if maxKeys > 0 {
            while entries.count > maxKeys { evictRandomKey(into: &directives) }
        }
        return directives
    }

    // MARK: Internals

    private mutating func evictRandomKey(into directives: inout [Directive]) {
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        let position = Int((randomState &* 0x2545_F491_4F6C_DD1D) % UInt64(entries.count))
        let key = entries[position].key
        for id in removeEntry(at: position) {
            guard let client = clients[id], !client.options.broadcast else { continue }
            directives.append(Directive(client: id, redirect: client.options.redirect, invalidation: .keys([key])))
        }
    }

    /// Removes the entry at `position` (the last entry takes its place) and returns its clients.
    private mutating func removeEntry(at position: Int) -> [UInt64] {
        let removed = entries[position]
        let last = entries.count - 1
        if position != last {
            entries[position] = entries[last]
            index[entries[position].key] = position
        }
        entries.removeLast()
        index[removed.key] = nil
        totalItems -= removed.clients.count
        return removed.clients
    }

    /// Redis's prefix overlap: one is a prefix of the other (equal prefixes overlap).
    static func overlap(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let length = min(a.count, b.count)
        return a[..<length] == b[..<length]
    }

    static func hasPrefix(_ key: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard key.count >= prefix.count else { return false }
        for position in prefix.indices where key[position] != prefix[position] { return false }
        return true
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
