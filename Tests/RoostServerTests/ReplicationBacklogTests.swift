import Testing

@testable import RoostServer

/// The backlog a primary keeps for partial resynchronisation: offsets, wrap-around, and what it can serve.
@Suite struct ReplicationBacklogTests {
    private func append(_ backlog: inout ReplicationBacklog, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { backlog.append($0) }
    }

    @Test func servesEveryOffsetItHolds() {
        var backlog = ReplicationBacklog(capacity: 8, endOffset: 100)
        #expect(backlog.bytes(from: 100) == [])
        #expect(backlog.bytes(from: 99) == nil)
        append(&backlog, [1, 2, 3])
        #expect(backlog.firstOffset == 100)
        #expect(backlog.endOffset == 103)
        #expect(backlog.bytes(from: 100) == [1, 2, 3])
        #expect(backlog.bytes(from: 102) == [3])
        #expect(backlog.bytes(from: 103) == [])
        #expect(backlog.bytes(from: 104) == nil)
    }

    @Test func dropsTheOldestBytesWhenFull() {
        var backlog = ReplicationBacklog(capacity: 8, endOffset: 0)
        append(&backlog, Array(0..<6))
        append(&backlog, Array(6..<11))
        #expect(backlog.count == 8)
        #expect(backlog.firstOffset == 3)
        #expect(backlog.bytes(from: 3) == Array(3..<11))
        #expect(backlog.bytes(from: 2) == nil)
        #expect(backlog.bytes(from: 9) == [9, 10])
    }

    @Test func anAppendLargerThanTheCapacityKeepsItsTail() {
        var backlog = ReplicationBacklog(capacity: 4, endOffset: 10)
        append(&backlog, [1])
        append(&backlog, Array(0..<10))
        #expect(backlog.endOffset == 21)
        #expect(backlog.firstOffset == 17)
        #expect(backlog.bytes(from: 17) == [6, 7, 8, 9])
    }

    /// Against a model: the last `capacity` bytes of everything appended, at every offset.
    @Test func matchesAModelUnderRandomAppends() {
        var generator = SystemRandomNumberGenerator()
        for capacity in [1, 3, 16, 100] {
            var backlog = ReplicationBacklog(capacity: capacity, endOffset: 0)
            var stream: [UInt8] = []
            for _ in 0..<200 {
                let chunk = (0..<Int.random(in: 0...(capacity * 2), using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                append(&backlog, chunk)
                stream += chunk
                let kept = min(stream.count, capacity)
                #expect(backlog.endOffset == Int64(stream.count))
                #expect(backlog.firstOffset == Int64(stream.count - kept))
                let from = Int.random(in: (stream.count - kept)...stream.count, using: &generator)
                #expect(backlog.bytes(from: Int64(from)) == Array(stream[from...]))
            }
            backlog.reset(endOffset: 5)
            #expect(backlog.count == 0)
            #expect(backlog.bytes(from: 5) == [])
        }
    }
}
