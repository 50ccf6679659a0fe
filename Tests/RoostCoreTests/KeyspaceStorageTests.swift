import Testing

@testable import RoostCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The storage layout: one block per entry, 16-byte slots, accounting that matches the blocks.
@Suite struct KeyspaceStorageTests {
    @Test func slotIsSixteenBytes() {
        #expect(MemoryLayout<SlotArena.Slot>.stride == 16)
    }

    /// A `key:%08d` key with a 32-byte value fits a 52-byte block: one 64-byte glibc chunk.
    @Test func typicalEntryIsOneSmallBlock() {
        var keyspace = Keyspace()
        keyspace.set(bytes("key:00000001"), Entry(value: .string(Array(repeating: 1, count: 32))), now: 0)
        #expect(EntryRecord.size(keyCount: 12, valueCount: 32, hasExpiry: false) == 52)
        #expect(keyspace.recordBytes <= 64)
        #expect(keyspace.recordBytes >= 52 + SystemAllocator.blockOverhead)
    }

    /// Header forms and expiry presence change the block layout; every combination reads back what was written.
    @Test(arguments: [0, 1, 255, 256], [0, 5, 65_535, 65_536])
    func layoutsRoundTrip(keyCount: Int, valueCount: Int) {
        var keyspace = Keyspace()
        let key = (0..<keyCount).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let value = (0..<valueCount).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        for expireAt: Int64 in [Entry.noExpiry, 5_000] {
            for encoding: Entry.StringEncoding in [.automatic, .notInteger, .raw] {
                keyspace.set(
                    key, Entry(value: .string(value), expireAt: expireAt, stringEncoding: encoding), now: 2_000)
                let entry = keyspace.peek(key, now: 0)
                #expect(entry?.value == .string(value))
                #expect(entry?.expireAt == expireAt)
                #expect(entry?.stringEncoding == encoding)
                #expect(entry?.lastAccess == 2)
                let read = key.withUnsafeBytes { key in keyspace.withString(key, now: 0) { Array($0) } }
                #expect(read == value)
                #expect(keyspace.payloadBytes == keyCount + valueCount)
                #expect(keyspace.volatileCount == (expireAt == Entry.noExpiry ? 0 : 1))
                #expect(keyspace.recordBytes == keyspace.recomputedRecordBytes())
            }
        }
    }

    @Test func withStringTouchesAndCountsOnlyWhenAsked() {
        var keyspace = Keyspace()
        keyspace.set(bytes("k"), Entry(value: .string(bytes("v"))), now: 1_000)
        let peeked = bytes("k").withUnsafeBytes { keyspace.withString($0, now: 9_000, touch: false) { $0.count } }
        #expect(peeked == 1)
        #expect(keyspace.peek(bytes("k"), now: 9_000)?.lastAccess == 1)
        #expect(keyspace.statistics.keyspaceHits == 0)
        let read = bytes("k").withUnsafeBytes { keyspace.withString($0, now: 9_000) { $0.count } }
        let missed = bytes("x").withUnsafeBytes { keyspace.withString($0, now: 9_000) { $0.count } }
        #expect(read == 1)
        #expect(missed == nil)
        #expect(keyspace.peek(bytes("k"), now: 9_000)?.lastAccess == 9)
        #expect(keyspace.statistics.keyspaceHits == 1)
        #expect(keyspace.statistics.keyspaceMisses == 1)
    }

    /// Deleting (or expiring) everything gives back every byte: the keyspace ends where an empty one starts.
    @Test(arguments: [false, true]) func accountingReturnsToTheBaseline(expire: Bool) {
        var keyspace = Keyspace()
        let empty = keyspace.estimatedMemory
        for index in 0..<50_000 {
            keyspace.set(
                bytes("key:\(index)"), Entry(value: .string(bytes("value \(index)")), expireAt: expire ? 10 : 0), now: 0
            )
        }
        #expect(keyspace.estimatedMemory > 50_000 * 64)
        if expire {
            var passes = 0
            while keyspace.count > 0 && passes < 100_000 {
                _ = keyspace.expireStep(now: 10, bucketBudget: 512)
                passes += 1
            }
            _ = keyspace.expireStep(now: 10, bucketBudget: 512)  // one more wrap lets the table shrink
        } else {
            for index in 0..<50_000 { keyspace.remove(bytes("key:\(index)"), now: 0) }
        }
        #expect(keyspace.count == 0)
        #expect(keyspace.payloadBytes == 0)
        #expect(keyspace.recordBytes == 0)
        #expect(keyspace.estimatedMemory == empty)
    }

