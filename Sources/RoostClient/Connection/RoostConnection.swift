import Logging
import NIOCore
import NIOPosix
import RoostProtocol

/// One TCP connection to one node, shared by any number of concurrent callers (automatic pipelining).
///
/// Callers encode their command straight into the connection's outbound buffer under a lock; the event loop
/// writes whatever has accumulated once per turn and matches replies to callers in FIFO order (see
/// ``OutboundQueue``). RESP3 push frames are not replies: they go to ``ConnectionConfiguration/onPush``. When
/// the channel closes, every waiter fails (``RoostClientError/Code/connectionClosed`` if its command was written,
/// ``RoostClientError/Code/connectionFailed`` if not) and ``closeFuture`` completes, which is how owners (the pool,
/// a near cache watching invalidations) learn that the connection broke.
final class RoostConnection: Sendable {
    /// The node, `host:port`.
    let node: String
    /// The protocol agreed in the handshake.
    let protocolVersion: RESPVersion
    /// Whether `READONLY` was sent (a connection for reads from a replica).
    let isReadOnly: Bool
    /// Completes when the channel has closed, for whatever reason.
    var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
    /// The event loop the connection lives on.
    var eventLoop: any EventLoop { channel.eventLoop }

    private let channel: any Channel
    private let shared: ConnectionShared
    private let handler: NIOLoopBound<RoostConnectionHandler>

    private init(
        channel: any Channel, shared: ConnectionShared, handler: NIOLoopBound<RoostConnectionHandler>,
        protocolVersion: RESPVersion, isReadOnly: Bool
    ) {
        self.node = shared.node
        self.channel = channel
        self.shared = shared
        self.handler = handler
        self.protocolVersion = protocolVersion
        self.isReadOnly = isReadOnly
    }

    /// Whether new commands can still be queued.
    var isOpen: Bool { shared.outbound.withLock { $0.closedError == nil } }

    /// Commands queued or in flight.
    var outstanding: Int { shared.outstanding.load(ordering: .relaxed) }

