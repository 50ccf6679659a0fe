import NIOCore
import Testing

@testable import RoostServer

/// Cluster forwarding's pure parts: the response framing reader against every response shape, split at every byte,
/// and the merge of a multi-key retrieval split by owner.
@Suite("Memcache forwarding")
struct MemcacheForwardingTests {
    typealias Expectation = MemcacheResponseReader.Expectation

    /// One complete response of each shape, with the expectation that frames it.
    static let responses: [(Expectation, String)] = [
        (.line, "STORED\r\n"),
        (.line, "NOT_FOUND\r\n"),
        (.line, "18446744073709551615\r\n"),
        (.line, "CLIENT_ERROR bad data chunk\r\n"),
        (.values, "END\r\n"),
        (.values, "VALUE a 0 3\r\nabc\r\nEND\r\n"),
        (.values, "VALUE a 0 3\r\nabc\r\nVALUE bb 5 2 77\r\nxy\r\nEND\r\n"),
        (.values, "VALUE a 0 7\r\n\r\nEND\r\n\r\nEND\r\n"),
        (.values, "VALUE a 0 0\r\n\r\nEND\r\n"),
        (.values, "SERVER_ERROR out of memory storing object\r\n"),
        (.meta, "HD\r\n"),
        (.meta, "HD O123 k\r\n"),
        (.meta, "EN\r\n"),
        (.meta, "VA 3 f5 c9\r\nabc\r\n"),
        (.meta, "VA 0\r\n\r\n"),
        (.meta, "VA 4 W\r\nHD\r\n\r\n"),
        (.meta, "ME key exp=-1 la=0 cas=1 fetch=no cls=1 size=60\r\n"),
        (.untilNoop, "MN\r\n"),
        (.untilNoop, "VA 2\r\nMN\r\nMN\r\n"),
        (.untilNoop, "NS\r\nEX O1\r\nVA 4 O2\r\nMN\r\n\r\nMN\r\n"),
    ]

    @Test("a complete response is read whole, and nothing is read before its last byte", arguments: responses)
    func splitAtEveryByte(_ expectation: Expectation, _ response: String) {
        let bytes = Array(response.utf8)
        for split in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            if split < bytes.count {
                #expect(MemcacheResponseReader.read(&buffer, expecting: expectation) == nil, "split at \(split)")
                #expect(buffer.readableBytes == split)
                buffer.writeBytes(bytes[split...])
            }
            let read = MemcacheResponseReader.read(&buffer, expecting: expectation)
            #expect(read.map { String(buffer: $0) } == response, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("fed one byte at a time, followed by the next response", arguments: responses)
    func byteByByteThenNext(_ expectation: Expectation, _ response: String) {
        var buffer = ByteBuffer()
        var read: [String] = []
        for byte in Array((response + response).utf8) {
            buffer.writeInteger(byte)
            if let one = MemcacheResponseReader.read(&buffer, expecting: expectation) {
                read.append(String(buffer: one))
            }
        }
        #expect(read == [response, response])
        #expect(buffer.readableBytes == 0)
    }

    @Test("the reader finds a response at a reader index past 0")
    func offsetReaderIndex() {
        var buffer = ByteBuffer(string: "xxxxVALUE k 1 2\r\nab\r\nEND\r\nHD\r\n")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(
            MemcacheResponseReader.read(&buffer, expecting: .values).map { String(buffer: $0) }
                == "VALUE k 1 2\r\nab\r\nEND\r\n")
        #expect(MemcacheResponseReader.read(&buffer, expecting: .meta).map { String(buffer: $0) } == "HD\r\n")
    }

    @Test("value blocks of a get response, with their keys; an error or a missing END is nil")
    func valueBlocks() throws {
        let blocks = try #require(
            MemcacheResponseReader.valueBlocks(
                ByteBuffer(string: "VALUE a 0 1\r\nx\r\nVALUE bc 3 2 9\r\nyz\r\nEND\r\n")))
        #expect(blocks.map { String(buffer: $0.key) } == ["a", "bc"])
        #expect(blocks.map { String(buffer: $0.block) } == ["VALUE a 0 1\r\nx\r\n", "VALUE bc 3 2 9\r\nyz\r\n"])
        #expect(MemcacheResponseReader.valueBlocks(ByteBuffer(string: "END\r\n"))?.isEmpty == true)
        #expect(MemcacheResponseReader.valueBlocks(ByteBuffer(string: "SERVER_ERROR x\r\n")) == nil)
        #expect(MemcacheResponseReader.valueBlocks(ByteBuffer(string: "VALUE a 0 1\r\nx\r\n")) == nil)
    }

    static func split(_ keys: [String], parts: [Int], local: String, remote: Int) -> MemcacheSplitRetrieval {
        let request = MemcacheForwardedRequest(
            node: MemcacheNode(host: "127.0.0.1", port: 1), bytes: ByteBuffer(), expectation: .values,
            endsWithNoop: false, waits: true)
        return MemcacheSplitRetrieval(
            keys: keys.map { ByteBuffer(string: $0) }, parts: parts, local: ByteBuffer(string: local),
            remote: Array(repeating: request, count: remote))
    }

    @Test("a split retrieval's parts merge in the order of the request's keys, misses and duplicates included")
    func mergeInKeyOrder() {
        var mc = MemcacheHarness()
        let split = Self.split(
            ["a", "b", "c", "a", "d", "e"], parts: [1, 0, 2, 1, 0, 1], local: "VALUE b 0 1\r\nB\r\nEND\r\n", remote: 2)
        mc.session.merge(
            split,
            responses: [
                ByteBuffer(string: "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE e 1 1\r\nE\r\nEND\r\n"),
                ByteBuffer(string: "VALUE c 0 1\r\nC\r\nEND\r\n"),
            ])
        #expect(
            String(buffer: mc.session.out)
                == "VALUE a 0 1\r\nA\r\nVALUE b 0 1\r\nB\r\nVALUE c 0 1\r\nC\r\nVALUE a 0 1\r\nA\r\nVALUE e 1 1\r\nE\r\nEND\r\n"
        )
    }

    @Test("a failed or erroneous part fails the whole retrieval")
    func mergeFailure() {
        var mc = MemcacheHarness()
        let split = Self.split(["a", "b"], parts: [0, 1], local: "END\r\n", remote: 1)
        mc.session.merge(split, responses: [nil])
        mc.session.merge(split, responses: [ByteBuffer(string: "SERVER_ERROR cluster is down\r\n")])
        #expect(
            String(buffer: mc.session.out) == "SERVER_ERROR forwarding failed\r\n"
                + "SERVER_ERROR forwarding failed\r\n")
    }

    @Test("the inter-node marker line marks the connection and answers nothing")
    func markerLine() {
        var mc = MemcacheHarness()
        #expect(mc("roost_forwarded\r\nmn\r\n") == "MN\r\n")
        #expect(mc.session.carriesForwardedRequests)
    }

    @Test("outside cluster mode every request runs locally")
    func localWithoutCluster() {
        var mc = MemcacheHarness()
        var parser = MemcacheRequestParser()
        var buffer = ByteBuffer(string: "get a b\r\nset a 0 0 1\r\nx\r\nmg a v q\r\n")
        while let request = parser.parse(&buffer, limits: .init()) {
            guard case .local = mc.session.route(request, bytes: ByteBuffer()) else {
                Issue.record("not local")
                return
            }
        }
    }
}