    @Test func removeAllReturnsToTheBaseline() {
        var keyspace = Keyspace()
        let empty = keyspace.estimatedMemory
        for index in 0..<10_000 { keyspace.set(bytes("k\(index)"), Entry(value: .string(bytes("v"))), now: 0) }
        keyspace.removeAll()
        #expect(keyspace.estimatedMemory == empty)
        keyspace.set(bytes("again"), Entry(value: .string(bytes("v"))), now: 0)
        #expect(keyspace.read(bytes("again"), now: 0) != nil)
    }

    /// A key keeps its slot while it lives; compaction moves slots only as it reports.
    @Test func slotIndicesAreStableExceptForReportedMoves() {
        var keyspace = Keyspace()
        keyspace.tracksSlotMoves = true
        var generator = SplitMix64(seed: 7)
        var slotOf: [[UInt8]: Int32] = [:]
        var sawMoves = false
        for round in 0..<40 {
            for _ in 0..<2_000 {
                let name = bytes("k\(Int.random(in: 0..<5_000, using: &generator))")
                if Bool.random(using: &generator) || round >= 30 {
                    keyspace.remove(name, now: 0)
                    slotOf[name] = nil
                } else {
                    keyspace.set(name, Entry(value: .string(bytes("v"))), now: 0)
                    if slotOf[name] == nil { slotOf[name] = name.withUnsafeBytes { keyspace.slotIndex(of: $0) } }
                }
                let moves = keyspace.takeSlotMoves()
                sawMoves = sawMoves || !moves.isEmpty
                let byOrigin = Dictionary(moves.map { ($0.from, $0.to) }, uniquingKeysWith: { $1 })
                for (name, slot) in slotOf { if let moved = byOrigin[slot] { slotOf[name] = moved } }
            }
            for (name, slot) in slotOf { #expect(name.withUnsafeBytes { keyspace.slotIndex(of: $0) } == slot) }
        }
        #expect(sawMoves)
    }

    /// Random operations through every entry point against a dictionary model: same contents, counters and
    /// accounting never drift, through growth, shrinking and compaction.
    @Test(arguments: [1, 2, 3]) func matchesAModelThroughEveryEntryPoint(seed: UInt64) {
        var keyspace = Keyspace()
        var model: [[UInt8]: Entry] = [:]
        var generator = SplitMix64(seed: seed)
        var now: Int64 = 1_000
        let keySpace = [20, 2_000, 200][Int(seed) % 3]
        for step in 0..<30_000 {
            now += Int64.random(in: 0...2, using: &generator)
            let name = bytes("k\(Int.random(in: 0..<keySpace, using: &generator))")
            let size = [0, 3, 40, 300, 70_000][Int.random(in: 0..<5, using: &generator) % (step % 997 == 0 ? 5 : 4)]
            let value = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let ttl: Int64 =
                Int.random(in: 0..<3, using: &generator) == 0 ? now + Int64.random(in: 1...40, using: &generator) : 0
            let live = model[name].flatMap { $0.isExpired(at: now) ? nil : $0 }
            switch Int.random(in: 0..<9, using: &generator) {
            case 0:
                keyspace.set(name, Entry(value: .string(value), expireAt: ttl), now: now)
                model[name] = Entry(value: .string(value), expireAt: ttl)
            case 1:
                name.withUnsafeBytes { key in
                    value.withUnsafeBytes { keyspace.setString(key, $0, expireAt: ttl, encoding: .raw, now: now) }
                }
                model[name] = Entry(value: .string(value), expireAt: ttl, stringEncoding: .raw)
            case 2:
                #expect(keyspace.remove(name, now: now) == (live != nil))
                model[name] = nil
            case 3:
                // APPEND-like change in place, or EXPIRE/PERSIST-like change of the layout.
                let appends = Bool.random(using: &generator)
                func change(_ entry: inout Entry) {
                    if appends, case .string(var old) = entry.value {
                        old.append(contentsOf: value.prefix(10))
                        entry.value = .string(old)
                    } else {
                        entry.expireAt = ttl
                    }
                }
                keyspace.update(name, now: now) { entry in
                    #expect(entry?.value == live?.value)
                    #expect(entry?.expireAt == live?.expireAt)
                    if entry != nil { change(&entry!) }
                }
                var expected = live
                if expected != nil { change(&expected!) }
                model[name] = expected
            case 4:
                _ = keyspace.expireStep(now: now, bucketBudget: 16)
            case 5:
                let read = name.withUnsafeBytes { keyspace.withString($0, now: now) { Array($0) } }
                #expect(
                    read
                        == live.map { entry -> [UInt8] in
                            guard case .string(let bytes) = entry.value else { return [] }
                            return bytes
                        })
            case 6:
                #expect(keyspace.read(name, now: now)?.value == live?.value)
            case 7:
                if step % 500 == 0 {
                    // A burst of deletions makes the table shrink and the arena compact.
                    for (other, _) in model where Int.random(in: 0..<10, using: &generator) < 9 {
                        keyspace.remove(other, now: now)
                        model[other] = nil
                    }
                }
            default:
                #expect(keyspace.peek(name, now: now)?.expireAt == live?.expireAt)
            }
        }
        let live = model.filter { !$0.value.isExpired(at: now) }
        var visited = 0
        keyspace.forEach(now: now) { name, entry in
            visited += 1
            #expect(live[name]?.value == entry.value)
            #expect(live[name]?.stringEncoding == entry.stringEncoding)
        }
        #expect(visited == live.count)
        var payload = 0
        var volatile = 0
        var stored = 0
        keyspace.scanAll { name, entry in
            stored += 1
            payload += name.count + entry.value.payloadCount
            if entry.hasExpiry { volatile += 1 }
        }
        #expect(stored == keyspace.count)
        #expect(payload == keyspace.payloadBytes)
        #expect(volatile == keyspace.volatileCount)
        #expect(keyspace.recordBytes == keyspace.recomputedRecordBytes())
    }

