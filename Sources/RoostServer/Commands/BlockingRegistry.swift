import NIOCore
import RoostCore
import RoostProtocol
import Synchronization

/// Clients blocked in `BLPOP`, `BRPOP`, `BLMOVE`, `BZPOPMIN` and `BZPOPMAX`, by key, and the keys that became
/// ready for them.
///
/// ## Protocol
/// - A blocking command first tries to pop; when every key is empty it registers a ``Waiter`` — both under the
///   registry's lock, so a push cannot slip between the check and the registration — and suspends its connection
///   on the waiter's promise (``CommandContext/blocked``).
/// - A command that adds elements to a list or members to a sorted set calls ``signal(_:)`` (a leaf lock: safe
///   inside any critical section, `EXEC`'s included). After the command, the connection calls ``serveReady(_:)``
///   outside every lock: for each ready key, the waiters on it are served in the order they blocked, one element
///   each, while elements last.
/// - A served or timed-out waiter is removed from every key it waited on, then its promise is completed — never
///   with a lock held: completing a promise on its own loop runs the blocked connection's continuation at once.
/// - A connection that closes drops its waiters (``cancel(clientID:)``).
///
/// Lock order: registry, then keyspace. The ready set's lock takes no other lock.
final class BlockingRegistry: Sendable {
    /// What a waiter does with the element it is given.
    enum Operation: Sendable {
        /// `BLPOP`/`BRPOP`: reply `[key, element]`.
        case pop(left: Bool)
        /// `BLMOVE`: push the element to `destination` and reply with it.
        case move(left: Bool, destination: [UInt8], toLeft: Bool)
        /// `BZPOPMIN`/`BZPOPMAX`: reply `[key, member, score]`. A key holding a list leaves the waiter blocked, as
        /// a key holding a sorted set leaves a list pop blocked.
        case popSorted(highest: Bool)
    }

    /// One blocked client.
    struct Waiter: Sendable {
        let clientID: UInt64
        let keys: [[UInt8]]
        let operation: Operation
        let respVersion: RESPVersion
        let promise: EventLoopPromise<BlockedOutcome>
        var timeout: Scheduled<Void>?
    }

    private struct State: Sendable {
        var waiters: [UInt64: Waiter] = [:]
        /// Waiter ids per key, in the order they blocked.
        var queues: [[UInt8]: [UInt64]] = [:]
        var nextID: UInt64 = 1
    }

    private let state = Mutex(State())
    private let ready = Mutex<[[UInt8]]>([])
    private let hasReady = Atomic<Bool>(false)
    /// Waiters registered (for `INFO`'s `blocked_clients`).
    let blockedCount = Atomic<Int>(0)

    /// Marks `key` ready when some client waits on it (one relaxed load when nobody is blocked).
    func signal(_ key: [UInt8]) {
        guard blockedCount.load(ordering: .relaxed) > 0 else { return }
        ready.withLock { $0.append(key) }
        hasReady.store(true, ordering: .releasing)
    }

    /// Tries `attempt` (which pops under the keyspace's lock) and, when it finds nothing, registers a waiter, both
    /// under the registry's lock. Returns the attempt's result or the future the connection waits on.
    func popOrBlock<Popped>(
        keys: [[UInt8]],
        operation: Operation,
        clientID: UInt64,
        respVersion: RESPVersion,
        eventLoop: any EventLoop,
        timeout: Int64,
        attempt: () throws(CommandError) -> Popped?
    ) throws(CommandError) -> Either<Popped, EventLoopFuture<BlockedOutcome>> {
        let registered: Result<Either<Popped, (UInt64, EventLoopPromise<BlockedOutcome>)>, CommandError> =
            state.withLock { state in
                do throws(CommandError) {
                    if let popped = try attempt() { return .success(.left(popped)) }
                } catch {
                    return .failure(error)
                }
                let id = state.nextID
                state.nextID += 1
                let promise = eventLoop.makePromise(of: BlockedOutcome.self)
                state.waiters[id] = Waiter(
                    clientID: clientID, keys: keys, operation: operation, respVersion: respVersion, promise: promise)
                for key in Set(keys) { state.queues[key, default: []].append(id) }
                blockedCount.add(1, ordering: .relaxed)
                return .success(.right((id, promise)))
            }
        switch try registered.get() {
        case .left(let popped): return .left(popped)
        case .right((let id, let promise)):
            if timeout > 0 {
                // Capped at about 35 years: NIO's nanosecond amounts would overflow past 292 years.
                let scheduled = eventLoop.scheduleTask(in: .milliseconds(min(timeout, 1 << 40))) { [self] in
                    expire(id)
                }
                let stored = state.withLock { state -> Bool in
                    guard state.waiters[id] != nil else { return false }
                    state.waiters[id]!.timeout = scheduled
                    return true
                }
                if !stored { scheduled.cancel() }
            }
            return .right(promise.futureResult)
        }
    }

