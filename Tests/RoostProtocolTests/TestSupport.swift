import NIOCore
import RoostProtocol

/// Test helpers shared by the RoostProtocol tests.
enum Fixture {
    /// A buffer holding the bytes of `text` (Latin-1 is not used: tests use ASCII and `\u{..}` < 0x80).
    static func buffer(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    /// A buffer holding `bytes`.
    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    /// Feeds `chunks` one after another into a cumulation buffer, parsing after each, as a channel handler
    /// would; returns the commands as arrays of strings and the number of parse calls.
    static func parseAll(
        _ chunks: [ArraySlice<UInt8>],
        limits: RESPRequestLimits = RESPRequestLimits()
    ) throws(RESPProtocolError) -> (commands: [[String]], calls: Int) {
        var parser = RESPRequestParser()
        var buffer = ByteBuffer()
        var arguments: [ByteBuffer] = []
        var commands: [[String]] = []
        var calls = 0
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while true {
                calls += 1
                guard try parser.parse(&buffer, into: &arguments, limits: limits) else { break }
                commands.append(arguments.map { String(buffer: $0) })
            }
            if !parser.hasPartialCommand { buffer.discardReadBytes() }
        }
        return (commands, calls)
    }

    /// Parses `bytes` fed in one piece.
    static func parseAll(
        _ bytes: [UInt8],
        limits: RESPRequestLimits = RESPRequestLimits()
    ) throws(RESPProtocolError) -> [[String]] {
        try self.parseAll([bytes[...]], limits: limits).commands
    }

    /// The error parsing `bytes` throws, or nil.
    static func error(_ bytes: [UInt8], limits: RESPRequestLimits = RESPRequestLimits()) -> String? {
        do {
            _ = try self.parseAll(bytes, limits: limits)
            return nil
        } catch {
            return error.message
        }
    }

    /// The bytes written by `body` to a fresh buffer, as a string.
    static func written(_ body: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        body(&buffer)
        return String(buffer: buffer)
    }
}

extension RESPValue {
    /// A bulk string from text.
    static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }
    /// A simple string from text.
    static func simple(_ text: String) -> RESPValue { .simpleString(ByteBuffer(string: text)) }
}
