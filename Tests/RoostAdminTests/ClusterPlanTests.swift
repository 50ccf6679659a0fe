import RoostAdmin
import Testing

@Suite struct ClusterPlanTests {
    @Test func slotRangesMatchRedisCli() {
        #expect(ClusterPlan.slotRanges(primaries: 3) == [0...5460, 5461...10922, 10923...16383])
        let six = ClusterPlan.slotRanges(primaries: 6)
        #expect(six == [0...2730, 2731...5460, 5461...8191, 8192...10922, 10923...13652, 13653...16383])
        for count in [1, 3, 5, 7, 100, 1000] {
            let ranges = ClusterPlan.slotRanges(primaries: count)
            #expect(ranges.count == count)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == 16383)
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound + 1 == b.lowerBound) }
        }
    }

    @Test func endpoints() {
        #expect(Endpoint("127.0.0.1:7000") == Endpoint(host: "127.0.0.1", port: 7000))
        #expect(Endpoint("[::1]:7000") == Endpoint(host: "::1", port: 7000))
        #expect(Endpoint("localhost:7000")?.description == "localhost:7000")
        #expect(Endpoint("7000") == nil)
        #expect(Endpoint(":7000") == nil)
        #expect(Endpoint("host:0") == nil)
        #expect(Endpoint("host:70000") == nil)
    }

    @Test func ownersRangesAndDescriptions() throws {
        let text = """
            e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 \
            [5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
            292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922 16383

            """
        let lines = try ClusterPlan.parseNodes(text)
        #expect(lines.count == 2)
        #expect(lines[0].importing.keys.sorted() == [5461])
        let owners = ClusterPlan.owners(lines)
        #expect(owners[0] == lines[0].node.id && owners[5461] == lines[1].node.id && owners[16383] == lines[1].node.id)
        let uncovered = ClusterPlan.ranges { owners[$0] == nil }
        #expect(uncovered == [10923...16382])
        #expect(ClusterPlan.describe([0...5460, 7...7]) == "0-5460,7")
        #expect(ClusterPlan.ranges { _ in true } == [0...16383])
        #expect(ClusterPlan.ranges { _ in false } == [])
    }

    @Test func clusterInfoFields() {
        let info = ClusterPlan.parseInfo("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n")
        #expect(info["cluster_state"] == "ok" && info["cluster_slots_assigned"] == "16384")
    }
}
