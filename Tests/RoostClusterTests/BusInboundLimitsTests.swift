import RoostCluster
import Testing

@Suite struct BusInboundLimitsTests {
    @Test(arguments: [(1, 34), (3, 38), (100, 232), (1_000, 2_032)])
    func connectionCapGrowsWithKnownNodes(knownNodes: Int, cap: Int) {
        let limits = BusInboundLimits(nodeTimeout: 15_000)
        #expect(limits.maximumConnections(knownNodes: knownNodes) == cap)
        #expect(limits.admits(open: cap - 1, knownNodes: knownNodes))
        #expect(!limits.admits(open: cap, knownNodes: knownNodes))
    }

    @Test(arguments: [(100, 1_000, 60_000), (2_000, 2_000, 60_000), (15_000, 5_000, 60_000), (30_000, 5_000, 120_000)])
    func timeoutsFollowTheNodeTimeout(nodeTimeout: Int64, frame: Int64, idle: Int64) {
        let limits = BusInboundLimits(nodeTimeout: nodeTimeout)
        #expect(limits.frameTimeout == frame)
        #expect(limits.idleTimeout == idle)
    }

    @Test func firstFrameMustCompleteWithinTheFrameTimeoutHoweverTheBytesTrickle() {
        let limits = BusInboundLimits(nodeTimeout: 2_000)
        var link = BusInboundLimits.Link(limits: limits, opened: 1_000)
        #expect(link.deadline == 3_000)
        link.onRead(now: 1_500, frames: 0, buffered: 12)
        link.onRead(now: 2_900, frames: 0, buffered: 13)
        #expect(link.deadline == 3_000)
        #expect(!link.isExpired(now: 2_999))
        #expect(link.isExpired(now: 3_000))
    }

    @Test func aStartedFrameMustCompleteAndAnIdleLinkGetsTheIdleTimeout() {
        let limits = BusInboundLimits(nodeTimeout: 2_000)
        var link = BusInboundLimits.Link(limits: limits, opened: 0)
        link.onRead(now: 100, frames: 1, buffered: 0)
        #expect(link.deadline == 100 + limits.idleTimeout)
        link.onRead(now: 10_000, frames: 0, buffered: 5)  // a frame starts: the frame timeout from its first byte
        link.onRead(now: 11_000, frames: 0, buffered: 50)
        #expect(link.deadline == 12_000)
        link.onRead(now: 11_500, frames: 1, buffered: 7)  // one completes and the next starts
        #expect(link.deadline == 13_500)
        link.onRead(now: 12_000, frames: 1, buffered: 0)
        #expect(link.deadline == 12_000 + limits.idleTimeout)
        #expect(link.lastFrame == 12_000 && link.partialSince == nil)
    }

    @Test func logBudgetLetsABurstThroughPerIntervalAndCountsTheRest() {
        var budget = BusInboundLimits.LogBudget(burst: 3, interval: 1_000)
        #expect((0..<3).map { budget.take(now: Int64($0)) } == [0, 0, 0])
        #expect((0..<500).allSatisfy { _ in budget.take(now: 10) == nil })
        #expect(budget.take(now: 999) == nil)
        #expect(budget.take(now: 1_000) == 501)
        #expect(budget.take(now: 1_001) == 0)
    }
}
