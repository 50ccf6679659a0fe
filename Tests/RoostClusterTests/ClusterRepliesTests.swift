import RoostCluster
import Testing

@Suite("CLUSTER SLOTS and CLUSTER SHARDS replies")
struct ClusterRepliesTests {
    let view = try! ClusterTopology(nodesFile: redisNodesFile31001)
    let primary = NodeID("05b7936fa9b881555501b18d4ce507be5076726f")!
    let replica = NodeID("787beab97c2f6c21056f2017a88b4fd493c58dc8")!

    @Test("CLUSTER SLOTS has the shape redis-server 7.0.15 sent for the same cluster")
    func slots() {
        guard case .array(let entries) = view.slotsReply() else {
            Issue.record("not an array")
            return
        }
        #expect(entries.count == 3)
        #expect(
            entries[0]
                == .array([
                    .integer(0), .integer(5460),
                    .array([
                        .bulkString("127.0.0.1"), .integer(31001), .bulkString(primary.description),
                        .map([.init("hostname", .bulkString("host-one.example"))]),
                    ]),
                    .array([.bulkString("127.0.0.1"), .integer(31004), .bulkString(replica.description), .map([])]),
                ]))
        guard case .array(let last) = entries[2] else { return }
        #expect(last[0] == .integer(10923) && last[1] == .integer(16383) && last.count == 3)
    }

    @Test("Preferred hostname endpoints move the IP into the metadata")
    func hostnames() {
        guard case .array(let entries) = view.slotsReply(preferredEndpoint: .hostname),
            case .array(let first) = entries[0], case .array(let node) = first[2], case .array(let other) = first[3]
        else {
            Issue.record("unexpected shape")
            return
        }
        #expect(node[0] == .bulkString("host-one.example"))
        #expect(node[3] == .map([.init("ip", .bulkString("127.0.0.1"))]))
        #expect(other[0] == .bulkString("?"))
    }

    @Test("CLUSTER SHARDS: slots as start/end pairs, primary then replicas, health and role")
    func shards() {
        guard case .array(let shards) = view.shardsReply(replicationOffset: { _ in 14 }) else {
            Issue.record("not an array")
            return
        }
        #expect(shards.count == 3)
        guard case .map(let fields) = shards[0], case .array(let nodes) = fields[1].value else {
            Issue.record("unexpected shape")
            return
        }
        #expect(fields[0] == .init("slots", .array([.integer(0), .integer(5460)])))
        #expect(
            nodes[1]
                == .map([
                    .init("id", .bulkString(replica.description)), .init("port", .integer(31004)),
                    .init("ip", .bulkString("127.0.0.1")), .init("endpoint", .bulkString("127.0.0.1")),
                    .init("role", .bulkString("replica")), .init("replication-offset", .integer(14)),
                    .init("health", .bulkString("online")),
                ]))
        guard case .map(let failedShard) = shards[2], case .array(let failedNodes) = failedShard[1].value,
            case .map(let failed) = failedNodes[0]
        else { return }
        #expect(failed.last == .init("health", .bulkString("fail")))
        guard case .map(let loading) = view.shardsReply().arrayElements[0].mapFields[1].value.arrayElements[1] else {
            return
        }
        #expect(loading.last == .init("health", .bulkString("loading")))
    }
}

extension ClusterReplyValue {
    var arrayElements: [ClusterReplyValue] {
        if case .array(let elements) = self { return elements }
        return []
    }
    var mapFields: [Field] {
        if case .map(let fields) = self { return fields }
        return []
    }
}