    /// Ends waiter `id` with a null reply when its timeout passes first.
    private func expire(_ id: UInt64) {
        guard let waiter = state.withLock({ remove(id, from: &$0) }) else { return }
        var reply = ByteBuffer()
        if case .move = waiter.operation {
            reply.writeRESPNull(waiter.respVersion)
        } else {
            reply.writeRESPNullArray(waiter.respVersion)
        }
        waiter.promise.succeed(.reply(reply))
    }

    /// Forgets the waiters of a closed connection (their promises complete with nothing to write).
    func cancel(clientID: UInt64) {
        guard blockedCount.load(ordering: .relaxed) > 0 else { return }
        let dropped = state.withLock { state -> [Waiter] in
            let ids = state.waiters.filter { $0.value.clientID == clientID }.map(\.key)
            return ids.compactMap { remove($0, from: &state) }
        }
        for waiter in dropped {
            waiter.timeout?.cancel()
            waiter.promise.succeed(.reply(ByteBuffer()))
        }
    }

    private func remove(_ id: UInt64, from state: inout State) -> Waiter? {
        guard let waiter = state.waiters.removeValue(forKey: id) else { return nil }
        for key in Set(waiter.keys) {
            state.queues[key]?.removeAll { $0 == id }
            if state.queues[key]?.isEmpty == true { state.queues[key] = nil }
        }
        blockedCount.add(-1, ordering: .relaxed)
        return waiter
    }

    /// Serves the clients blocked on keys that became ready, in the order they blocked, one element each; then
    /// completes their promises (outside every lock) and propagates the pops to replicas. Cheap when nothing is
    /// ready (one atomic load).
    func serveReady(_ server: ServerState) {
        while hasReady.load(ordering: .acquiring) {
            let keys = ready.withLock { keys -> [[UInt8]] in
                hasReady.store(false, ordering: .relaxed)
                defer { keys.removeAll() }
                return keys
            }
            var served: [(Waiter, ByteBuffer)] = []
            state.withLock { state in
                var seen = Set<[UInt8]>()
                for key in keys where seen.insert(key).inserted {
                    serve(key, state: &state, server: server, into: &served)
                }
            }
            for (waiter, reply) in served {
                waiter.timeout?.cancel()
                waiter.promise.succeed(.reply(reply))
            }
            if !served.isEmpty { server.replication.propagate(server) }
        }
    }

    /// Serves the waiters on `key` while it holds elements.
    private func serve(
        _ key: [UInt8], state: inout State, server: ServerState, into served: inout [(Waiter, ByteBuffer)]
    ) {
        let now = server.clock()
        while let id = state.queues[key]?.first, let waiter = state.waiters[id] {
            var reply = ByteBuffer()
            let version = waiter.respVersion
            // Whether the waiter was served (its reply written); false when the key has nothing for it.
            let outcome: Result<Bool, CommandError> = server.keyspace.withLock { keyspace in
                Result { () throws(CommandError) -> Bool in
                    switch waiter.operation {
                    case .pop(let left):
                        let element = try ListCommands.onList(key, &keyspace, now: now) { list in
                            list == nil ? nil : (left ? list!.popFirst() : list!.popLast())
                        }
                        guard let element else { return false }
                        reply.writeRESPArrayHeader(2)
                        reply.writeRESPBulkString(key)
                        reply.writeRESPBulkString(element)
                    case .move(let left, let destination, let toLeft):
                        let element = try ListCommands.move(
                            from: key, fromLeft: left, to: destination, toLeft: toLeft, in: &keyspace, now: now)
                        guard let element else { return false }
                        reply.writeRESPBulkString(element)
                    case .popSorted(let highest):
                        let element = try SortedSetCommands.popExtreme(key, highest: highest, &keyspace, now: now)
                        guard let element else { return false }
                        SortedSetCommands.writePopped(key: key, element, to: &reply, version)
                    }
                    return true
                }
            }
            switch outcome {
            case .success(false):
                return  // the key is empty (or gone): later waiters stay blocked
            case .success(true):
                if case .move(_, let destination, _) = waiter.operation { signal(destination) }
            case .failure(let error):
                // The key holds another type now: nothing to pop.
                guard case .move = waiter.operation else { return }
                reply.clear()
                reply.writeRESPError(error.message)  // BLMOVE to a destination of another type
            }
            if let removed = remove(id, from: &state) { served.append((removed, reply)) }
        }
    }
}

/// One of two values.
enum Either<Left, Right> {
    case left(Left)
    case right(Right)
}
