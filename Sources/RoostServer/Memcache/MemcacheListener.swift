import NIOCore
import NIOPosix

/// Binds the memcached protocol listener (`memcached-port`) on the same addresses as the RESP port.
enum MemcacheListener {
    /// Binds `port` on every `bind` address (optional `-` addresses may be skipped, as for the RESP port); throws
    /// when none could be bound.
    static func bind(
        port: Int, configuration: ServerConfiguration, state: ServerState, group: any EventLoopGroup,
        coalescers: FlushCoalescers? = nil
    ) async throws -> [any Channel] {
        let service = MemcacheService(startedAt: state.clock(), port: port)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(configuration.tcpBacklog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: configuration.tcpKeepalive > 0 ? 1 : 0)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        MemcacheConnectionHandler(
                            server: state, service: service, coalescer: coalescers?.coalescer(for: channel.eventLoop)))
                }
            }
        var channels: [any Channel] = []
        for address in configuration.bind {
            let optional = address.hasPrefix("-")
            let host = optional ? String(address.dropFirst()) : address
            do {
                channels.append(try await bootstrap.bind(host: host, port: port).get())
            } catch  where optional {
                continue
            } catch {
                for channel in channels { try? await channel.close() }
                throw ServerError("Could not bind the memcached port \(host):\(port): \(error)")
            }
        }
        guard !channels.isEmpty else { throw ServerError("No address could be bound for the memcached port") }
        return channels
    }
}