    /// Opens a connection and runs the handshake: `HELLO 3` (with `AUTH` and `SETNAME`) unless RESP2 is asked
    /// for, falling back to RESP2 (`AUTH`, `CLIENT SETNAME`) when the server refuses `HELLO 3`; then `READONLY`
    /// when `readOnly`.
    static func connect(
        host: String, port: Int, readOnly: Bool, configuration: ConnectionConfiguration,
        eventLoopGroup: any EventLoopGroup, logger: Logger
    ) async throws(RoostClientError) -> RoostConnection {
        let node = "\(host):\(port)"
        let shared = ConnectionShared(node: node)
        let timeout = configuration.commandTimeout
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            RoostConnectionHandler(shared: shared, commandTimeout: timeout))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw RoostClientError(.connectionFailed, "cannot connect: \(error)", node: node)
        }
        let handler: NIOLoopBound<RoostConnectionHandler>
        do {
            handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: RoostConnectionHandler.self),
                    eventLoop: channel.eventLoop)
            }.get()
        } catch {
            channel.close(promise: nil)
            throw RoostClientError(.connectionFailed, "the connection closed during setup: \(error)", node: node)
        }
        var connection = RoostConnection(
            channel: channel, shared: shared, handler: handler, protocolVersion: .resp2, isReadOnly: readOnly)
        do {
            let version = try await connection.handshake(configuration)
            if readOnly {
                try connection.checkOK(
                    await connection.send("READONLY") { $0.writeRoostCommand("READONLY", argumentCount: 0) })
            }
            connection = RoostConnection(
                channel: channel, shared: shared, handler: handler, protocolVersion: version, isReadOnly: readOnly)
            if let onPush = configuration.onPush {
                let pushed = connection
                try? await channel.eventLoop.submit {
                    handler.value.onPush = { [weak pushed] value in
                        if let pushed { onPush(value, pushed) }
                    }
                }.get()
            }
            logger.debug(
                "connected",
                metadata: [
                    "roost.node": "\(node)", "roost.protocol": "\(version.rawValue)", "roost.readonly": "\(readOnly)",
                ])
            return connection
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private func handshake(_ configuration: ConnectionConfiguration) async throws(RoostClientError) -> RESPVersion {
        if configuration.preferRESP3 {
            let reply = try await send("HELLO") { buffer in
                var count = 1
                if configuration.password != nil { count += 3 }
                if configuration.clientName != nil { count += 2 }
                buffer.writeRoostCommand("HELLO", argumentCount: count)
                buffer.writeRESPBulkString("3")
                if let password = configuration.password {
                    buffer.writeRESPBulkString("AUTH")
                    buffer.writeRESPBulkString(configuration.username ?? "default")
                    buffer.writeRESPBulkString(password)
                }
                if let name = configuration.clientName {
                    buffer.writeRESPBulkString("SETNAME")
                    buffer.writeRESPBulkString(name)
                }
            }.get()
            switch reply {
            case .map, .array:
                return .resp3
            case .error(let text):
                let message = String(buffer: text)
                // Wrong credentials are final; anything else (an older server, `HELLO` disabled) means RESP2.
                if message.hasPrefix("WRONGPASS") || message.hasPrefix("NOAUTH") {
                    throw RoostClientError.server(message, command: "HELLO", node: node)
                }
            default:
                break
            }
        }
        if let password = configuration.password {
            try checkOK(
                await send("AUTH") { buffer in
                    if let username = configuration.username {
                        buffer.writeRoostCommand("AUTH", argumentCount: 2)
                        buffer.writeRESPBulkString(username)
                    } else {
                        buffer.writeRoostCommand("AUTH", argumentCount: 1)
                    }
                    buffer.writeRESPBulkString(password)
                })
        }
        if let name = configuration.clientName {
            try checkOK(
                await send("CLIENT") { buffer in
                    buffer.writeRoostCommand("CLIENT", argumentCount: 2)
                    buffer.writeRESPBulkString("SETNAME")
                    buffer.writeRESPBulkString(name)
                })
        }
        return .resp2
    }

    private func checkOK(_ result: ReplyResult) throws(RoostClientError) {
        let reply = try result.get()
        if case .error(let text) = reply {
            throw RoostClientError.server(String(buffer: text), node: node)
        }
    }

    /// Queues one command, encoded by `encode` into the connection's outbound buffer, and waits for its reply.
    ///
    /// `encode` runs synchronously, under the queue's lock: it must only write the command's bytes. An error reply
    /// is returned as ``RESPValue/error(_:)``; failures (timeout, connection loss) as `.failure`.
    func send(_ command: StaticString, _ encode: (inout ByteBuffer) -> Void) async -> ReplyResult {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<ReplyResult, Never>) in
            self.enqueue(command, continuation, encode)
        }
    }

    /// Queues `ASKING` and the command it qualifies back to back, atomically (nothing can come between them on
    /// the wire), and returns the command's reply; `ASKING`'s own `+OK` is dropped.
    func sendAsking(_ command: StaticString, _ encode: (inout ByteBuffer) -> Void) async -> ReplyResult {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<ReplyResult, Never>) in
            self.enqueue(command, continuation, asking: true, encode)
        }
    }

    private func enqueue(
        _ command: StaticString, _ continuation: UnsafeContinuation<ReplyResult, Never>, asking: Bool = false,
        _ encode: (inout ByteBuffer) -> Void
    ) {
        enum Outcome {
            case queued, schedule
            case failed(RoostClientError)
        }
        let outcome: Outcome = shared.outbound.withLock { queue in
            if let error = queue.closedError { return .failed(error) }
            if asking {
                queue.buffer.writeRoostCommand("ASKING", argumentCount: 0)
                queue.entries.append(PendingReply(continuation: nil, command: "ASKING"))
            }
            encode(&queue.buffer)
            queue.entries.append(PendingReply(continuation: continuation, command: command))
            if queue.flushScheduled { return .queued }
            queue.flushScheduled = true
            return .schedule
        }
        switch outcome {
        case .queued:
            shared.outstanding.add(asking ? 2 : 1, ordering: .relaxed)
        case .schedule:
            shared.outstanding.add(asking ? 2 : 1, ordering: .relaxed)
            let handler = self.handler
            channel.eventLoop.execute { handler.value.flushPending() }
        case .failed(let error):
            continuation.resume(returning: .failure(error.with(command: String(describing: command), node: nil)))
        }
    }

    /// Closes the connection now; in-flight commands fail with ``RoostClientError/Code/connectionClosed``.
    func close() {
        channel.close(promise: nil)
    }

    /// Stops taking commands, waits (up to `timeout`) for those in flight to be answered, then closes.
    func closeGracefully(timeout: Duration) async {
        shared.outbound.withLock { queue in
            if queue.closedError == nil {
                queue.closedError = RoostClientError(.shutdown, "the client is shutting down", node: node)
            }
        }
        let deadline = ContinuousClock.now + timeout
        while outstanding > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }
}
