import Logging
import NIOCore
import RoostCore
import RoostProtocol
import Synchronization

/// Primary–replica replication: one server's role, its replication ID and offset, the stream it sends its replicas
/// (as a primary) or applies (as a replica), and the backlog for partial resynchronisation.
///
/// ## The stream carries states, not commands
/// The keyspace records every change as the key's new state (``Keyspace/takeChanges(_:)``): `SET key value
/// [PXAT ms]`, or `DEL key` when it is gone (deleted, expired or evicted), or `FLUSHALL`; after each batch of
/// commands (and on each cron tick, for what expiry removed) the primary appends the records to the stream. Replicas apply these with their own
/// command table. States are idempotent, which is what makes the full sync simple: the snapshot is a scan of the
/// live keyspace taken while writes continue, and every change recorded after the snapshot began is applied after
/// it, so whatever the scan saw of a key that changed meanwhile, the replica ends with the key's latest state.
/// Expiry and eviction on the primary reach replicas as `DEL`s, so replicas never diverge, and a replica never
/// evicts on its own (writes from its primary skip the memory limit, as Redis's `replica-ignore-maxmemory`).
///
/// ## Offsets
/// The offset counts stream bytes since the replication ID began, as Redis's `master_repl_offset` does. A replica's
/// offset is the bytes it has applied; it acknowledges it (`REPLCONF ACK`) every second and when asked
/// (`REPLCONF GETACK`), which is what `WAIT` counts. A promoted replica keeps its offset and backlog, and its old
/// primary's ID as `master_replid2`, so the other replicas of that primary can continue from it.
final class Replication: Sendable {
    /// A replica attached to this primary (its connection sent `PSYNC`).
    struct Feed {
        let channel: any Channel
        let address: String
        var listeningPort: Int
        /// The snapshot has been sent; stream bytes flow as they are produced.
        var online = false
        /// Stream bytes not yet handed to the channel (during the snapshot, everything since it began).
        var pending: ByteBuffer
        var flushScheduled = false
        var ackOffset: Int64 = 0
        var ackTime: Int64
    }

    /// A `WAIT` waiting for acknowledgements.
    struct Waiter {
        let target: Int64
        let replicas: Int
        let promise: EventLoopPromise<BlockedOutcome>
    }

    /// What this server is.
    enum Role: Equatable, Sendable {
        case primary
        case replica(host: String, port: Int)
    }

    /// The replica side's link to its primary, as `INFO replication` reports it.
    enum LinkState: String, Sendable {
        case connecting = "connect"
        case handshake = "handshake"
        case sync = "sync"
        case connected = "connected"
    }

    struct State {
        var role: Role = .primary
        var replicationID: String
        var replicationID2 = String(repeating: "0", count: 40)
        /// The offset up to which ``replicationID2`` is valid (-1: none).
        var secondOffset: Int64 = -1
        var offset: Int64 = 0
        var backlog: ReplicationBacklog?
        var feeds: [UInt64: Feed] = [:]
        var waiters: [Waiter] = []
        /// Replica side.
        var linkState = LinkState.connecting
        var linkGeneration = 0
        var linkChannel: (any Channel)?
        var lastPrimaryIO: Int64 = 0
        var syncStarted: Int64 = 0
        /// When the primary last pinged its replicas.
        var lastPing: Int64 = 0
    }

