import NIOCore
import RoostProtocol
import Synchronization

/// What callers on any thread share with a connection's event loop: commands encoded but not yet written.
///
/// Callers append under the lock (encoding straight into ``buffer``); the first caller after a flush schedules
/// one ``RoostConnectionHandler/flushPending()`` on the event loop, which takes everything queued so far and
/// writes it in one `writeAndFlush`. So concurrent callers are pipelined with one event-loop hop and one
/// syscall per batch, and the order of ``entries`` is the order of the bytes, which is the order of the replies.
struct OutboundQueue: ~Copyable {
    /// Encoded commands not yet handed to the channel.
    var buffer: ByteBuffer
    /// Their waiters, in the same order.
    var entries: CircularBuffer<PendingReply>
    /// Whether a flush is already scheduled on the event loop.
    var flushScheduled = false
    /// Set once the connection is closing or closed; new commands fail with it.
    var closedError: RoostClientError?
}

/// State shared between a ``RoostConnection`` (any thread) and its ``RoostConnectionHandler`` (event loop).
final class ConnectionShared: Sendable {
    let outbound: Mutex<OutboundQueue>
    /// Commands queued or in flight and not yet answered (or failed): the pool's measure of load.
    let outstanding = Atomic<Int>(0)
    /// The node's address, `host:port`, for messages.
    let node: String

    init(node: String) {
        self.node = node
        self.outbound = Mutex(OutboundQueue(buffer: ByteBuffer(), entries: CircularBuffer(initialCapacity: 16)))
    }
}

/// The connection's only channel handler: writes batches, parses replies, matches them to waiters in FIFO order,
/// routes push frames, expires waiters past their deadline and fails everything when the channel closes.
///
/// Event-loop confined; the only entry from other threads is ``flushPending()``, scheduled on the loop.
final class RoostConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ConnectionShared
    private let commandTimeout: TimeAmount
    /// Waiters whose commands were written, oldest first.
    private var inflight = CircularBuffer<PendingReply>(initialCapacity: 16)
    /// How many entries at the front of ``inflight`` already timed out (their replies are dropped on arrival).
    private var expiredPrefix = 0
    /// The empty queue swapped into ``OutboundQueue/entries`` on each flush, so neither side reallocates.
    private var spare = CircularBuffer<PendingReply>(initialCapacity: 16)
    private var parser = RESPValueParser()
    private var input = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var lastReadAt = NIODeadline.now()
    /// Receives RESP3 push frames.
    var onPush: ((RESPValue) -> Void)?

    init(shared: ConnectionShared, commandTimeout: Duration) {
        self.shared = shared
        self.commandTimeout = TimeAmount(commandTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(RoostClientError(.connectionClosed, "the connection was closed", node: shared.node))
        self.context = nil
    }

    /// Writes everything queued since the last flush, in one write and one flush.
    func flushPending() {
        let buffer: ByteBuffer? = shared.outbound.withLock { queue in
            queue.flushScheduled = false
            guard !queue.entries.isEmpty else { return nil }
            swap(&queue.entries, &self.spare)
            var taken = ByteBuffer()
            swap(&queue.buffer, &taken)
            return taken
        }
        guard let buffer, let context else { return }
        let deadline = NIODeadline.now() + commandTimeout
        let wasEmpty = inflight.isEmpty
        for var entry in spare {
            entry.deadline = deadline
            inflight.append(entry)
        }
        spare.removeAll(keepingCapacity: true)
        if wasEmpty { lastReadAt = .now() }
        context.writeAndFlush(NIOAny(buffer), promise: nil)
        if timer == nil { scheduleTimer(at: deadline) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if input.readableBytes == 0 {
            input = bytes
        } else {
            input.writeBuffer(&bytes)
        }
        lastReadAt = .now()
        do throws(RESPProtocolError) {
            while let value = try parser.parse(&input) {
                if case .push = value {
                    onPush?(value)
                    continue
                }
                guard var entry = inflight.popFirst() else {
                    throw RESPProtocolError(message: "a reply arrived with no command waiting for it")
                }
                if expiredPrefix > 0 { expiredPrefix -= 1 }
                shared.outstanding.subtract(1, ordering: .relaxed)
                entry.resume(.success(value))
            }
        } catch {
            let failure = RoostClientError(
                .protocolError, "\(error.message); closing the connection", node: shared.node)
            failAll(failure)
            context.close(promise: nil)
            return
        }
        if input.readableBytes == 0 {
            input.clear()
        } else if input.readerIndex > 64 * 1024 {
            input.discardReadBytes()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RoostClientError(.connectionClosed, "the server closed the connection", node: shared.node))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RoostClientError(.connectionClosed, "connection error: \(error)", node: shared.node))
        context.close(promise: nil)
    }

    /// Fails every waiter: queued-but-unwritten ones as never sent, written ones as closed in flight.
    private func failAll(_ error: RoostClientError) {
        let unsent = shared.outbound.withLock { queue in
            if queue.closedError == nil {
                queue.closedError = RoostClientError(
                    .connectionFailed, "the connection is closed (\(error.message))", node: shared.node)
            }
            var taken = CircularBuffer<PendingReply>()
            swap(&queue.entries, &taken)
            queue.buffer.clear()
            return taken
        }
        timer?.cancel()
        timer = nil
        let count = unsent.count + inflight.count
        if count > 0 { shared.outstanding.subtract(count, ordering: .relaxed) }
        for var entry in unsent {
            entry.resume(.failure(RoostClientError(.connectionFailed, error.message, node: shared.node)))
        }
        while var entry = inflight.popFirst() {
            entry.resume(.failure(error))
        }
        expiredPrefix = 0
    }

    private func scheduleTimer(at deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.expire()
        }
    }

    /// Fails the waiters whose deadline has passed. When nothing at all arrived since the oldest of them was
    /// written, the server is not answering: the connection is closed so that the pool opens a new one.
    private func expire() {
        let now = NIODeadline.now()
        var index = inflight.index(inflight.startIndex, offsetBy: expiredPrefix)
        var expiredAny = false
        var oldestSentAt: NIODeadline?
        while index != inflight.endIndex, inflight[index].deadline <= now {
            if oldestSentAt == nil { oldestSentAt = inflight[index].deadline - commandTimeout }
            let command = inflight[index].command
            inflight[index].resume(
                .failure(
                    RoostClientError(
                        .timeout, "no reply within \(commandTimeout.nanoseconds / 1_000_000) ms",
                        command: String(describing: command), node: shared.node)))
            expiredPrefix += 1
            expiredAny = true
            index = inflight.index(after: index)
        }
        if expiredAny, let oldestSentAt, lastReadAt <= oldestSentAt {
            failAll(
                RoostClientError(
                    .connectionClosed,
                    "no bytes from the server for \(commandTimeout.nanoseconds / 1_000_000) ms; closing the connection",
                    node: shared.node))
            context?.close(promise: nil)
            return
        }
        if index != inflight.endIndex {
            scheduleTimer(at: inflight[index].deadline)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
