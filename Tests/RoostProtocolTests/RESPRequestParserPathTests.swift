import NIOCore
import RoostProtocol
import Testing

/// The parser has a one-pass path for complete, canonical multibulks and a resumable path for everything else.
/// Fed whole, a stream takes the one-pass path wherever it can; fed one byte at a time, never (no command is
/// complete when parsing starts). Both must give the same commands and the same error.
@Suite("RESPRequestParser: one-pass and resumable paths agree")
struct RESPRequestParserPathTests {
    /// The outcome of parsing a stream: the commands before the first error, and the error.
    struct Outcome: Equatable {
        var commands: [[String]]
        var error: String?
    }

    static func outcome(_ bytes: [UInt8], chunkSize: Int, limits: RESPRequestLimits) -> Outcome {
        var parser = RESPRequestParser()
        var buffer = ByteBuffer()
        var arguments: [ByteBuffer] = []
        var result = Outcome(commands: [], error: nil)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunkSize)
            buffer.writeBytes(bytes[offset..<end])
            offset = end
            do {
                while try parser.parse(&buffer, into: &arguments, limits: limits) {
                    result.commands.append(arguments.map { String(decoding: $0.readableBytesView, as: UTF8.self) })
                }
            } catch {
                result.error = error.message
                return result
            }
            if !parser.hasPartialCommand { buffer.discardReadBytes() }
        }
        return result
    }

    /// A random request stream: well-formed commands, with some bytes mutated into the characters the grammar
    /// cares about, so that malformed headers, leading zeros, negative and oversized lengths all occur.
    static func randomStream(_ generator: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 1...6, using: &generator) {
            let count = Int.random(in: 0...(Bool.random(using: &generator) ? 3 : 70), using: &generator)
            bytes += Array("*\(count)\r\n".utf8)
            for _ in 0..<count {
                let length = Int.random(in: 0...(Bool.random(using: &generator) ? 5 : 40), using: &generator)
                bytes += Array("$\(length)\r\n".utf8)
                bytes += (0..<length).map { _ in UInt8.random(in: 0x61...0x7A, using: &generator) }
                bytes += Array("\r\n".utf8)
            }
        }
        let alphabet = Array("*$\r\n0123456789-+ x".utf8)
        for _ in 0..<Int.random(in: 0...3, using: &generator) where !bytes.isEmpty {
            bytes[Int.random(in: 0..<bytes.count, using: &generator)] = alphabet.randomElement(using: &generator)!
        }
        return bytes
    }

    @Test(arguments: [
        RESPRequestLimits(),
        RESPRequestLimits(maxBulkLength: 20, maxMultibulkLength: 50),
        RESPRequestLimits(authenticated: false),
    ])
    func wholeAndByteByByteAgree(limits: RESPRequestLimits) {
        var generator = SeededGenerator(seed: 0xC0FFEE)
        for round in 0..<3000 {
            let stream = Self.randomStream(&generator)
            let whole = Self.outcome(stream, chunkSize: stream.count, limits: limits)
            let bytewise = Self.outcome(stream, chunkSize: 1, limits: limits)
            #expect(whole == bytewise, "round \(round): \(String(decoding: stream, as: UTF8.self).debugDescription)")
            if whole != bytewise { return }
        }
    }

    @Test(arguments: [
        "*2\r\n$03\r\nGET\r\n$1\r\nk\r\n",  // leading zero in a length
        "*02\r\n$3\r\nGET\r\n$1\r\nk\r\n",  // leading zero in a count
        "*2\r\n$00\r\n\r\n$1\r\nk\r\n",
        "*1\r\n$-1\r\n",
        "*1\r\n$+1\r\nx\r\n",
        "*-1\r\n*1\r\n$4\r\nPING\r\n",
        "*0\r\n*1\r\n$4\r\nPING\r\n",
        "*1\r\n$1234567890123456789\r\nx\r\n",  // 19 digits: beyond the one-pass path
        "*1\r\n$4 \r\nPING\r\n",
        "*1\r\nx4\r\nPING\r\n",
        "*1\rX$4\rXPINGzz",  // unchecked bytes after CR and after the payload
        "*65\r\n" + String(repeating: "$1\r\na\r\n", count: 65),  // more arguments than the one-pass path takes
        "*11\r\n" + String(repeating: "$1\r\na\r\n", count: 11),  // over the pre-authentication count
        "*1\r\n$16385\r\n" + String(repeating: "a", count: 16385) + "\r\n",  // over the pre-auth length
    ])
    func edgeCasesAgree(_ text: String) {
        let bytes = Array(text.utf8)
        for limits in [RESPRequestLimits(), RESPRequestLimits(authenticated: false)] {
            let whole = Self.outcome(bytes, chunkSize: bytes.count, limits: limits)
            let bytewise = Self.outcome(bytes, chunkSize: 1, limits: limits)
            #expect(whole == bytewise)
        }
    }

    @Test func canonicalCommandsTakeTheOnePassPath() {
        // Not observable from outside except through the result; this pins the common shapes.
        let get = Array("*2\r\n$3\r\nGET\r\n$16\r\nkey:000000012345\r\n".utf8)
        #expect(
            Self.outcome(get + get, chunkSize: 2 * get.count, limits: RESPRequestLimits()).commands == [
                ["GET", "key:000000012345"], ["GET", "key:000000012345"],
            ])
    }
}

/// SplitMix64, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
