import RoostCluster
import Testing

/// `nodes.conf` of node 31001 of a real redis-server 7.0.15 cluster (31003 killed, slot 7 migrating, hostname set).
let redisNodesFile31001 = """
    bb5281d920b0ee03c114cd3e5991e0c77ca5d1a0 127.0.0.1:31003@41003 master,fail - 1795904098924 1795904097919 3 \
    disconnected 10923-16383
    5c14bbf87fc8c4b34282b9d10ac96ebff6661421 127.0.0.1:31002@41002 master - 0 1795904100932 2 connected 5461-10922
    787beab97c2f6c21056f2017a88b4fd493c58dc8 127.0.0.1:31004@41004 slave 05b7936fa9b881555501b18d4ce507be5076726f \
    0 1795904100230 1 connected
    05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:31001@41001,host-one.example myself,master - 0 1795904100000 \
    1 connected 0-5460 [7->-5c14bbf87fc8c4b34282b9d10ac96ebff6661421]
    vars currentEpoch 3 lastVoteEpoch 0

    """

/// `nodes.conf` of node 31002 of the same cluster (importing two slots).
let redisNodesFile31002 = """
    05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:31001@41001,host-one.example master - 0 1795904101133 1 \
    connected 0-5460
    5c14bbf87fc8c4b34282b9d10ac96ebff6661421 127.0.0.1:31002@41002 myself,master - 0 1795904100000 2 connected \
    5461-10922 [7-<-05b7936fa9b881555501b18d4ce507be5076726f] [9-<-bb5281d920b0ee03c114cd3e5991e0c77ca5d1a0]
    bb5281d920b0ee03c114cd3e5991e0c77ca5d1a0 127.0.0.1:31003@41003 master,fail - 1795904098925 1795904097921 3 \
    disconnected 10923-16383
    787beab97c2f6c21056f2017a88b4fd493c58dc8 127.0.0.1:31004@41004 slave 05b7936fa9b881555501b18d4ce507be5076726f \
    0 1795904100932 1 connected
    vars currentEpoch 3 lastVoteEpoch 0

    """

func node(_ byte: UInt8) -> NodeID {
    NodeID(
        String(
            repeating: String(byte, radix: 16).count == 1 ? "0\(String(byte, radix: 16))" : String(byte, radix: 16),
            count: 20))!
}

@Suite("Node IDs, slot sets and slot maps")
struct SlotMapTests {
    @Test("Node IDs parse 40 hex characters, print lower case and order like memcmp")
    func nodeIDs() {
        let text = "05b7936fa9b881555501b18d4ce507be5076726f"
        let id = NodeID(text)!
        #expect(id.description == text)
        #expect(NodeID(text.uppercased()) == id)
        #expect(NodeID(String(text.dropLast())) == nil)
        #expect(NodeID(text.dropLast() + "g") == nil)
        #expect(id.bytes.count == 20)
        let ids = (0..<50).map { _ in NodeID.random() }
        #expect(ids.sorted() == ids.sorted { $0.description < $1.description })
    }

    @Test("Slot sets: ranges, counts and set algebra")
    func slotSets() {
        var set = SlotSet([0...5460, 7...7, 16383...16383])
        #expect(set.count == 5462)
        #expect(set.ranges == [0...5460, 16383...16383])
        set.remove(100)
        #expect(set.ranges == [0...99, 101...5460, 16383...16383])
        #expect(SlotSet.all.count == 16384)
        #expect(SlotSet.all.subtracting(set).union(set) == .all)
        #expect(SlotSet().isEmpty)
    }

    @Test("Claims: a higher config epoch wins, an equal or lower one is refused, importing slots are kept")
    func claims() {
        let a = node(0xAA)
        let b = node(0xBB)
        var epochs: [NodeID: UInt64] = [a: 5, b: 5]
        var map = SlotMap()
        map.assign(SlotSet([0...99]), to: a)
        var result = map.claim(SlotSet([50...149]), by: b, configEpoch: 5) { epochs[$0] ?? 0 }
        #expect(result.gained == SlotSet([100...149]))
        #expect(result.refused == SlotSet([50...99]))
        #expect(map.ranges(of: a) == [0...99])
        epochs[b] = 6
        map.setImporting(60, from: a)
        result = map.claim(SlotSet([50...149]), by: b, configEpoch: 6) { epochs[$0] ?? 0 }
        #expect(result.lost[a] == SlotSet([50...59, 61...99]))
        #expect(map.ranges(of: a) == [0...49, 60...60])
        #expect(map.ranges(of: b) == [50...59, 61...149])
        #expect(map.slotCounts == [a: 51, b: 99])
        #expect(!map.isFullyCovered)
        map.removeOwner(a)
        #expect(map.owner(of: 0) == nil && map.importing.isEmpty)
    }

