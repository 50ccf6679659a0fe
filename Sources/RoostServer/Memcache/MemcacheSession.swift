import NIOCore
import RoostCore

/// One memcached connection's command layer: executes ``MemcacheRequest``s against the server's one keyspace and
/// appends memcached's replies to ``out``. No sockets: the NIO handler feeds it, tests drive it directly.
///
/// Every command runs as one critical section over the keyspace, so it is atomic against RESP commands as well.
/// Writes go through the keyspace's item API, so replication, eviction, expiry and the memory limit apply to them
/// as to any RESP write.
struct MemcacheSession {
    let server: ServerState
    let service: MemcacheService
    /// Replies, flushed by the handler once per read batch.
    var out: ByteBuffer
    /// The wall clock for this batch, Unix milliseconds (``beginBatch()``).
    var now: Int64 = 0
    /// Set by `quit`: close once the replies so far are written.
    var closeAfterReply = false
    /// Set by a delayed `flush_all`: when it is due, for the handler to set a timer.
    var delayedFlushAt: Int64?
    /// The peer is another cluster node forwarding requests (``MemcacheRequest/forwardedConnection``): never forward
    /// them again, so nodes whose slot maps disagree cannot bounce a request between them.
    var carriesForwardedRequests = false
    /// The item size limit and line limits, refreshed by the handler when the configuration changes.
    var limits = MemcacheRequestParser.Limits()

    init(server: ServerState, service: MemcacheService, out: ByteBuffer) {
        self.server = server
        self.service = service
        self.out = out
    }

    /// Reads the clock for the requests of one read batch and runs a delayed `flush_all` that is due.
    mutating func beginBatch() {
        now = server.clock()
        service.flushIfDue(server, now: now)
    }

    /// Executes one request.
    mutating func execute(_ request: MemcacheRequest) {
        switch request {
        case .retrieve(let keys, let returnsCAS, let touch): retrieve(keys, returnsCAS: returnsCAS, touch: touch)
        case .store(let store): self.store(store)
        case .arithmetic(let key, let delta, let increment, let noreply):
            arithmetic(key, delta: delta, increment: increment, noreply: noreply)
        case .touch(let key, let exptime, let noreply): touch(key, exptime: exptime, noreply: noreply)
        case .delete(let key, let noreply): delete(key, noreply: noreply)
        case .flushAll(let delay, let noreply): flushAll(delay: delay, noreply: noreply)
        case .version: line("VERSION " + MemcacheService.version)
        case .verbosity(let noreply): if !noreply { line("OK") }
        case .stats(let group): stats(group)
        case .quit: closeAfterReply = true
        case .forwardedConnection: carriesForwardedRequests = true
        case .metaNoop: line("MN")
        case .metaDebug(let key, let base64): metaDebug(key, base64: base64)
        case .metaGet(let key, let flags): metaGet(key, flags)
        case .metaSet(let key, let flags, let value): metaSet(key, flags, value: value)
        case .metaDelete(let key, let flags): metaDelete(key, flags)
        case .metaArithmetic(let key, let flags): metaArithmetic(key, flags)
        case .failure(let reply, let noreply): if !noreply { line(reply) }
        case .tooLarge(let key, let removesOldValue, let noreply):
            if removesOldValue && !isReadOnly {
                let now = self.now
                key.withUnsafeReadableBytes { key in server.keyspace.withLock { _ = $0.remove(key, now: now) } }
            }
            if !noreply { line("SERVER_ERROR object too large for cache") }
        case .close: closeAfterReply = true
        }
    }

    // MARK: Shared rules

    /// memcached's expiry time: 0 never, negative already expired, up to 30 days relative seconds, beyond that an
    /// absolute Unix time. Returns an absolute time in Unix milliseconds (``Entry/noExpiry`` for none; a time at or
    /// before `now` means expired).
    static func expiry(_ exptime: Int32, now: Int64) -> Int64 {
        if exptime == 0 { return Entry.noExpiry }
        if exptime < 0 { return now - 1 }
        if exptime > 30 * 24 * 3600 { return Int64(exptime) * 1000 }
        return now + Int64(exptime) * 1000
    }

    /// Seconds left until `expireAt` (rounded up, as memcached's whole-second clock shows right after a write); -1
    /// for no expiry.
    static func remainingSeconds(_ expireAt: Int64, now: Int64) -> Int64 {
        expireAt == Entry.noExpiry ? -1 : max(0, (expireAt - now + 999) / 1000)
    }

    func isExpired(_ expireAt: Int64) -> Bool {
        expireAt != Entry.noExpiry && expireAt <= now
    }

    /// A replica refuses memcached writes as it refuses RESP ones.
    var isReadOnly: Bool { server.replication.isReplica.load(ordering: .relaxed) }

    static let readOnlyError = "SERVER_ERROR READONLY You can't write against a read only replica."
    static let outOfMemory = "SERVER_ERROR out of memory storing object"

    /// Whether a write fits the memory limit (evicting first, as a RESP write does); false means memcached's
    /// out-of-memory error.
    func memoryAvailable() -> Bool {
        guard server.memoryLimited.load(ordering: .relaxed) else { return true }
        let now = self.now
        return server.keyspace.withLock { $0.enforceMemoryLimit(now: now) }
    }

    /// Stores an item, or deletes the key when `expireAt` has already passed (memcached stores it, but nobody can
    /// read it again). Returns the new CAS (0 when deleted).
    @discardableResult
    static func put(
        _ keyspace: inout Keyspace, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expireAt: Int64,
        clientFlags: UInt32, now: Int64, isStale: Bool = false, winTokenSent: Bool = false
    ) -> UInt64 {
        if expireAt != Entry.noExpiry && expireAt <= now {
            keyspace.remove(key, now: now)
            return 0
        }
        return keyspace.storeItem(
            key, value: value, expireAt: expireAt, clientFlags: clientFlags, now: now, isStale: isStale,
            winTokenSent: winTokenSent)
    }

    // MARK: Replies

    /// Appends `text` and CRLF.
    mutating func line(_ text: String) {
        out.writeString(text)
        out.writeStaticString("\r\n")
    }
}
