import NIOCore

/// The byte handling every connection handler shares (RESP clients, memcached clients, the replica's link).
extension Optional where Wrapped == ByteBuffer {
    /// Appends bytes that just arrived to a connection's receive buffer; an empty or absent buffer is replaced
    /// rather than copied into, so the common case (everything consumed last time) keeps the read's own storage.
    @inline(__always)
    mutating func appendReceived(_ incoming: inout ByteBuffer) {
        if self == nil || self!.readableBytes == 0 {
            self = incoming
        } else {
            self!.writeBuffer(&incoming)
        }
    }
}

extension ChannelHandlerContext {
    /// Hands `replies`' unread bytes to the channel without flushing and marks them read (the caller clears the
    /// buffer at its next read, once the channel has released it). Returns how many bytes were written.
    @inline(__always)
    func writeUnflushed(_ replies: inout ByteBuffer) -> Int {
        let count = replies.readableBytes
        guard count > 0 else { return 0 }
        write(NIOAny(replies), promise: nil)
        replies.moveReaderIndex(to: replies.writerIndex)
        return count
    }
}
