import Testing

@testable import RoostCore

/// `SetValue` against a simple model (a Swift `Set` of byte arrays): random inserts, removals, removals by position
/// and scans with a small intset limit, so that both encodings and the one-way conversion are exercised; every seed
/// replays exactly.
@Suite struct SetValueTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 1234, 99_991]

    /// A member: mostly canonical integers early (an intset), sometimes a non-canonical or non-integer string.
    static func member(_ random: inout SplitMix64, step: Int) -> [UInt8] {
        let number = Int.random(in: -30..<30, using: &random)
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<(step < 1_000 ? 97 : 70): return Array(String(number).utf8)
        case 97..<99 where step < 1_000: return Array("0\(abs(number))".utf8)  // not canonical: not an integer
        default: return Array("m\(number)".utf8)
        }
    }

    @Test(arguments: seeds)
    func randomOperationsMatchTheModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var set = SetValue(limits: .init(maxIntsetEntries: 16))
        var model = Set<[UInt8]>()
        var wasHashtable = false
        for step in 0..<3_000 {
            let member = Self.member(&random, step: step)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<50:
                #expect(set.insert(member) == model.insert(member).inserted)
            case 50..<80:
                #expect(set.remove(member) == (model.remove(member) != nil))
            case 80..<90 where !set.isEmpty:
                let position = Int.random(in: 0..<set.count, using: &random)
                let removed = set.member(at: position)
                set.remove(at: position)
                #expect(model.remove(removed) != nil)
            default:
                #expect(set.contains(member) == model.contains(member))
            }
            #expect(set.count == model.count)
            // The encoding: intset only while every member is a canonical integer within the limit, and never back.
            let integral = model.allSatisfy { RedisNumber.parseInteger($0) != nil } && model.count <= 16
            if wasHashtable { #expect(!set.isIntset) }
            if set.isIntset {
                #expect(integral)
                let values = set.members.map { RedisNumber.parseInteger($0)! }
                #expect(values == values.sorted())
            } else {
                wasHashtable = true
            }
            if step % 100 == 0 { #expect(Set(set.members) == model) }
        }
        #expect(Set(set.members) == model)
        #expect(wasHashtable)
    }

    /// A full scan returns every member present throughout, even with deletions between steps.
    @Test(arguments: seeds)
    func scanReturnsEveryStableMember(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var set = SetValue(limits: .init(maxIntsetEntries: 4))
        for index in 0..<200 { set.insert(Array("k\(index)".utf8)) }
        let stable = Set((0..<100).map { Array("k\($0)".utf8) })
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        repeat {
            let step = set.scan(cursor: cursor, count: 7)
            for position in step.positions { seen.insert(set.member(at: position)) }
            cursor = step.next
            // Delete a member that is not in the stable half.
            let victim = Array("k\(Int.random(in: 100..<200, using: &random))".utf8)
            set.remove(victim)
        } while cursor != 0
        #expect(stable.isSubset(of: seen))
    }

    @Test func encodingsFollowRedis() {
        var set = SetValue()
        for value in [3, -1, 2, 1000] { set.insert(Array(String(value).utf8)) }
        #expect(set.encodingName == "intset")
        #expect(set.members.map { String(decoding: $0, as: UTF8.self) } == ["-1", "2", "3", "1000"])
        #expect(!set.contains(Array("+3".utf8)) && !set.contains(Array("03".utf8)))
        set.insert(Array("x".utf8))
        #expect(set.encodingName == "hashtable")
        set.remove(Array("x".utf8))
        #expect(set.encodingName == "hashtable")
        var big = SetValue()
        for value in 0..<512 { big.insert(Array(String(value).utf8)) }
        #expect(big.encodingName == "intset")
        big.insert(Array("512".utf8))
        #expect(big.encodingName == "hashtable" && big.count == 513)
        // Emptied and refilled within one change (SMOVE to itself, STORE building a result) stays usable.
        var emptied = SetValue()
        emptied.insert(Array("a".utf8))
        emptied.remove(Array("a".utf8))
        emptied.insert(Array("b".utf8))
        #expect(emptied.members == [Array("b".utf8)])
    }
}
