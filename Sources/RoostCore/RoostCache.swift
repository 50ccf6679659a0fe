import Synchronization

/// An in-process, thread-safe byte cache: Roost's storage engine (``Keyspace``) behind a lock, with times to live, a
/// byte budget and the server's eviction policies.
///
/// ```swift
/// import RoostCore
///
/// let cache = RoostCache(maximumBytes: 64 << 20, policy: .s3fifo)
/// cache.set("session:42", "alice", ttl: .seconds(30))
/// if let user = cache.getString("session:42") { print(user) }  // "alice" for the next 30 seconds
///
/// let avatar: [UInt8] = cache.getOrInsert("avatar:42", ttl: .seconds(300)) { loadAvatar(42) }
/// ```
///
/// ## Keys and values
/// Keys and values are bytes: anything that is a `Collection<UInt8>` (`[UInt8]`, `ArraySlice<UInt8>`,
/// `String.UTF8View`, `UnsafeRawBufferPointer`, Foundation's `Data`), with `String` overloads for convenience.
/// `get(_:)` copies the value out; ``withValue(_:_:)`` reads it in place.
///
/// ## Memory
/// ``maximumBytes`` bounds ``memoryUsage``, the same figure the server reports as `used_memory`: every entry's
/// malloc block as the allocator sized it (key, value, a small header, the expiry) plus the table's slot arena and
/// bucket array. After every write the cache evicts, as ``policy`` chooses, until it is back within the budget, so
/// ``memoryUsage`` never exceeds ``maximumBytes`` between calls (for the policies that may evict; see `set(_:_:ttl:)`).
///
/// ## Expiry
/// A time to live is counted in milliseconds on the cache's clock (injected at ``init(maximumBytes:policy:clock:)``;
/// the wall clock by default). An expired entry is never returned. The cache starts no threads or tasks: expired
/// entries are reclaimed lazily, when a call touches their key, and when eviction reaches them (then they count as
/// expired, not evicted). To reclaim the memory of entries that are never touched again, call
/// ``purgeExpired(budget:)`` periodically, from whatever scheduling the program already has.
///
/// ## Concurrency
/// Every call is one critical section on a `Mutex`, so each is atomic with respect to the others. Closures the cache
/// calls while holding the lock (the body of ``withValue(_:_:)`` and the clock) must be short and must not call back
/// into the same cache. `getOrInsert(_:ttl:_:)` runs its loader outside the lock.
public final class RoostCache: Sendable {
    /// The byte budget for ``memoryUsage``.
    public let maximumBytes: Int
    /// The eviction policy.
    public let policy: Policy

    private let keyspace: Mutex<Keyspace>
    private let clock: @Sendable () -> Int64
    /// ``memoryUsage`` of the empty cache: an entry that needs more than `maximumBytes - baselineBytes` can never
    /// be stored, so it is refused without evicting anything.
    private let baselineBytes: Int

    /// Creates an empty cache.
    ///
    /// - Parameters:
    ///   - maximumBytes: the byte budget for ``memoryUsage``; must be positive. An empty cache already holds about
    ///     1 KiB of table, so budgets below a few KiB store little or nothing.
    ///   - policy: what to evict when the budget is reached (``Policy/default``, S3-FIFO, unless given).
    ///   - clock: the current time in Unix milliseconds; called once per operation, with the lock held. Tests inject
    ///     a controllable clock to exercise expiry without sleeping.
    public init(
        maximumBytes: Int,
        policy: Policy = .default,
        clock: @escaping @Sendable () -> Int64 = RoostCache.wallClockMilliseconds
    ) {
        precondition(maximumBytes > 0, "RoostCache: maximumBytes must be positive, got \(maximumBytes)")
        self.maximumBytes = maximumBytes
        self.policy = policy
        self.clock = clock
        var keyspace = Keyspace()
        keyspace.configureEviction(policy.kind, maxMemory: maximumBytes, now: clock())
        baselineBytes = keyspace.estimatedMemory
        self.keyspace = Mutex(keyspace)
    }

    // MARK: Reading

    /// The value stored under `key`, or nil when there is none or it has expired. Counts a hit or a miss and tells
    /// the policy about the access.
    public func get(_ key: some Collection<UInt8>) -> [UInt8]? {
        withValue(key) { Array($0) }
    }

    /// The value stored under the UTF-8 bytes of `key`, or nil. See `get(_:)`.
    public func get(_ key: String) -> [UInt8]? {
        get(key.utf8)
    }

    /// The value stored under `key` decoded as UTF-8 (invalid sequences become U+FFFD), or nil.
    public func getString(_ key: some Collection<UInt8>) -> String? {
        withValue(key) { String(decoding: $0, as: UTF8.self) }
    }

    /// The value stored under the UTF-8 bytes of `key` decoded as UTF-8, or nil.
    public func getString(_ key: String) -> String? {
        getString(key.utf8)
    }