    /// SCAN's promise across growth, shrinking and slot compaction with random churn between calls.
    @Test(arguments: [11, 12, 13]) func scanReturnsEveryStableKeyUnderChurn(seed: UInt64) {
        var keyspace = Keyspace()
        var generator = SplitMix64(seed: seed)
        let stable = (0..<300).map { bytes("stable:\($0)") }
        for name in stable { keyspace.set(name, Entry(value: .string(bytes("x"))), now: 0) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var calls = 0
        repeat {
            cursor = keyspace.scan(cursor: cursor, count: 5) { name, _ in seen.insert(name) }
            calls += 1
            let burst = Int.random(in: 0..<4_000, using: &generator)
            if Bool.random(using: &generator) {
                for index in 0..<burst {
                    keyspace.set(bytes("churn:\(index)"), Entry(value: .string(bytes("y"))), now: 0)
                }
            } else {
                for index in 0..<burst { keyspace.remove(bytes("churn:\(index)"), now: 0) }
            }
        } while cursor != 0 && calls < 100_000
        #expect(cursor == 0)
        for name in stable { #expect(seen.contains(name)) }
    }
}

extension Keyspace {
    /// The footprint of every record, summed from the blocks themselves.
    func recomputedRecordBytes() -> Int {
        var total = 0
        for index in 0..<Int32(slots.highWater) {
            if let record = slots[index].record { total += EntryRecord(record).footprint }
        }
        return total
    }
}
