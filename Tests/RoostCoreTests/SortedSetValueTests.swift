import Testing

@testable import RoostCore

/// `SortedSetValue` (its order-statistics treap and member index) against a sorted-array model: random sets, score
/// changes and removals, then every rank, select, score-range and lexicographic count checked against the model;
/// every seed replays exactly.
@Suite struct SortedSetValueTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 1234, 99_991]

    static func ordered(_ a: SortedSetValue.Element, _ b: SortedSetValue.Element) -> Bool {
        a.score < b.score || (a.score == b.score && a.member.lexicographicallyPrecedes(b.member))
    }

    @Test(arguments: seeds)
    func randomOperationsMatchASortedArray(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var set = SortedSetValue(limits: .init(maxListpackEntries: 16, maxListpackValue: 64))
        var model: [SortedSetValue.Element] = []
        for step in 0..<2_000 {
            let member = Array("m\(Int.random(in: 0..<150, using: &random))".utf8)
            let score = Double(Int.random(in: -20...20, using: &random)) / 4  // many ties
            if Int.random(in: 0..<100, using: &random) < 65 {
                let added = set.set(member, score: score)
                if let position = model.firstIndex(where: { $0.member == member }) {
                    #expect(!added)
                    model[position].score = score
                } else {
                    #expect(added)
                    model.append(.init(member: member, score: score))
                }
            } else {
                let removed = set.remove(member)
                let position = model.firstIndex { $0.member == member }
                #expect(removed == (position != nil))
                if let position { model.remove(at: position) }
            }
            model.sort(by: Self.ordered)
            #expect(set.count == model.count)
            guard step % 50 == 0 else { continue }
            for (rank, element) in model.enumerated() {
                #expect(set.element(at: rank) == element)
                #expect(set.rank(of: element.member) == rank)
                #expect(set.score(of: element.member) == element.score)
            }
            for bound in stride(from: -5.5, through: 5.5, by: 0.25) {
                #expect(set.count(scoreBelow: bound, inclusive: false) == model.count { $0.score < bound })
                #expect(set.count(scoreBelow: bound, inclusive: true) == model.count { $0.score <= bound })
            }
        }
        #expect(set.encodingName == "skiplist")
        #expect(set.rank(of: Array("absent".utf8)) == nil)
    }

    @Test func lexicographicCountsWithEqualScores() {
        var set = SortedSetValue()
        let members = ["", "a", "aa", "ab", "b", "\u{7f}", "\u{ff}"].map { Array($0.utf8) }
        for member in members.shuffled() { set.set(member, score: 0) }
        let sorted = members.sorted { $0.lexicographicallyPrecedes($1) }
        for (rank, member) in sorted.enumerated() {
            #expect(set.element(at: rank).member == member)
            #expect(set.count(memberBelow: member, inclusive: false) == rank)
            #expect(set.count(memberBelow: member, inclusive: true) == rank + 1)
        }
        #expect(set.encodingName == "listpack")
        set.set(Array(repeating: UInt8(ascii: "x"), count: 65), score: 1)
        #expect(set.encodingName == "skiplist")
        // Emptied and refilled stays usable.
        for member in set.scan(cursor: 0, count: 100).elements.map(\.member) { set.remove(member) }
        #expect(set.isEmpty)
        set.set(Array("z".utf8), score: -.infinity)
        #expect(set.element(at: 0).score == -.infinity && set.count == 1)
    }
}
