import NIOCore
import RoostProtocol
import Testing

@testable import RoostClient

@Suite("Slot maps from CLUSTER SHARDS and CLUSTER SLOTS replies")
struct SlotMapTests {
    private func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    private func node(_ ip: String, _ port: Int, role: String, health: String = "online", endpoint: String? = nil)
        -> RESPValue
    {
        .map([
            .init(key: bulk("id"), value: bulk("id-\(port)")),
            .init(key: bulk("port"), value: .integer(Int64(port))),
            .init(key: bulk("ip"), value: bulk(ip)),
            .init(key: bulk("endpoint"), value: bulk(endpoint ?? ip)),
            .init(key: bulk("role"), value: bulk(role)),
            .init(key: bulk("replication-offset"), value: .integer(10)),
            .init(key: bulk("health"), value: bulk(health)),
        ])
    }

    private func shard(_ ranges: [Int64], _ nodes: [RESPValue]) -> RESPValue {
        .map([
            .init(key: bulk("slots"), value: .array(ranges.map { .integer($0) })),
            .init(key: bulk("nodes"), value: .array(nodes)),
        ])
    }

    @Test("CLUSTER SHARDS: the online master owns the slots; replicas not failed are kept, failed ones dropped")
    func fromShards() throws {
        let reply = RESPValue.array([
            shard(
                [0, 5460, 10923, 10923],
                [
                    node("10.0.0.1", 7000, role: "replica", health: "fail"),
                    node("10.0.0.2", 7001, role: "master"),
                    node("10.0.0.3", 7002, role: "replica"),
                ]),
            shard([5461, 10922], [node("", 7003, role: "master", endpoint: "?")]),
            shard([10924, 16383], [node("10.0.0.5", 7005, role: "master")]),
        ])
        let map = try ClusterSlotMap.fromShards(reply, defaultHost: "seed")
        #expect(map.shard(forSlot: 0)?.primary.description == "10.0.0.2:7001")
        #expect(map.shard(forSlot: 5460)?.replicas.map(\.description) == ["10.0.0.3:7002"])
        #expect(map.shard(forSlot: 10923)?.primary.description == "10.0.0.2:7001")
        #expect(map.shard(forSlot: 5461)?.primary.description == "seed:7003")
        #expect(map.shard(forSlot: 16383)?.primary.description == "10.0.0.5:7005")
        #expect(map.slotOwners.allSatisfy { $0 >= 0 })
    }

    @Test("CLUSTER SHARDS in RESP2 (flat key/value arrays) reads the same")
    func fromShardsRESP2() throws {
        func flat(_ value: RESPValue) -> RESPValue {
            switch value {
            case .map(let pairs): .array(pairs.flatMap { [flat($0.key), flat($0.value)] })
            case .array(let elements?): .array(elements.map(flat))
            default: value
            }
        }
        let resp3 = RESPValue.array([shard([0, 16383], [node("127.0.0.1", 7000, role: "master")])])
        #expect(
            try ClusterSlotMap.fromShards(flat(resp3), defaultHost: "x")
                == ClusterSlotMap.fromShards(resp3, defaultHost: "x"))
    }

    @Test("CLUSTER SLOTS: ranges, primary first, replicas after; an empty host is the answering node")
    func fromSlots() throws {
        func entry(_ start: Int64, _ end: Int64, _ nodes: [(String, Int64)]) -> RESPValue {
            .array(
                [.integer(start), .integer(end)]
                    + nodes.map { .array([bulk($0.0), .integer($0.1), bulk("id")]) })
        }
        let reply = RESPValue.array([
            entry(0, 8191, [("127.0.0.1", 7000), ("127.0.0.1", 7003)]),
            entry(8192, 16000, [("", 7001)]),
            entry(16001, 16383, [("127.0.0.1", 7000)]),
        ])
        let map = try ClusterSlotMap.fromSlots(reply, defaultHost: "seed")
        #expect(map.shards.count == 2)
        #expect(map.shard(forSlot: 100)?.replicas.map(\.description) == ["127.0.0.1:7003"])
        #expect(map.shard(forSlot: 9000)?.primary.description == "seed:7001")
        #expect(map.shard(forSlot: 16383)?.primary.description == "127.0.0.1:7000")
    }

    @Test("A MOVED patches one slot, to a known primary or a new shard")
    func moved() throws {
        var map = try ClusterSlotMap.fromSlots(
            .array([
                .array([.integer(0), .integer(16383), .array([bulk("h"), .integer(1)])])
            ]), defaultHost: "h")
        map.moved(slot: 42, to: .init(host: "h2", port: 2))
        #expect(map.shard(forSlot: 42)?.primary.description == "h2:2")
        #expect(map.shard(forSlot: 43)?.primary.description == "h:1")
        map.moved(slot: 43, to: .init(host: "h2", port: 2))
        #expect(map.shards.count == 2)
        map.moved(slot: 42, to: .init(host: "h", port: 1))
        #expect(map.shard(forSlot: 42)?.primary.description == "h:1")
    }

    @Test("Malformed replies are errors, not partial maps")
    func malformed() {
        #expect(throws: ClusterSlotMap.ParseError.self) {
            try ClusterSlotMap.fromSlots(.array([.array([.integer(5), .integer(2), .array([])])]), defaultHost: "h")
        }
        #expect(throws: ClusterSlotMap.ParseError.self) {
            try ClusterSlotMap.fromShards(.integer(1), defaultHost: "h")
        }
    }
}
