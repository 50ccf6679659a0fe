import Testing

@testable import RoostCore

/// `HashValue` against a simple model: an ordered list of (name, value, expiry). Random operations with small
/// encoding limits, so that both encodings, the conversion and the index's deletions are exercised; every seed replays
/// exactly.
@Suite struct HashValueTests {
    /// The model: insertion order (what a listpack keeps), names unique.
    struct Model {
        var fields: [(name: [UInt8], value: [UInt8], expireAt: Int64)] = []
        func position(_ name: [UInt8]) -> Int? { fields.firstIndex { $0.name == name } }
    }

    static let seeds: [UInt64] = [1, 2, 3, 42, 1234, 99_991]

    @Test(arguments: seeds)
    func randomOperationsMatchTheModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var hash = HashValue(limits: .init(maxListpackEntries: 8, maxListpackValue: 6))
        var model = Model()
        var now: Int64 = 1_000
        for step in 0..<3_000 {
            let name = Array("f\(Int.random(in: 0..<40, using: &random))".utf8)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let value = Array(
                    repeating: UInt8(ascii: "v"), count: Int.random(in: 0..<(step < 1_500 ? 6 : 9), using: &random))
                let keep = Bool.random(using: &random)
                let created = hash.set(name, value, keepExpiry: keep)
                if let position = model.position(name) {
                    #expect(!created)
                    model.fields[position].value = value
                    if !keep { model.fields[position].expireAt = Entry.noExpiry }
                } else {
                    #expect(created)
                    model.fields.append((name, value, Entry.noExpiry))
                }
            case 45..<75:
                let removed = hash.remove(name)
                if let position = model.position(name) {
                    #expect(removed)
                    model.fields.remove(at: position)
                } else {
                    #expect(!removed)
                }
            case 75..<90:
                if let position = hash.position(of: name), let modelPosition = model.position(name) {
                    let expireAt =
                        Bool.random(using: &random) ? Entry.noExpiry : now + Int64.random(in: 1...50, using: &random)
                    hash.setExpiry(at: position, expireAt)
                    model.fields[modelPosition].expireAt = expireAt
                }
            default:
                now += Int64.random(in: 0...20, using: &random)
                let removed = hash.removeExpired(now: now)
                let before = model.fields.count
                model.fields.removeAll { $0.expireAt != Entry.noExpiry && $0.expireAt <= now }
                #expect(removed == before - model.fields.count)
            }
            check(hash, against: model, ordered: !hash.isHashtable)
        }
        #expect(hash.isHashtable, "the run crossed the thresholds")
    }

    func check(_ hash: HashValue, against model: Model, ordered: Bool) {
        #expect(hash.count == model.fields.count)
        #expect(hash.payloadCount == model.fields.reduce(0) { $0 + $1.name.count + $1.value.count })
        #expect(hash.volatileCount == model.fields.filter { $0.expireAt != Entry.noExpiry }.count)
        for field in model.fields {
            guard let position = hash.position(of: field.name) else {
                Issue.record("missing \(field.name)")
                return
            }
            #expect(Array(hash.fields[position].value) == field.value)
            #expect(hash.fields[position].expireAt == field.expireAt)
        }
        if ordered { #expect(hash.fields.map { Array($0.name) } == model.fields.map(\.name)) }
    }

    @Test func encodingFollowsTheThresholdsAndNeverGoesBack() {
        var hash = HashValue(limits: .init(maxListpackEntries: 3, maxListpackValue: 4))
        hash.set(Array("a".utf8), Array("1".utf8))
        hash.set(Array("b".utf8), Array("1234".utf8))
        hash.set(Array("c".utf8), Array("1".utf8))
        #expect(hash.encodingName == "listpack")
        hash.set(Array("d".utf8), Array("1".utf8))
        #expect(hash.encodingName == "hashtable")
        hash.remove(Array("d".utf8))
        hash.remove(Array("c".utf8))
        #expect(hash.encodingName == "hashtable")
        var wide = HashValue(limits: .init(maxListpackEntries: 3, maxListpackValue: 4))
        wide.set(Array("a".utf8), Array("12345".utf8))
        #expect(wide.encodingName == "hashtable")
    }

    /// Redis's `HSCAN` promise: a field present for the whole scan is returned at least once, whatever is added or
    /// deleted between the steps.
    @Test(arguments: seeds)
    func scanReturnsEveryFieldPresentThroughout(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var hash = HashValue(limits: .init(maxListpackEntries: 4, maxListpackValue: 64))
        for index in 0..<300 { hash.set(Array("f\(index)".utf8), Array("v".utf8)) }
        var stable = Set((0..<300).map { "f\($0)" })
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var next = 300
        repeat {
            let step = hash.scan(cursor: cursor, count: Int.random(in: 1...20, using: &random))
            for position in step.positions { seen.insert(String(decoding: hash.fields[position].name, as: UTF8.self)) }
            cursor = step.next
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                if Bool.random(using: &random) {
                    hash.set(Array("f\(next)".utf8), Array("v".utf8))
                    next += 1
                } else if !hash.isEmpty {
                    let victim = String(
                        decoding: hash.fields[Int.random(in: 0..<hash.count, using: &random)].name, as: UTF8.self)
                    hash.remove(Array(victim.utf8))
                    stable.remove(victim)
                }
            }
        } while cursor != 0
        #expect(stable.isSubset(of: seen))
    }

    @Test func footprintGrowsAndShrinksWithTheFields() {
        var hash = HashValue()
        let empty = hash.footprint
        for index in 0..<1_000 { hash.set(Array("field-\(index)".utf8), Array(repeating: 7, count: 100)) }
        #expect(hash.footprint > 1_000 * 100)
        for index in 0..<1_000 { hash.remove(Array("field-\(index)".utf8)) }
        #expect(hash.footprint == empty)
        #expect(hash.payloadCount == 0)
    }
}