    /// Calls `body` with the stored bytes of `key`, in place and without copying, and returns its result; nil when
    /// the key is absent or expired. Counts a hit or a miss like `get(_:)`.
    ///
    /// `body` runs with the cache locked: the buffer is valid only inside it, and it must not call this cache.
    ///
    /// ```swift
    /// let length = cache.withValue(key) { $0.count }
    /// ```
    public func withValue<Result, Failure: Error>(
        _ key: some Collection<UInt8>,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        // The result leaves the lock through a local rather than as `withLock`'s `sending` result, which a
        // non-`Sendable` `Result` cannot be.
        var outcome: Swift.Result<Result, Failure>? = nil
        withBytes(of: key) { key in
            keyspace.withLock { keyspace in
                let now = clock()
                outcome = keyspace.withString(key, now: now, touch: true) { value in
                    Swift.Result { () throws(Failure) -> Result in try body(value) }
                }
            }
        }
        return try outcome?.get()
    }

    /// Whether a live (unexpired) value is stored under `key`. Neither counts a hit or miss nor counts as an access
    /// for the policy.
    public func contains(_ key: some Collection<UInt8>) -> Bool {
        withBytes(of: key) { key in
            keyspace.withLock { keyspace in
                let now = clock()
                return keyspace.withString(key, now: now, touch: false) { _ in () } != nil
            }
        }
    }

    /// Whether a live value is stored under the UTF-8 bytes of `key`.
    public func contains(_ key: String) -> Bool {
        contains(key.utf8)
    }

    // MARK: Writing

    /// Stores `value` under `key`, replacing any previous value and time to live, then evicts until the cache is
    /// within ``maximumBytes``.
    ///
    /// - Parameters:
    ///   - ttl: how long the value lives, rounded up to whole milliseconds; nil (the default) for no expiry. A zero or
    ///     negative time to live stores nothing and removes any previous value, as an already expired entry would.
    /// - Returns: whether the value is stored when the call returns. It is not when it can never fit the budget (it
    ///   is then refused without evicting anything), when the policy chose the new entry itself as the victim, or when
    ///   the policy may not evict (``Policy/noEviction``, or a `volatile` policy with no other entry carrying a time to
    ///   live) and the entry does not fit. In every such case the key is left absent: a cache never keeps a stale
    ///   value in place of a refused new one.
    @discardableResult
    public func set(_ key: some Collection<UInt8>, _ value: some Collection<UInt8>, ttl: Duration? = nil) -> Bool {
        withBytes(of: key) { key in
            withBytes(of: value) { value in
                keyspace.withLock { keyspace in
                    store(key: key, value: value, ttl: ttl, in: &keyspace, now: clock())
                }
            }
        }
    }

    /// Stores the UTF-8 bytes of `value` under the UTF-8 bytes of `key`. See
    /// `set(_:_:ttl:)`.
    @discardableResult
    public func set(_ key: String, _ value: String, ttl: Duration? = nil) -> Bool {
        set(key.utf8, value.utf8, ttl: ttl)
    }

    /// Stores `value` under the UTF-8 bytes of `key`. See `set(_:_:ttl:)`.
    @discardableResult
    public func set(_ key: String, _ value: some Collection<UInt8>, ttl: Duration? = nil) -> Bool {
        set(key.utf8, value, ttl: ttl)
    }

    /// The value stored under `key`; on a miss, the value `loader` makes, which is stored with `ttl` and returned.
    ///
    /// `loader` runs without the lock held, so other calls proceed meanwhile; two callers missing the same key at
    /// the same time may both load it. The first value stored wins: if another caller stored `key` while `loader`
    /// ran, that value is returned and the loaded one dropped. A value that cannot be stored (see
    /// `set(_:_:ttl:)`) is still returned. Counts one hit or one miss.
    public func getOrInsert<Failure: Error>(
        _ key: some Collection<UInt8>,
        ttl: Duration? = nil,
        _ loader: () throws(Failure) -> [UInt8]
    ) throws(Failure) -> [UInt8] {
        let key = Array(key)
        if let cached = get(key) { return cached }
        let loaded = try loader()
        return key.withUnsafeBytes { key in
            loaded.withUnsafeBytes { value in
                keyspace.withLock { keyspace -> [UInt8] in
                    let now = clock()
                    if let raced = keyspace.withString(key, now: now, touch: false, { Array($0) }) { return raced }
                    store(key: key, value: value, ttl: ttl, in: &keyspace, now: now)
                    return loaded
                }
            }
        }
    }

    /// `getOrInsert(_:ttl:_:)` with the UTF-8 bytes of `key`.
    public func getOrInsert<Failure: Error>(
        _ key: String,
        ttl: Duration? = nil,
        _ loader: () throws(Failure) -> [UInt8]
    ) throws(Failure) -> [UInt8] {
        try getOrInsert(key.utf8, ttl: ttl, loader)
    }

