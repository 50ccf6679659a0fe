import NIOCore
import RoostCluster
import RoostProtocol
import Testing

@testable import RoostClient

@Suite("RoostClient pure logic: redirections, slot maps, slot groups, backoff")
struct ClusterLogicTests {
    @Test(
        "MOVED and ASK parse; malformed replies do not",
        arguments: [
            ("MOVED 3999 127.0.0.1:6381", ClusterRedirection.Kind.moved, 3999, "127.0.0.1", 6381),
            ("ASK 0 10.0.0.2:7000", .ask, 0, "10.0.0.2", 7000),
            ("MOVED 16383 :7001", .moved, 16383, "seed", 7001),
            ("MOVED 12 ::1:7002", .moved, 12, "::1", 7002),
            ("MOVED 12 [::1]:7003", .moved, 12, "::1", 7003),
            ("ASK 5 cache-2.internal:6379", .ask, 5, "cache-2.internal", 6379),
        ])
    func parsesRedirections(text: String, kind: ClusterRedirection.Kind, slot: Int, host: String, port: Int) throws {
        let redirection = try #require(ClusterRedirection(text[...], defaultHost: "seed"))
        #expect(redirection.kind == kind)
        #expect(redirection.slot == slot)
        #expect(redirection.host == host)
        #expect(redirection.port == port)
    }

    @Test(
        "Non-redirections are rejected",
        arguments: [
            "MOVED", "MOVED 3999", "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
            "MOVED 1 h:70000", "ERR MOVED 1 h:1", "WRONGTYPE Operation", "ASK 1 h:1 extra",
        ])
    func rejectsMalformedRedirections(text: String) {
        #expect(ClusterRedirection(text[...], defaultHost: "seed") == nil)
    }

    @Test("Keys group by slot in first-seen order and merge back in key order")
    func slotGroupsSplitAndMerge() {
        let keys = ["a", "b", "{a}x", "c", "{b}y", "a"]
        let groups = SlotGroups(keys: keys)
        #expect(groups.groups.map(\.positions) == [[0, 2, 5], [1, 4], [3]])
        #expect(groups.groups.map(\.slot) == [keySlot("a"), keySlot("b"), keySlot("c")])
        let perGroup = groups.groups.map { group in group.positions.map { keys[$0] + "!" } }
        #expect(groups.merge(perGroup, count: keys.count, placeholder: "") == keys.map { $0 + "!" })
    }

    @Test("Slot groups of many random keys put every value back at its key's position")
    func slotGroupsRoundTripMany() {
        var generator = SplitMix64(seed: 7)
        let keys = (0..<2000).map { _ in "key:\(generator.next() % 500)" }
        let groups = SlotGroups(keys: keys)
        #expect(groups.groups.allSatisfy { group in group.positions.allSatisfy { keySlot(keys[$0]) == group.slot } })
        #expect(groups.groups.map(\.positions.count).reduce(0, +) == keys.count)
        let merged = groups.merge(
            groups.groups.map { $0.positions.map { keys[$0] } }, count: keys.count, placeholder: "")
        #expect(merged == keys)
    }

    @Test("Backoff doubles up to its maximum and jitters within [d/2, d]")
    func backoff() {
        let backoff = RoostBackoff(initial: .milliseconds(10), maximum: .milliseconds(300))
        #expect(
            (1...7).map { backoff.ceiling(attempt: $0) } == [10, 20, 40, 80, 160, 300, 300].map { .milliseconds($0) })
        #expect(backoff.ceiling(attempt: 1000) == .milliseconds(300))
        var generator = SplitMix64(seed: 1)
        for attempt in 1...12 {
            let ceiling = backoff.ceiling(attempt: attempt)
            for _ in 0..<50 {
                let delay = backoff.delay(attempt: attempt, using: &generator)
                #expect(delay <= ceiling && delay >= ceiling / 2, "attempt \(attempt): \(delay) vs \(ceiling)")
            }
        }
        #expect(RoostBackoff(initial: .seconds(2), maximum: .seconds(1)).maximum == .seconds(2))
    }

    @Test("Durations round up to whole milliseconds for PX and PEXPIRE")
    func milliseconds() {
        #expect(RoostClient.milliseconds(.seconds(30)) == 30_000)
        #expect(RoostClient.milliseconds(.microseconds(1)) == 1)
        #expect(RoostClient.milliseconds(.microseconds(1500)) == 2)
        #expect(RoostClient.milliseconds(.zero) == 0)
        #expect(RoostClient.milliseconds(.milliseconds(-5)) == -5)
    }

    @Test("TTL replies map to missing, persistent and remaining time")
    func timeToLive() {
        #expect(RoostClient.timeToLive(-2, unit: .seconds(1)) == .missing)
        #expect(RoostClient.timeToLive(-1, unit: .seconds(1)) == .persistent)
        #expect(RoostClient.timeToLive(1500, unit: .milliseconds(1)) == .expires(in: .milliseconds(1500)))
    }

    @Test("Server errors keep their prefix as the code and describe the command and node")
    func serverErrorDescription() {
        let error = RoostClientError.server(
            "WRONGTYPE Operation against a key holding the wrong kind of value", command: "GET", node: "h:1")
        #expect(error.code == .serverError)
        #expect(error.serverCode == "WRONGTYPE")
        #expect(error.description == "GET on h:1: WRONGTYPE Operation against a key holding the wrong kind of value")
        let timeout = RoostClientError(.timeout, "no reply within 5 ms", command: "GET", node: "h:1")
        #expect(timeout.description == "GET on h:1: timeout: no reply within 5 ms")
    }
}
