import NIOCore
import NIOPosix

/// Carries memcached requests for keys owned by another cluster node to that node's memcached port and brings the
/// responses back (see docs/MEMCACHED.md, "Cluster mode").
///
/// One forwarder per event loop, holding one connection per target, opened on first use and dropped on any error.
/// Requests from every client connection of the loop are pipelined on it in order; each carries the
/// ``MemcacheResponseReader/Expectation`` that frames its response, so responses are matched to requests by
/// position. A request whose reply may be suppressed (`noreply`, meta `q`) is followed by `mn`, so its end is known
/// (``MemcacheResponseReader/Expectation/untilNoop``).
///
/// A request not answered within ``timeout``, a connect failure or a closed connection fails every request still
/// waiting on that connection; their clients get `SERVER_ERROR forwarding failed`, and the next request opens a new
/// connection.
final class MemcacheForwarder: @unchecked Sendable {
    // Invariant for @unchecked Sendable: every mutable property is touched only on `loop` (checked by
    // `preconditionInEventLoop` at each entry point); the instance is shared only to be found per loop.

    /// Why a forwarded request got no response.
    struct Failure: Error {
        let message: String
    }

    /// The line that opens every connection to another node (no reply): that node then serves the requests' keys
    /// itself or answers `SERVER_ERROR cluster is down`, and never forwards them again.
    static let marker: StaticString = "roost_forwarded"

    /// How long a forwarded request may wait for its response.
    static let timeout = TimeAmount.seconds(2)

    let loop: any EventLoop
    private var targets: [String: Target] = [:]

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Sends `request` (complete request bytes) to `host:port` and completes with its response, framed as
    /// `expectation`.
    func send(
        _ request: ByteBuffer, to host: String, port: Int, expecting expectation: MemcacheResponseReader.Expectation
    )
        -> EventLoopFuture<ByteBuffer>
    {
        loop.preconditionInEventLoop()
        let name = "\(host):\(port)"
        let target: Target
        if let existing = targets[name] {
            target = existing
        } else {
            target = Target(loop: loop, host: host, port: port) { [weak self] failed in
                if self?.targets[name] === failed { self?.targets[name] = nil }
            }
            targets[name] = target
        }
        return target.send(request, expecting: expectation)
    }

    /// One connection to one node's memcached port and the requests waiting on it, oldest first.
    final class Target {
        private struct Pending {
            let expectation: MemcacheResponseReader.Expectation
            let promise: EventLoopPromise<ByteBuffer>
            let deadline: Scheduled<Void>
        }

        private let loop: any EventLoop
        private let channel: EventLoopFuture<any Channel>
        private var pending: [Pending] = []
        private var head = 0
        private var received = ByteBuffer()
        private var failed = false
        private let onFailure: (Target) -> Void

        init(loop: any EventLoop, host: String, port: Int, onFailure: @escaping (Target) -> Void) {
            self.loop = loop
            self.onFailure = onFailure
            let bootstrap = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(MemcacheForwarder.timeout)
            let reader = NIOLoopBound(ResponseHandler(), eventLoop: loop)
            channel = bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(reader.value)
                }
            }.connect(host: host, port: port)
            reader.value.target = self
            channel.whenSuccess { $0.write(ByteBuffer(string: "\(MemcacheForwarder.marker)\r\n"), promise: nil) }
            channel.assumeIsolated().whenFailure { [self] error in fail("connect: \(error)") }
        }

        func send(_ request: ByteBuffer, expecting expectation: MemcacheResponseReader.Expectation)
            -> EventLoopFuture<ByteBuffer>
        {
            let promise = loop.makePromise(of: ByteBuffer.self)
            guard !failed else {
                promise.fail(Failure(message: "connection failed"))
                return promise.futureResult
            }
            let deadline = loop.assumeIsolated().scheduleTask(in: MemcacheForwarder.timeout) { [self] in fail("timeout")
            }
            pending.append(Pending(expectation: expectation, promise: promise, deadline: deadline))
            channel.whenSuccess { channel in channel.writeAndFlush(request, promise: nil) }
            return promise.futureResult
        }

        /// Bytes from the node: completes every request whose response is now whole.
        fileprivate func receive(_ bytes: inout ByteBuffer) {
            received.writeBuffer(&bytes)
            while head < pending.count,
                let response = MemcacheResponseReader.read(&received, expecting: pending[head].expectation)
            {
                let done = pending[head]
                head += 1
                done.deadline.cancel()
                done.promise.succeed(response)
            }
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
                if received.readableBytes > 0 { fail("unexpected response bytes") }
            }
            received.discardReadBytes()
        }

        /// Fails every waiting request and closes the connection; the forwarder opens a new one next time.
        fileprivate func fail(_ reason: String) {
            guard !failed else { return }
            failed = true
            onFailure(self)
            let waiting = pending[head...]
            pending = []
            head = 0
            for request in waiting {
                request.deadline.cancel()
                request.promise.fail(Failure(message: reason))
            }
            channel.whenSuccess { $0.close(promise: nil) }
        }
    }

    /// The connection's handler: hands every read to its target.
    private final class ResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer

        weak var target: Target?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            target?.receive(&bytes)
        }

        func channelInactive(context: ChannelHandlerContext) {
            target?.fail("connection closed")
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            target?.fail("\(error)")
            context.close(promise: nil)
        }
    }
}