    @Test("Maps compare by owner per slot, whatever order owners were first seen in")
    func equality() {
        var first = SlotMap()
        var second = SlotMap()
        first.assign(SlotSet([0...10]), to: node(1))
        first.assign(SlotSet([11...20]), to: node(2))
        second.assign(SlotSet([11...20]), to: node(2))
        second.assign(SlotSet([0...10]), to: node(1))
        #expect(first == second)
        second.assign(3, to: node(2))
        #expect(first != second)
    }
}

@Suite("Topology and epochs")
struct TopologyEpochTests {
    func topology(_ me: UInt8, epoch: UInt64) -> ClusterTopology {
        ClusterTopology(myself: ClusterNode(id: node(me), ip: "127.0.0.1", port: 7000, configEpoch: epoch))
    }

    @Test("The node with the smaller ID bumps its config epoch on a collision; the other does not")
    func collision() {
        var small = topology(0x01, epoch: 3)
        var large = topology(0x02, epoch: 3)
        small.upsert(ClusterNode(id: node(0x02), ip: "127.0.0.1", port: 7001, configEpoch: 3))
        large.upsert(ClusterNode(id: node(0x01), ip: "127.0.0.1", port: 7000, configEpoch: 3))
        let largeBumped = large.resolveConfigEpochCollision(with: node(0x01))
        let smallBumped = small.resolveConfigEpochCollision(with: node(0x02))
        #expect(!largeBumped && smallBumped)
        #expect(small.myselfNode.configEpoch == 4 && small.currentEpoch == 4)
        let again = small.resolveConfigEpochCollision(with: node(0x02))
        #expect(!again)
    }

    @Test("Epochs only grow; BUMPEPOCH and SET-CONFIG-EPOCH follow Redis")
    func epochs() throws {
        var view = topology(0x01, epoch: 0)
        try view.setConfigEpoch(7)
        #expect(view.currentEpoch == 7)
        #expect(throws: ClusterTopology.ConfigEpochError.self) { try view.setConfigEpoch(9) }
        let lowered = view.observeCurrentEpoch(3)
        #expect(!lowered)
        let still = view.bumpConfigEpoch()
        #expect(still == (false, 7))
        view.upsert(ClusterNode(id: node(0x02), ip: "127.0.0.1", port: 7001, configEpoch: 9))
        let bumped = view.bumpConfigEpoch()
        #expect(bumped == (true, 10))
        var other = topology(0x03, epoch: 0)
        other.upsert(ClusterNode(id: node(0x04), ip: "127.0.0.1", port: 7001))
        #expect(throws: ClusterTopology.ConfigEpochError.self) { try other.setConfigEpoch(1) }
    }

    @Test("A slot claim records the claimant's greater epoch and moves only slots of older owners")
    func slotClaim() {
        var view = topology(0x01, epoch: 1)
        view.slots.assign(SlotSet([0...8191]), to: node(0x01))
        view.upsert(ClusterNode(id: node(0x02), ip: "127.0.0.1", port: 7001, configEpoch: 1))
        var result = view.applySlotClaim(by: node(0x02), configEpoch: 1, slots: SlotSet([8000...9000]))
        #expect(result.gained == SlotSet([8192...9000]) && result.refused == SlotSet([8000...8191]))
        result = view.applySlotClaim(by: node(0x02), configEpoch: 2, slots: SlotSet([8000...9000]))
        #expect(result.lost[node(0x01)] == SlotSet([8000...8191]))
        #expect(view[node(0x02)]?.configEpoch == 2 && view.currentEpoch == 2)
        view.applySlotClaim(by: node(0x02), configEpoch: 1, slots: SlotSet())
        #expect(view[node(0x02)]?.configEpoch == 2)
    }
}

@Suite("CLUSTER NODES and nodes.conf")
struct NodesFileTests {
    @Test("Redis-written nodes.conf files load and are written back byte for byte", arguments: [0, 1])
    func redisRoundTrip(index: Int) throws {
        let file = [redisNodesFile31001, redisNodesFile31002][index]
        let view = try ClusterTopology(nodesFile: file)
        let expected = Set(file.split(separator: "\n").map(String.init))
        #expect(Set(view.nodesFile.split(separator: "\n").map(String.init)) == expected)
        #expect(view.currentEpoch == 3 && view.lastVoteEpoch == 0)
        #expect(view.slots.isFullyCovered)
        #expect(view.nodesFile.hasSuffix("vars currentEpoch 3 lastVoteEpoch 0\n"))
        let reloaded = try ClusterTopology(nodesFile: view.nodesFile)
        #expect(reloaded == view)
    }

