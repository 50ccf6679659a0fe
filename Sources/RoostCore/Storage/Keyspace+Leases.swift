/// memcached's leases (its meta protocol's `N`, `R` and `I` flags), the rules both the memcached port's `mg` and the
/// Redis port's `LEASE.*` commands follow, so that one client recomputes a missing or expiring value while the
/// others wait or serve the old one (no stampede on the backend):
///
/// - A lease read of a **missing** key creates an empty placeholder item living for the lease time; the reader
///   that created it wins the lease (memcached's `W`). Later readers find the placeholder with the win token
///   already handed out (`Z`): nothing to serve yet, they wait.
/// - A **stale** item (invalidated with `md key I`, `LEASE.INVALIDATE`) is still served; the first reader after
///   the invalidation wins (`X W`), the others get the stale value (`X Z`).
/// - A **recache** threshold hands the lease to the first reader that sees less than that much time to live, while
///   every reader keeps getting the value.
/// - Storing a value (`ms`, `LEASE.SET`, any write) replaces the item with fresh metadata: the marks are gone.
///
/// The win token is one bit per item: a lease is never handed out twice until the item is stored again,
/// invalidated again, or expires (a placeholder lives only for the lease time, so a winner that never stores lets
/// a new winner in when it expires).
public enum ItemLease {
    /// What a lease read tells its caller to do, as the `LEASE.GET` reply names it.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// A current value: use it.
        case hit
        /// A current value inside its recache window, and this caller holds the lease: use it, recompute it and
        /// store the new one.
        case recacheWin = "recache-win"
        /// A stale value whose recompute another caller holds: use it (or wait for the new one).
        case stale
        /// A stale value, and this caller holds the lease: recompute and store the new one.
        case staleWin = "stale-win"
        /// No value, and this caller holds the lease: compute and store it.
        case win
        /// No value yet: another caller holds the lease; retry shortly.
        case wait

        /// Whether the caller holds the lease and should store a recomputed value.
        public var holdsLease: Bool {
            switch self {
            case .recacheWin, .staleWin, .win: true
            case .hit, .stale, .wait: false
            }
        }

        /// Whether a value comes with the status (all but ``win`` and ``wait``).
        public var hasValue: Bool { self != .win && self != .wait }
    }

    /// Whether a read of an item with `metadata` wins the lease: it created the item (a placeholder), or nobody
    /// holds the lease yet and the item is stale or inside the reader's recache window (`recacheDue`).
    public static func wins(_ metadata: ItemMetadata, created: Bool, recacheDue: Bool) -> Bool {
        if created { return true }
        return !metadata.winTokenSent && (metadata.isStale || recacheDue)
    }

    /// Whether an item expiring at `expireAt` (absolute, ``Entry/noExpiry`` for never) expires before
    /// `threshold`, the end of the reader's recache window: an item without expiry never needs recaching.
    public static func isRecacheDue(expireAt: Int64, threshold: Int64) -> Bool {
        expireAt != Entry.noExpiry && expireAt < threshold
    }

    /// The status of a read of an item with `metadata` (as it was before the read) that did or did not win.
    public static func status(_ metadata: ItemMetadata, won: Bool) -> Status {
        if metadata.isPlaceholder { return won ? .win : .wait }
        if metadata.isStale { return won ? .staleWin : .stale }
        return won ? .recacheWin : .hit
    }
}

extension Keyspace {
    /// A lease read of `key` (see ``ItemLease``) in one step: reads the item (with `touch`, as a read command, see
    /// ``withItem(_:now:touch:_:)``); when it is missing and `vivifyExpireAt` is given (and not already past),
    /// creates the empty placeholder expiring then and reads that, with `created` set. `body` sees the item and
    /// returns its result, the expiry the item should have from now on, and whether the reader won the lease; the
    /// win token is then recorded on the item, and an expiry in the past removes it. Returns nil when there is no
    /// item.
    public mutating func leaseRead<Result>(
        _ key: UnsafeRawBufferPointer,
        now: Int64,
        touch: Bool,
        vivifyExpireAt: Int64?,
        _ body: (
            _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ metadata: ItemMetadata, _ created: Bool
        ) -> (result: Result, expireAt: Int64, won: Bool)
    ) -> Result? {
        var read = withItem(key, now: now, touch: touch) { value, expireAt, metadata in
            (body(value, expireAt, metadata, false), expireAt)
        }
        if read == nil, let vivifyExpireAt, vivifyExpireAt == Entry.noExpiry || vivifyExpireAt > now,
            !holdsAggregate(key, now: now)
        {
            storeItem(
                key, value: UnsafeRawBufferPointer(start: nil, count: 0), expireAt: vivifyExpireAt, clientFlags: 0,
                now: now, isPlaceholder: true)
            read = withItem(key, now: now, touch: false) { value, expireAt, metadata in
                (body(value, expireAt, metadata, true), expireAt)
            }
        }
        guard let (outcome, originalExpiry) = read else { return nil }
        if outcome.expireAt != Entry.noExpiry && outcome.expireAt <= now {
            remove(key, now: now)
        } else if outcome.expireAt != originalExpiry || outcome.won {
            updateItem(key, now: now) { expireAt, metadata in
                expireAt = outcome.expireAt
                if outcome.won { metadata.winTokenSent = true }
            }
        }
        return outcome.result
    }

    /// Marks the item at `key` stale (``ItemLease``; memcached's `md key I`) with a fresh CAS and the win token
    /// available again, and, when `expireAt` is given, that expiry (one in the past removes the item). Returns
    /// false when there is no item, or when `compareCAS` is given and differs from the item's CAS.
    @discardableResult
    public mutating func invalidateItem(
        _ key: UnsafeRawBufferPointer, now: Int64, expireAt newExpiry: Int64?, compareCAS: UInt64? = nil
    ) -> InvalidateOutcome {
        guard let cas = withItem(key, now: now, touch: false, { _, _, metadata in metadata.cas }) else {
            return .notFound
        }
        if let compareCAS, compareCAS != cas { return .casMismatch }
        let fresh = nextCAS()
        updateItem(key, now: now) { expireAt, metadata in
            if let newExpiry { expireAt = newExpiry }
            metadata.isStale = true
            metadata.winTokenSent = false
            metadata.cas = fresh
        }
        if let newExpiry, newExpiry != Entry.noExpiry, newExpiry <= now {
            remove(key, now: now)
        }
        return .invalidated
    }

    /// The outcome of ``invalidateItem(_:now:expireAt:compareCAS:)``.
    public enum InvalidateOutcome: Sendable, Hashable {
        /// The item is stale now (or removed, when the new expiry had already passed).
        case invalidated
        /// There is no live item at the key.
        case notFound
        /// The item's CAS is not the one the caller expected: nothing changed.
        case casMismatch
    }
}
