/// The events a hash table reports to an eviction policy, and the one question it asks back.
///
/// ## Model
/// The table owns the keys; a policy only sees **slots**: stable `Int32` indices into the table's entry arena. Each
/// policy keeps its own per-slot metadata in dense arrays indexed by slot (queue links, visited bits, frequency
/// counters), so no policy state lives in the table's entries and nothing on the hot path goes through an existential.
///
/// The table reports:
/// - ``inserted(_:hash:size:)`` when a key is created (with the key's 64-bit hash: ghost queues and frequency sketches
///   remember keys that are no longer stored, so they key on the hash);
/// - ``accessed(_:)`` on every hit (read or overwrite);
/// - ``resized(_:to:)`` when a value's size changes in place;
/// - ``removed(_:)`` whenever a key leaves the table: deleted, expired, or evicted after ``victim()`` chose it;
/// - ``moved(from:to:)`` when the table compacts its arena and a live entry changes slot;
/// - ``expiryChanged(_:at:)`` when a key gains or loses a time to live (only the `volatile-*` policies care).
///
/// ## Eviction protocol
/// Sizes are bytes; ``capacity`` is the byte budget. The table evicts until it is under budget:
///
/// ```swift
/// while usedBytes + incomingBytes > budget, let slot = policy.victim() {
///     table.delete(slot)          // which calls policy.removed(slot)
/// }
/// ```
///
/// ``victim()`` does not forget the slot it returns: the caller removes it and reports ``removed(_:)``. Until then,
/// calling ``victim()`` again returns the same slot. `nil` means there is nothing the policy may evict (an empty
/// cache, `noeviction`, or a `volatile-*` policy with no key carrying a TTL): Redis answers `-OOM` then.
///
/// Policies that need time (Redis's sampled LRU/LFU) take it from ``advanceClock(to:)``; policies that need
/// randomness take a seeded generator at creation, so tests are deterministic and need no sleeps.
public protocol EvictionPolicy: Sendable {
    /// The byte budget the policy sizes its internal queues against (S3-FIFO's small queue, W-TinyLFU's window).
    var capacity: Int { get set }
    /// Number of slots tracked.
    var count: Int { get }
    /// Sum of the sizes of the slots tracked.
    var bytes: Int { get }

    /// A new key now lives in `slot`; `hash` is the key's 64-bit hash, `size` its size in bytes.
    mutating func inserted(_ slot: Int32, hash: UInt64, size: Int)
    /// The key in `slot` was read or overwritten.
    mutating func accessed(_ slot: Int32)
    /// The key in `slot` now takes `size` bytes.
    mutating func resized(_ slot: Int32, to size: Int)
    /// The key in `slot` left the table (deleted, expired, or evicted after ``victim()`` returned it).
    mutating func removed(_ slot: Int32)
    /// The table compacted its arena: the key in `from` now lives in the free slot `to`.
    mutating func moved(from: Int32, to: Int32)
    /// The key in `slot` now expires at `expireAt` (Unix milliseconds), or no longer expires (`nil`).
    mutating func expiryChanged(_ slot: Int32, at expireAt: Int64?)
    /// The policy's clock, in milliseconds (only Redis's sampled policies read it).
    mutating func advanceClock(to now: Int64)
    /// The slot to evict next, or `nil` if nothing may be evicted. See the type's documentation for the protocol.
    mutating func victim() -> Int32?
}

extension EvictionPolicy {
    /// Policies that ignore expiry times.
    public mutating func expiryChanged(_ slot: Int32, at expireAt: Int64?) {}
    /// Policies that ignore time.
    public mutating func advanceClock(to now: Int64) {}
}

/// The sentinel for "no slot" in the policies' intrusive links.
let noSlot: Int32 = -1