    /// Removes the value stored under `key`; returns whether a live value was removed.
    @discardableResult
    public func remove(_ key: some Collection<UInt8>) -> Bool {
        withBytes(of: key) { key in
            keyspace.withLock { keyspace in keyspace.remove(key, now: clock()) }
        }
    }

    /// Removes the value stored under the UTF-8 bytes of `key`; returns whether a live value was removed.
    @discardableResult
    public func remove(_ key: String) -> Bool {
        remove(key.utf8)
    }

    /// Removes every entry. ``statistics`` are kept.
    public func removeAll() {
        keyspace.withLock { $0.removeAll() }
    }

    /// Reclaims expired entries, examining up to `budget` buckets of the table from where the previous call
    /// stopped (a table has about as many buckets as entries, rounded up to a power of two), or all of them when
    /// `budget` is nil. Returns how many entries it removed.
    ///
    /// The cache never does this by itself. Expired entries are otherwise reclaimed lazily, when a call touches their
    /// key, or when eviction chooses them; call this periodically (for example every 100 ms with a budget of a few
    /// thousand) if many entries expire without being read again and their memory should come back sooner. Each call
    /// holds the lock while it works, so a bounded budget bounds the pause other callers see.
    @discardableResult
    public func purgeExpired(budget: Int? = nil) -> Int {
        keyspace.withLock { keyspace in
            let now = clock()
            guard let budget else {
                // One call runs from the saved cursor to the end of the table; a second, from the start, covers the
                // part before the cursor.
                var removed = 0
                for _ in 0..<2 {
                    removed += keyspace.expireStep(now: now, bucketBudget: keyspace.bucketCount).expired
                }
                return removed
            }
            return keyspace.expireStep(now: now, bucketBudget: max(budget, 1)).expired
        }
    }

    // MARK: Measuring

    /// Number of entries stored, including expired entries not yet reclaimed (see ``purgeExpired(budget:)``).
    public var count: Int {
        keyspace.withLock { $0.count }
    }

    /// The bytes the cache holds for its data (entries as the allocator sized them, plus the table), which eviction
    /// keeps within ``maximumBytes``.
    public var memoryUsage: Int {
        keyspace.withLock { $0.estimatedMemory }
    }

    /// Hits, misses, expirations and evictions since the cache was created or ``resetStatistics()`` was called.
    public var statistics: Statistics {
        keyspace.withLock { Statistics($0.statistics) }
    }

    /// Sets every counter in ``statistics`` to zero.
    public func resetStatistics() {
        keyspace.withLock { $0.statistics = Keyspace.Statistics() }
    }

    // MARK: Internals

    /// Stores one entry and enforces the budget (see `set(_:_:ttl:)`).
    @discardableResult
    private func store(
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        ttl: Duration?,
        in keyspace: inout Keyspace,
        now: Int64
    ) -> Bool {
        var expireAt = Entry.noExpiry
        if let ttl {
            guard ttl > .zero else {
                keyspace.remove(key, now: now)
                return false
            }
            expireAt = RoostCache.expiry(now: now, adding: ttl)
        }
        let needed =
            EntryRecord.size(keyCount: key.count, valueCount: value.count, hasExpiry: expireAt != Entry.noExpiry)
            + SystemAllocator.blockOverhead
        guard needed <= maximumBytes - baselineBytes else {
            keyspace.remove(key, now: now)
            return false
        }
        keyspace.setString(key, value, expireAt: expireAt, now: now)
        guard keyspace.enforceMemoryLimit(now: now) else {
            // Nothing may be evicted and the new entry does not fit: take it back out.
            keyspace.remove(key, now: now)
            return false
        }
        return keyspace.slotIndex(of: key) != nil
    }

    /// The absolute expiry for a positive `ttl` from `now`, rounded up to whole milliseconds and clamped to the
    /// representable range (never ``Entry/noExpiry``).
    static func expiry(now: Int64, adding ttl: Duration) -> Int64 {
        let (seconds, attoseconds) = ttl.components
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        let (wholeMilliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Int64.max }
        let (milliseconds, roundingOverflow) = wholeMilliseconds.addingReportingOverflow(
            (attoseconds + attosecondsPerMillisecond - 1) / attosecondsPerMillisecond)
        if roundingOverflow { return Int64.max }
        let (expireAt, sumOverflow) = now.addingReportingOverflow(milliseconds)
        if sumOverflow { return Int64.max }
        return expireAt == Entry.noExpiry ? 1 : expireAt
    }

    /// Calls `body` with the bytes of `collection`, in place when the collection is contiguous.
    private func withBytes<Result>(
        of collection: some Collection<UInt8>,
        _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        if let result = collection.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(collection).withUnsafeBytes(body)
    }
}
