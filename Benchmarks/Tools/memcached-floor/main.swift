// The floor under Roost's memcached port: the least a SwiftNIO server can do to answer memcaslap's get/set load
// (a dictionary on one event loop, no limits, no statistics, no expiry). `scripts/bench-memcached --floor` runs it
// beside memcached and roostd, so the ratio floor/memcached says how much of Roost's gap is NIO's own cost per
// request and how much is Roost's. Not a server: it trusts its input and answers only get and set.
import NIOCore
import NIOPosix

final class Store: @unchecked Sendable {  // touched only on its one event loop
    var items: [ByteBuffer: ByteBuffer] = [:]
}

final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let store: Store
    var inbound: ByteBuffer?
    var out = ByteBuffer()

    init(store: Store) { self.store = store }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if inbound == nil { inbound = incoming } else { inbound!.writeBuffer(&incoming) }
        var buffer = inbound!
        inbound = nil
        while let line = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let start = buffer.readerIndex
            if nullMode, buffer.getInteger(at: start, as: UInt8.self) == UInt8(ascii: "g") {
                // Only NIO's cost: every get misses, without looking.
                buffer.moveReaderIndex(forwardBy: line - start + 1)
                out.writeStaticString("END\r\n")
                continue
            }
            let lineLength = line - start + 1
            let words = buffer.getSlice(at: start, length: lineLength - 2)!.readableBytesView.split(separator: 0x20)
            guard let verb = words.first else { break }
            if verb.elementsEqual("get".utf8) {
                buffer.moveReaderIndex(forwardBy: lineLength)
                for word in words.dropFirst() {
                    let key = ByteBuffer(bytes: word)
                    if let value = store.items[key] {
                        out.writeString("VALUE ")
                        out.writeBytes(word)
                        out.writeString(" 0 \(value.readableBytes)\r\n")
                        out.writeImmutableBuffer(value)
                        out.writeString("\r\n")
                    }
                }
                out.writeString("END\r\n")
            } else if verb.elementsEqual("set".utf8), words.count >= 5,
                let size = Int(String(decoding: words[4], as: UTF8.self))
            {
                guard buffer.readableBytes >= lineLength + size + 2 else { break }
                buffer.moveReaderIndex(forwardBy: lineLength)
                store.items[ByteBuffer(bytes: words[1])] = buffer.readSlice(length: size)
                buffer.moveReaderIndex(forwardBy: 2)
                out.writeString("STORED\r\n")
            } else if verb.elementsEqual("version".utf8) {
                buffer.moveReaderIndex(forwardBy: lineLength)
                out.writeString("VERSION nio-floor\r\n")
            } else {
                buffer.moveReaderIndex(forwardBy: lineLength)
                out.writeString("ERROR\r\n")
            }
        }
        if buffer.readableBytes > 0 { inbound = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out = context.channel.allocator.buffer(capacity: 1024)
    }
}

let nullMode = CommandLine.arguments.count > 2 && CommandLine.arguments[2] == "null"
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 11311 : 11311
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let store = Store()
let channel = try await ServerBootstrap(group: group)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FloorHandler(store: store))
        }
    }
    .bind(host: "127.0.0.1", port: port).get()
print("memcached-floor on 127.0.0.1:\(port)")
try await channel.closeFuture.get()