    @Test("Fields of a Redis line")
    func fields() throws {
        let view = try ClusterTopology(nodesFile: redisNodesFile31001)
        let me = view.myselfNode
        #expect(me.id.description == "05b7936fa9b881555501b18d4ce507be5076726f")
        #expect(me.hostname == "host-one.example" && me.busPort == 41001 && me.flags == [.myself, .primary])
        #expect(view.slots.migrating == [7: NodeID("5c14bbf87fc8c4b34282b9d10ac96ebff6661421")!])
        let failed = view[NodeID("bb5281d920b0ee03c114cd3e5991e0c77ca5d1a0")!]!
        #expect(failed.flags == [.primary, .failed] && failed.linkState == .disconnected)
        #expect(failed.pingSent == 1_795_904_098_924)
        let replica = view[NodeID("787beab97c2f6c21056f2017a88b4fd493c58dc8")!]!
        #expect(replica.primaryID == me.id && replica.flags == [.replica])
        #expect(view.replicas(of: me.id).map(\.id) == [replica.id])
        #expect(view.primaryQuorum == 2)
        let importing = try ClusterTopology(nodesFile: redisNodesFile31002)
        #expect(importing.slots.importing.count == 2)
    }

    @Test("Tolerant reading: no bus port, Redis 7.2 auxiliary fields, CRLF, blank lines, unknown flags and vars")
    func tolerant() throws {
        let file = """
            e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001 myself,master,newflag - 0 0 1 connected 0-5 9\r

            67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 ::1:30002@40002,,tls-port=0,shard-id=abc master - 0 0 2 \
            connected 10
            vars currentEpoch 2 lastVoteEpoch 1 futureVar 9
            """
        let view = try ClusterTopology(nodesFile: file)
        #expect(view.myselfNode.busPort == 40001)
        #expect(view.myselfNode.flags == [.myself, .primary])
        let other = view[NodeID("67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1")!]!
        #expect(other.ip == "::1" && other.port == 30002 && other.busPort == 40002 && other.hostname == "")
        #expect(view.slots.ranges(of: view.myself) == [0...5, 9...9])
        #expect(view.lastVoteEpoch == 1)
    }

    @Test(
        "Malformed files are refused with the line number",
        arguments: [
            "zz 127.0.0.1:1@2 myself,master - 0 0 1 connected",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 myself,master - 0 0 1",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1 myself,master - 0 0 1 connected",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 myself,master - 0 0 x connected",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 myself,master - 0 0 1 connected 5-3",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 myself,master - 0 0 1 connected 16384",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 myself,master - 0 0 1 connected [5->-zz]",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:1@2 master - 0 0 1 connected",
            "05b7936fa9b881555501b18d4ce507be5076726f 127.0.0.1:99999@2 myself,master - 0 0 1 connected",
            "vars currentEpoch",
        ])
    func malformed(file: String) {
        #expect(throws: ClusterTopology.NodesFileError.self) { try ClusterTopology(nodesFile: file) }
    }

    @Test("CLUSTER NODES: a replica shows its primary's epoch, myself is connected, moves only on myself")
    func description() throws {
        let me = node(0x01)
        var view = ClusterTopology(
            myself: ClusterNode(id: me, ip: "10.0.0.1", port: 7000, configEpoch: 4, linkState: .disconnected))
        view.upsert(
            ClusterNode(
                id: node(0x02), ip: "10.0.0.2", port: 7001, flags: [.replica], primaryID: me, pingSent: 5,
                pongReceived: 6, linkState: .disconnected))
        view.slots.assign(SlotSet([0...10, 12...12]), to: me)
        view.slots.setMigrating(12, to: node(0x02))
        let lines = view.nodesDescription.split(separator: "\n")
        #expect(
            lines[0] == "\(me) 10.0.0.1:7000@17000 myself,master - 0 0 4 connected 0-10 12 [12->-\(node(0x02))]")
        #expect(lines[1] == "\(node(0x02)) 10.0.0.2:7001@17001 slave \(me) 5 6 4 disconnected")
    }

    @Test("After a restart, other nodes are disconnected with no ping outstanding")
    func restart() throws {
        var view = try ClusterTopology(nodesFile: redisNodesFile31001)
        view.resetLinksAfterRestart(now: 42)
        let others = view.nodes.values.filter { $0.id != view.myself }
        #expect(others.allSatisfy { $0.linkState == .disconnected && $0.pingSent == 0 && $0.pongReceived == 42 })
        #expect(view.myselfNode.linkState == .connected)
    }
}
