public import NIOCore
import RoostProtocol

/// A value that can be sent as one command argument: a RESP bulk string.
///
/// Strings are sent as their UTF-8 bytes, numbers in decimal as Redis expects. Conform your own type to send it
/// without going through a `String`.
public protocol RoostArgument: Sendable {
    /// Writes the value as one RESP bulk string (`$<length>\r\n<bytes>\r\n`).
    func writeRESPBulkString(into buffer: inout ByteBuffer)
}

extension String: RoostArgument {
    /// Writes the string's UTF-8 bytes as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Substring: RoostArgument {
    /// Writes the substring's UTF-8 bytes as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self.utf8)
    }
}

extension ByteBuffer: RoostArgument {
    /// Writes the readable bytes as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Array: RoostArgument where Element == UInt8 {
    /// Writes the bytes as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Int: RoostArgument {
    /// Writes the number in decimal as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(String(self))
    }
}

extension Int64: RoostArgument {
    /// Writes the number in decimal as a bulk string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(String(self))
    }
}

extension Double: RoostArgument {
    /// Writes the number as a bulk string in Swift's shortest round-tripping form (`inf`/`-inf` for infinities).
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        if self.isInfinite {
            buffer.writeRESPBulkString(self < 0 ? "-inf" : "inf")
        } else {
            buffer.writeRESPBulkString(String(self))
        }
    }
}

extension ByteBuffer {
    /// Writes a RESP command header and its name: `*<count>\r\n$<n>\r\n<name>\r\n`.
    mutating func writeRoostCommand(_ name: StaticString, argumentCount: Int) {
        self.writeRESPArrayHeader(argumentCount + 1)
        self.writeRESPBulkString(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }
}
