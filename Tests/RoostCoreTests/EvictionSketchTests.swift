import Testing

@testable import RoostCore

@Suite struct EvictionSketchTests {
    /// Count-min never underestimates (below saturation and before any reset), with or without the doorkeeper.
    @Test(arguments: [true, false])
    func estimateIsAtLeastTrueCount(doorkeeper: Bool) {
        var sketch = FrequencySketch(capacity: 512, doorkeeper: doorkeeper)
        var random = EvictionRandom(seed: 7)
        var truth: [UInt64: Int] = [:]
        for _ in 0..<4000 {  // sample size is 5120: no reset
            let item = random.next() % 800
            if truth[item, default: 0] < 14 {
                truth[item, default: 0] += 1
                sketch.increment(item)
            }
        }
        #expect(sketch.resets == 0)
        for (item, count) in truth {
            #expect(sketch.estimate(item) >= count, "item \(item)")
        }
        // And it is a useful estimate: most items are exact or close.
        let close = truth.filter { sketch.estimate($0.key) - $0.value <= 2 }.count
        #expect(close * 10 >= truth.count * 9)
    }

    @Test func countersSaturateAtFifteen() {
        var sketch = FrequencySketch(capacity: 64, doorkeeper: false)
        for _ in 0..<100 { sketch.increment(42) }
        #expect(sketch.estimate(42) == 15)
    }

    /// The doorkeeper absorbs first occurrences: an item seen once never touches the counters.
    @Test func doorkeeperAbsorbsOneHitWonders() {
        var sketch = FrequencySketch(capacity: 1024)
        sketch.increment(1)
        #expect(sketch.estimate(1) == 1)
        sketch.increment(1)
        #expect(sketch.estimate(1) == 2)
        #expect(sketch.estimate(2) == 0)
    }

    /// Reset halves every counter and clears the doorkeeper.
    @Test func resetHalvesCounters() {
        var sketch = FrequencySketch(capacity: 1024)
        for _ in 0..<12 { sketch.increment(9) }  // doorkeeper 1 + counters 11
        for _ in 0..<4 { sketch.increment(10) }  // doorkeeper 1 + counters 3
        #expect(sketch.estimate(9) == 12 && sketch.estimate(10) == 4)
        sketch.reset()
        #expect(sketch.estimate(9) == 5)  // 11 / 2
        #expect(sketch.estimate(10) == 1)  // 3 / 2
        #expect(sketch.resets == 1)
    }

    /// Aging happens by itself every sampleSize (10 × capacity) additions.
    @Test func periodicResetAfterSampleSize() {
        var sketch = FrequencySketch(capacity: 16)
        #expect(sketch.sampleSize == 160)
        for index in 0..<160 { sketch.increment(UInt64(index % 5)) }
        #expect(sketch.resets == 1)
        #expect(sketch.additions == 80)
        #expect(sketch.estimate(0) <= 8)
    }
}