    let state: Mutex<State>
    /// Set once a replica has attached (or this node was promoted): the keyspace records changes and they are
    /// propagated after every batch. Read without a lock on every batch.
    let recording = Atomic<Bool>(false)
    /// This server replicates another: writes from clients are refused (`-READONLY`).
    let isReplica = Atomic<Bool>(false)
    /// Writes are paused for a manual failover: write commands wait (see ``Dispatcher``).
    let writesPaused = Atomic<Bool>(false)
    /// `INFO stats` `sync_full`, `sync_partial_ok`, `sync_partial_err`: `PSYNC`s answered with a snapshot, with the
    /// backlog, and asked to continue but answered with a snapshot.
    let fullSyncs = Atomic<Int>(0)
    let partialSyncs = Atomic<Int>(0)
    let refusedPartialSyncs = Atomic<Int>(0)
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        self.state = Mutex(State(replicationID: Self.newReplicationID()))
    }

    static func newReplicationID() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
    }

    var offset: Int64 { state.withLock { $0.offset } }

    // MARK: Producing the stream (primary)

    /// Appends the changes the keyspace recorded since the last call to the stream. Called at the end of each read
    /// batch, before its replies leave, so a write is in the stream before it is acknowledged.
    func propagate(_ server: ServerState) {
        guard recording.load(ordering: .relaxed) else { return }
        server.keyspace.withLock { keyspace in
            keyspace.takeChanges { changes in state.withLock { append(changes, to: &$0) } }
        }
    }

    /// Appends `record` to the stream: the offset, the backlog, and every attached replica's pending bytes.
    func append(_ record: UnsafeRawBufferPointer, to state: inout State) {
        // Nothing is produced before a replica first attached (Redis's offset stays 0 without a backlog).
        guard case .primary = state.role, state.backlog != nil, record.count > 0 else { return }
        state.offset += Int64(record.count)
        state.backlog?.append(record)
        for id in state.feeds.keys {
            state.feeds[id]!.pending.writeBytes(record)
            scheduleFlush(id, in: &state)
        }
    }

    /// Appends a command of the replication protocol itself (`REPLCONF GETACK *`, `PING`).
    func appendCommand(_ words: [String]) {
        var record = ByteBufferAllocator().buffer(capacity: 64)
        ReplicationRecord.writeCommand(&record, words)
        record.withUnsafeReadableBytes { bytes in state.withLock { append(bytes, to: &$0) } }
    }

    private func scheduleFlush(_ id: UInt64, in state: inout State) {
        guard let feed = state.feeds[id], feed.online, !feed.flushScheduled else { return }
        state.feeds[id]!.flushScheduled = true
        feed.channel.eventLoop.execute { self.flush(id) }
    }

    /// Hands a replica's pending stream bytes to its channel (on the channel's loop), closing a replica that has
    /// fallen further behind than its output buffer limit.
    private func flush(_ id: UInt64) {
        let taken = state.withLock { state -> (ByteBuffer, any Channel)? in
            guard var feed = state.feeds[id] else { return nil }
            feed.flushScheduled = false
            let bytes = feed.pending
            feed.pending = feed.channel.allocator.buffer(capacity: 0)
            state.feeds[id] = feed
            return (bytes, feed.channel)
        }
        guard let (bytes, channel) = taken, bytes.readableBytes > 0 else { return }
        channel.writeAndFlush(bytes, promise: nil)
    }

    /// Closes replicas whose unsent stream passed `limit` bytes (the `replica` class of
    /// `client-output-buffer-limit`); called by the cron.
    func enforceOutputLimit(_ limit: Int) {
        guard limit > 0 else { return }
        let feeds = state.withLock { state in state.feeds.values.map { ($0.channel, $0.pending.readableBytes) } }
        for (channel, pending) in feeds {
            // The channel's options may only be read on its own loop.
            channel.eventLoop.execute {
                let buffered = (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
                guard pending + buffered > limit else { return }
                self.logger.warning("Closing a replica whose unsent replication stream exceeds its output limit")
                channel.close(promise: nil)
            }
        }
    }

    // MARK: Attaching replicas (primary)

    /// How `PSYNC` was answered.
    enum SyncDecision {
        case full(replicationID: String, offset: Int64)
        case partial(replicationID: String)
    }

    /// A replica's connection sent `PSYNC replicationID offset`: registers it and decides between a partial resync
    /// (the backlog holds everything after `offset` of this history) and a full one (a snapshot follows).
    func attach(
        _ server: ServerState, clientID: UInt64, channel: any Channel, address: String, listeningPort: Int,
        requestedID: String, requestedOffset: Int64
    ) -> SyncDecision {
        let capacity = server.currentConfiguration.replBacklogSize
        let now = server.clock()
        return server.keyspace.withLock { keyspace in
            keyspace.recordsChanges = true
            recording.store(true, ordering: .relaxed)
            return state.withLock { state in
                if state.backlog == nil {
                    state.backlog = ReplicationBacklog(capacity: capacity, endOffset: state.offset)
                }
                // The first ping is due a whole period after a replica attaches (its stream has just started).
                if state.feeds.isEmpty { state.lastPing = now }
                var feed = Feed(
                    channel: channel, address: address, listeningPort: listeningPort,
                    pending: channel.allocator.buffer(capacity: 0), ackTime: now)
                // As in Redis, `requestedOffset` is the next byte the replica needs (its offset + 1), and the
                // second ID is valid for offsets up to `secondOffset` (the promotion offset + 1).
                let have = requestedOffset - 1
                let continues =
                    requestedID == state.replicationID
                    || (requestedID == state.replicationID2 && requestedOffset <= state.secondOffset)
                if continues, have >= 0, have <= state.offset, let bytes = state.backlog?.bytes(from: have) {
                    feed.online = true
                    feed.ackOffset = have
                    feed.pending.writeBytes(bytes)
                    state.feeds[clientID] = feed
                    let id = clientID
                    channel.eventLoop.execute { self.flush(id) }
                    partialSyncs.add(1, ordering: .relaxed)
                    return .partial(replicationID: state.replicationID)
                }
                if requestedID != "?" { refusedPartialSyncs.add(1, ordering: .relaxed) }
                fullSyncs.add(1, ordering: .relaxed)
                state.feeds[clientID] = feed
                return .full(replicationID: state.replicationID, offset: state.offset)
            }
        }
    }

    /// Streams a snapshot of the keyspace to a replica that was answered `+FULLRESYNC`, in chunks written one after
    /// the other (the next chunk is taken once the previous one reached the socket, so a slow replica slows only
    /// its own snapshot), then lets its pending stream flow.
    func streamSnapshot(_ server: ServerState, to id: UInt64, channel: any Channel, cursor: UInt64 = 0) {
        var chunk = channel.allocator.buffer(capacity: 64 * 1024)
        var cursor = cursor
        let now = server.clock()
        var keys = 0
        server.keyspace.withLock { keyspace in
            var records: [UInt8] = []
            repeat {
                // Each key's whole state, whatever its type (strings as SET/ITEMSET, hashes as HASHSTATE).
                records.removeAll(keepingCapacity: true)
                let step = keyspace.appendStates(cursor: cursor, count: 128, now: now, to: &records)
                cursor = step.next
                keys += step.keys
                chunk.writeBytes(records)
            } while cursor != 0 && chunk.readableBytes < 256 * 1024
        }
        if cursor == 0 { ReplicationRecord.writeCommand(&chunk, ["REPLCONF", "SNAPSHOT-END"]) }
        let done = cursor == 0
        let next = cursor
        channel.writeAndFlush(chunk).whenComplete { result in
            guard case .success = result else { return }
            if done {
                self.state.withLock { state in
                    guard state.feeds[id] != nil else { return }
                    state.feeds[id]!.online = true
                    self.scheduleFlush(id, in: &state)
                }
                self.logger.notice("Full resync of a replica finished", metadata: ["client.id": "\(id)"])
            } else {
                // Queued behind the loop's I/O: a socket that takes each chunk at once completes the write
                // synchronously, and a direct call would stream the whole snapshot in one turn of the loop.
                channel.eventLoop.scheduleTask(in: .microseconds(50)) {
                    self.streamSnapshot(server, to: id, channel: channel, cursor: next)
                }
            }
        }
    }

    /// A replica's connection closed.
    func detach(clientID: UInt64) {
        let ready = state.withLock { state in
            state.feeds.removeValue(forKey: clientID)
            return resolveWaiters(in: &state)
        }
        Self.complete(ready)
    }

    /// `REPLCONF ACK offset` from a replica.
    func acknowledge(clientID: UInt64, offset: Int64, now: Int64) {
        let ready = state.withLock { state -> [(EventLoopPromise<BlockedOutcome>, Int)] in
            guard state.feeds[clientID] != nil else { return [] }
            state.feeds[clientID]!.ackOffset = max(state.feeds[clientID]!.ackOffset, offset)
            state.feeds[clientID]!.ackTime = now
            return resolveWaiters(in: &state)
        }
        Self.complete(ready)
    }

    /// Completes `WAIT`s. Never with the state locked: a promise completed on its own loop runs the blocked
    /// connection's continuation at once, and that propagates (which locks the state).
    static func complete(_ ready: [(EventLoopPromise<BlockedOutcome>, Int)]) {
        for (promise, count) in ready { promise.succeed(.integer(count)) }
    }

    // MARK: WAIT

    /// How many attached replicas acknowledged at least `offset`.
    func acknowledged(_ offset: Int64, in state: State) -> Int {
        state.feeds.values.reduce(0) { $0 + ($1.online && $1.ackOffset >= offset ? 1 : 0) }
    }

    /// `WAIT replicas timeout`: the count now if it is enough, or a future that completes with the count once
    /// enough replicas acknowledge the current offset or the timeout passes.
    func wait(
        _ server: ServerState, replicas: Int, timeout: Int64, on eventLoop: any EventLoop
    ) -> WaitOutcome {
        propagate(server)
        let outcome = state.withLock { state -> WaitOutcome in
            let target = state.offset
            let count = acknowledged(target, in: state)
            guard case .primary = state.role, count < replicas else { return .now(count) }
            let promise = eventLoop.makePromise(of: BlockedOutcome.self)
            state.waiters.append(Waiter(target: target, replicas: replicas, promise: promise))
            return .later(promise.futureResult)
        }
        guard case .later(let future) = outcome else { return outcome }
        appendCommand(["REPLCONF", "GETACK", "*"])
        if timeout > 0 {
            let scheduled = eventLoop.scheduleTask(in: .milliseconds(timeout)) {
                let ready = self.state.withLock { state -> [(EventLoopPromise<BlockedOutcome>, Int)] in
                    guard let index = state.waiters.firstIndex(where: { $0.promise.futureResult === future }) else {
                        return []
                    }
                    let waiter = state.waiters.remove(at: index)
                    return [(waiter.promise, self.acknowledged(waiter.target, in: state))]
                }
                Self.complete(ready)
            }
            future.whenComplete { _ in scheduled.cancel() }
        }
        return outcome
    }

    /// Removes the `WAIT`s that have enough acknowledgements and returns them with their counts, to complete
    /// once the lock is released.
    private func resolveWaiters(in state: inout State) -> [(EventLoopPromise<BlockedOutcome>, Int)] {
        guard !state.waiters.isEmpty else { return [] }
        var remaining: [Waiter] = []
        var ready: [(EventLoopPromise<BlockedOutcome>, Int)] = []
        for waiter in state.waiters {
            let count = acknowledged(waiter.target, in: state)
            if count >= waiter.replicas {
                ready.append((waiter.promise, count))
            } else {
                remaining.append(waiter)
            }
        }
        state.waiters = remaining
        return ready
    }
}

/// Writing the replication stream's records.
enum ReplicationRecord {
    static func writeCommand(_ buffer: inout ByteBuffer, _ words: [String]) {
        buffer.writeRESPArrayHeader(words.count)
        for word in words { buffer.writeRESPBulkString(word) }
    }
}

/// What `WAIT` found: the count now, or a future for it.
enum WaitOutcome {
    case now(Int)
    case later(EventLoopFuture<BlockedOutcome>)
}

/// How a command that blocked its connection (``CommandContext/blocked``) ends.
enum BlockedOutcome: Sendable {
    /// Reply with this integer.
    case integer(Int)
    /// Run the command again (it waited for a write pause to end).
    case retry
    /// Write these reply bytes (a blocking list pop served or timed out; empty once its client is gone).
    case reply(ByteBuffer)
}
