import NIOCore

/// Defers the flush of replies to the end of the event loop's current turn, as Redis writes replies in
/// `beforeSleep`: the loop first reads and executes the requests of every connection that was ready, then writes
/// all the replies.
///
/// Why (measured, docs/PERFORMANCE.md): a write wakes the client waiting on that socket. Flushing each connection
/// as soon as its requests are executed wakes a load generator (or an application's I/O thread) once per
/// connection, and on a VM each wake-up is an inter-processor interrupt; writing them together lets a client that
/// is already awake find several replies at once. It also keeps the server from interleaving `write` with the
/// reads of the same turn.
///
/// One coalescer per event loop; it is only ever used on that loop (hence `@unchecked Sendable`, so that the
/// server's channel initializer may hand it to the connection's handler).
final class FlushCoalescer: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private var pending: [ConnectionHandler] = []
    /// The previous turn's list, emptied and kept so that swapping the two allocates nothing in steady state.
    private var flushing: [ConnectionHandler] = []
    private var scheduled = false
    /// The same for memcached-protocol connections (a second pair of lists keeps the RESP path's calls direct).
    private var pendingMemcache: [MemcacheConnectionHandler] = []
    private var flushingMemcache: [MemcacheConnectionHandler] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `handler` once the loop has handled the I/O of this turn. NIO runs tasks submitted with `execute`
    /// after the events of the current `epoll_wait` (and then polls without blocking), so this is the end of the
    /// turn.
    func flushAtEndOfTurn(_ handler: ConnectionHandler) {
        eventLoop.assertInEventLoop()
        pending.append(handler)
        if !scheduled {
            scheduled = true
            eventLoop.execute { self.flushPending() }
        }
    }

    /// Flushes a memcached-protocol connection once the loop has handled the I/O of this turn.
    func flushAtEndOfTurn(_ handler: MemcacheConnectionHandler) {
        eventLoop.assertInEventLoop()
        pendingMemcache.append(handler)
        if !scheduled {
            scheduled = true
            eventLoop.execute { self.flushPending() }
        }
    }

    private func flushPending() {
        scheduled = false
        swap(&pending, &flushing)  // a flush that queues another connection appends to the fresh list
        swap(&pendingMemcache, &flushingMemcache)
        for handler in flushing { handler.flushDeferred() }
        for handler in flushingMemcache { handler.flushDeferred() }
        flushing.removeAll(keepingCapacity: flushing.capacity <= 1024)
        flushingMemcache.removeAll(keepingCapacity: flushingMemcache.capacity <= 1024)
    }
}

/// The coalescers of a group's event loops, looked up by loop.
struct FlushCoalescers: Sendable {
    private let byLoop: [ObjectIdentifier: FlushCoalescer]

    init(group: any EventLoopGroup) {
        var byLoop: [ObjectIdentifier: FlushCoalescer] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = FlushCoalescer(eventLoop: loop)
        }
        self.byLoop = byLoop
    }

    /// The coalescer of `loop` (nil for a loop outside the group, whose connections then flush directly).
    func coalescer(for loop: any EventLoop) -> FlushCoalescer? {
        byLoop[ObjectIdentifier(loop)]
    }
}
