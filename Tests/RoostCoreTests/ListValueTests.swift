import Testing

@testable import RoostCore

/// `ListValue` against an `Array` model: random pushes, pops, inserts, sets, removals and trims at every position,
/// through the ring's growth, wrap-around and shrinking; payload and footprint must follow. Every seed replays exactly.
@Suite struct ListValueTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 1234, 99_991]

    @Test(arguments: seeds)
    func randomOperationsMatchTheArrayModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var list = ListValue()
        var model: [[UInt8]] = []
        for step in 0..<4_000 {
            // Phases that grow, then drain, so the ring both grows and shrinks.
            let growing = (step / 500) % 2 == 0
            let element = Array(
                repeating: UInt8(ascii: "a") + UInt8(step % 26), count: Int.random(in: 0..<5, using: &random))
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<(growing ? 25 : 10):
                list.append(element)
                model.append(element)
            case 25..<50 where growing, 10..<20 where !growing:
                list.prepend(element)
                model.insert(element, at: 0)
            case 50..<65:
                #expect(list.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            case 65..<80:
                #expect(list.popLast() == model.popLast())
            case 80..<86:
                let position = Int.random(in: 0...model.count, using: &random)
                list.insert(element, at: position)
                model.insert(element, at: position)
            case 86..<90 where !model.isEmpty:
                let position = Int.random(in: 0..<model.count, using: &random)
                list[position] = element
                model[position] = element
            case 90..<94:
                let target = element
                let removed = list.removeAll { _, value in value == target }
                let before = model.count
                model.removeAll { $0 == target }
                #expect(removed == before - model.count)
            case 94..<96:
                let lower = Int.random(in: 0...model.count, using: &random)
                let upper = Int.random(in: lower...model.count, using: &random)
                list.trim(to: lower..<upper)
                model = Array(model[lower..<upper])
            default:
                #expect(list.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            }
            #expect(list.count == model.count)
            #expect(list.payloadCount == model.reduce(0) { $0 + $1.count })
            if step % 97 == 0 {
                #expect(list.elements == model, "seed \(seed) step \(step)")
                if !model.isEmpty {
                    let index = Int.random(in: 0..<model.count, using: &random)
                    #expect(list[index] == model[index])
                }
            }
        }
        #expect(list.elements == model)
    }

    @Test func footprintGrowsWithTheElementsAndReturnsToZeroWhenEmpty() {
        var list = ListValue()
        #expect(list.footprint == 0)
        for index in 0..<1_000 { list.append(Array(repeating: 1, count: 100 + index % 3)) }
        #expect(list.footprint > 1_000 * 100 + 1_000 * MemoryLayout<[UInt8]>.stride)
        let full = list.footprint
        for _ in 0..<900 { _ = list.popFirst() }
        #expect(list.footprint < full / 5, "the ring shrinks as the list drains")
        while list.popLast() != nil {}
        #expect(list.footprint == 0 && list.payloadCount == 0 && list.isEmpty)
    }

    @Test func changeCountMovesOnlyWhenTheListChanges() {
        var list = ListValue([[1], [2]])
        let before = list.changeCount
        _ = list.removeAll { _, _ in false }
        list.trim(to: 0..<2)
        #expect(list.changeCount == before)
        list.trim(to: 0..<1)
        #expect(list.changeCount != before && list.elements == [[1]])
        #expect(list.encodingName == "quicklist")
    }
}
