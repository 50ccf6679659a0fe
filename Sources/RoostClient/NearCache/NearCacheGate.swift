/// Decides whether a value read from the server may be stored in the near cache: the guard against the race
/// between sending a read and storing its reply.
///
/// ## The race
/// A near-cache miss is read over a tracking connection. The server's reply and the invalidations caused by later
/// writes arrive on that connection in order, and the connection's event loop applies each invalidation as soon as
/// it is parsed. But the reply only *resumes* the reading task, which stores the value later, on another thread.
/// In between, the invalidation that followed the reply may already have been applied (to a key that was not
/// stored yet, so it removed nothing), and storing the reply then would keep a stale value with no invalidation
/// left to remove it. The client's own writes, sent on other connections, race with reads in the same way.
///
/// ## The rule
/// Every read takes a ``Ticket`` before its command is written: the current ``generation`` and invalidation
/// ``sequence``. Every invalidation (a key named in an `invalidate` push, or a write by this client) advances
/// ``sequence`` and, if reads of that key are in flight, records the new sequence number against the key. A flush
/// (a null invalidation after `FLUSHALL`, a tracking connection lost, a changed cluster topology) advances
/// ``generation``. When the reply comes, its value may be stored only if the generation is unchanged and the key
/// was not invalidated after the ticket was taken.
///
/// Why that suffices: if the server ran the read before a write to the key, the server still tracked the key for
/// this connection when the write ran, so it sent an invalidation after the reply, on the same connection. That
/// invalidation is either applied after the store (and removes the stored value) or before it (and the check
/// refuses the store, because the ticket was taken before the command was written, so before the invalidation
/// arrived). If the read ran after the write, its value is current. The connection being lost in between is the
/// generation check.
///
/// State is kept only for keys with reads in flight, so memory does not grow with the number of keys ever seen.
/// A pure value: the shell (``TrackedNearCache``) holds it under the same lock as the cache it guards, so that a
/// check and the store it allows are one atomic step with respect to invalidations.
struct NearCacheGate: Sendable {
    /// What a read remembers from the moment its command was about to be written.
    struct Ticket: Sendable, Hashable {
        /// ``NearCacheGate/generation`` then.
        var generation: UInt64
        /// ``NearCacheGate/sequence`` then.
        var sequence: UInt64
    }

    /// Reads of one key in flight, and the sequence number of the key's latest invalidation among them.
    private struct Pending {
        var readers: Int
        var invalidatedAt: UInt64
    }

    /// Advanced by every flush; a ticket from an older generation is refused.
    private(set) var generation: UInt64 = 0
    /// Advanced by every invalidation (and flush).
    private(set) var sequence: UInt64 = 0
    private var pending: [String: Pending] = [:]

    /// Keys with reads in flight (for tests: it returns to zero when every read has finished).
    var keysInFlight: Int { pending.count }

    /// A read of `keys` is about to be written: registers it and returns its ticket. Every key must later be
    /// passed to ``onReadFinished(key:ticket:)`` (or the whole read to ``onReadAbandoned(keys:ticket:)``) exactly
    /// as many times as it appears here.
    mutating func onReadStarted(keys: some Sequence<String>) -> Ticket {
        for key in keys {
            pending[key, default: Pending(readers: 0, invalidatedAt: 0)].readers += 1
        }
        return Ticket(generation: generation, sequence: sequence)
    }

    /// The reply for one key of a read arrived: returns whether its value may be stored, and forgets the read.
    mutating func onReadFinished(key: String, ticket: Ticket) -> Bool {
        guard let entry = pending[key] else {
            preconditionFailure("NearCacheGate: read of a key with no read in flight (ticket \(ticket))")
        }
        let allowed = ticket.generation == generation && entry.invalidatedAt <= ticket.sequence
        if entry.readers == 1 {
            pending[key] = nil
        } else {
            pending[key]!.readers -= 1
        }
        return allowed
    }

    /// The read failed or its value is not to be stored: forgets it.
    mutating func onReadAbandoned(keys: some Sequence<String>, ticket: Ticket) {
        for key in keys { _ = onReadFinished(key: key, ticket: ticket) }
    }

    /// `key` was invalidated (by the server, or by a write of this client).
    mutating func onInvalidated(key: String) {
        sequence &+= 1
        if pending[key] != nil { pending[key]!.invalidatedAt = sequence }
    }

    /// Everything was invalidated: no read in flight may store its reply.
    mutating func onFlushed() {
        generation &+= 1
        sequence &+= 1
    }
}
