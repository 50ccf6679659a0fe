import Testing

@testable import RoostCore

private func name(_ text: String) -> [UInt8] { Array(text.utf8) }
private func entry(_ text: String, expireAt: Int64 = Entry.noExpiry) -> Entry {
    Entry(value: .string(Array(text.utf8)), expireAt: expireAt)
}

/// Incremental resizing: the bucket table rehashes and the slot arena compacts in bounded steps, and everything the
/// keyspace promises holds at every point in between.
@Suite struct KeyspaceResizeTests {
    /// A write budget so small that a resize stays open across hundreds of operations.
    static let trickle = Keyspace.ResizeBudget(bucketVisits: 2, slotVisits: 3, moves: 1)

    /// Lookups, inserts and deletes while the table grows, one bucket at a time.
    @Test func lookupsFollowKeysWhileTheTableGrows() {
        var keyspace = Keyspace()
        keyspace.resizeBudgetPerWrite = Self.trickle
        var stored = Set<Int>()
        var resizingChecks = 0
        for index in 0..<3_000 {
            keyspace.set(name("k\(index)"), entry("v\(index)"), now: 0)
            stored.insert(index)
            if index % 7 == 0 {
                keyspace.remove(name("k\(index / 2)"), now: 0)
                stored.remove(index / 2)
            }
            if index % 29 == 0 {
                if keyspace.buckets.isResizing { resizingChecks += 1 }
                keyspace.checkInvariants()
                for probe in 0...index {
                    let found = keyspace.peek(name("k\(probe)"), now: 0)?.value
                    #expect(found == (stored.contains(probe) ? .string(name("v\(probe)")) : nil))
                }
            }
        }
        #expect(resizingChecks > 20, "most checks ran in the middle of a resize")
        keyspace.checkInvariants()
    }

    /// A shrink is bounded: one expiry slice moves at most its budget, and the table is settled after enough slices.
    @Test func shrinkAfterMassExpiryIsSpreadOverSlices() {
        var keyspace = Keyspace()
        keyspace.configureEviction(.allKeysSieve, maxMemory: 0, now: 0)
        for index in 0..<1_000 { keyspace.set(name("keep:\(index)"), entry("v"), now: 0) }
        for index in 0..<100_000 { keyspace.set(name("exp:\(index)"), entry("v", expireAt: 10), now: 0) }
        // Settle the growth, then expire everything due in slices of 512 buckets, as the server's cron does.
        while keyspace.isResizing { _ = keyspace.expireStep(now: 0, bucketBudget: 512) }
        let peakBuckets = keyspace.bucketCount
        let peakSlots = keyspace.slots.highWater
        #expect(peakBuckets >= 65_536)
        var slices = 0
        var shrinkSlices = 0
        var sawCompaction = false
        while true {
            let rehashedBefore = keyspace.buckets.rehashIndex
            let highWaterBefore = keyspace.slots.highWater
            let (_, examined, wrapped) = keyspace.expireStep(now: 10, bucketBudget: 512)
            slices += 1
            let budget = Keyspace.ResizeBudget.perExpirySlice(512)
            if keyspace.buckets.isResizing {
                if keyspace.buckets.settledCount < peakBuckets { shrinkSlices += 1 }
                #expect(keyspace.buckets.rehashIndex - rehashedBefore <= budget.bucketVisits)
            }
            if keyspace.slots.compaction != .idle {
                sawCompaction = true
                #expect(highWaterBefore - keyspace.slots.highWater <= budget.slotVisits)
            }
            if slices % 16 == 0 { keyspace.checkInvariants() }
            if wrapped && examined == 0 { break }
            if slices > 100_000 { break }
        }
        #expect(shrinkSlices >= peakBuckets / Keyspace.ResizeBudget.perExpirySlice(512).bucketVisits - 1)
        #expect(sawCompaction)
        #expect(keyspace.count == 1_000)
        #expect(keyspace.bucketCount <= 2_048)
        #expect(keyspace.slots.highWater <= 1_250)
        #expect(peakSlots > 100_000)
        keyspace.checkInvariants()
        for index in stride(from: 0, to: 1_000, by: 37) {
            #expect(keyspace.peek(name("keep:\(index)"), now: 10)?.value == .string(name("v")))
        }
    }

    /// If inserts use up the listed holes while the arena is being vacated, the compaction settles where it is and
    /// lists the rest; no slot is lost or handed out twice.
    @Test func compactionSettlesWhenInsertsOutrunIt() {
        var keyspace = Keyspace()
        keyspace.configureEviction(.allKeysS3FIFO, maxMemory: 0, now: 0)
        keyspace.tracksSlotMoves = true
        for index in 0..<8_000 { keyspace.set(name("k\(index)"), entry("v"), now: 0) }
        keyspace.resizeBudgetPerWrite = Keyspace.ResizeBudget(bucketVisits: 2, slotVisits: 1, moves: 1)
        for index in 0..<8_000 where index % 10 != 0 { keyspace.remove(name("k\(index)"), now: 0) }
        // Drive the compaction into its vacating phase (each insert and delete is a step), then insert far more
        // than it listed holes for.
        var guardSteps = 0
        while guardSteps < 100_000 {
            if case .vacating = keyspace.slots.compaction { break }
            keyspace.set(name("tmp"), entry("v"), now: 0)
            keyspace.remove(name("tmp"), now: 0)
            guardSteps += 1
        }
        #expect(guardSteps < 100_000, "the compaction reached its vacating phase")
        var sawSettling = false
        for index in 0..<3_000 {
            keyspace.set(name("new\(index)"), entry("w"), now: 0)
            if case .listing(_, let target) = keyspace.slots.compaction, target == Int.max { sawSettling = true }
            if index % 250 == 0 { keyspace.checkInvariants() }
        }
        #expect(sawSettling)
        keyspace.resizeBudgetPerWrite = .perWrite
        for index in 0..<3_000 { keyspace.set(name("new\(index)"), entry("x"), now: 0) }
        for index in 0..<2_000 { keyspace.set(name("more\(index)"), entry("y"), now: 0) }
        #expect(keyspace.slots.compaction == .idle)
        keyspace.checkInvariants()
        for index in stride(from: 0, to: 8_000, by: 10) { #expect(keyspace.peek(name("k\(index)"), now: 0) != nil) }
        for index in 0..<3_000 { #expect(keyspace.peek(name("new\(index)"), now: 0)?.value == .string(name("x"))) }
    }

    /// Emptying the keyspace in the middle of a resize gives back every byte at once.
    @Test(arguments: [false, true]) func emptyingMidResizeReturnsToTheBaseline(expire: Bool) {
        var keyspace = Keyspace()
        let empty = keyspace.estimatedMemory
        keyspace.resizeBudgetPerWrite = Self.trickle
        for index in 0..<20_000 { keyspace.set(name("k\(index)"), entry("v", expireAt: expire ? 5 : 0), now: 0) }
        for index in 0..<17_000 { keyspace.remove(name("k\(index)"), now: 0) }
        #expect(keyspace.buckets.isResizing && keyspace.slots.compaction != .idle)
        if expire {
            while keyspace.count > 0 { _ = keyspace.expireStep(now: 5, bucketBudget: 64) }
            _ = keyspace.expireStep(now: 5, bucketBudget: 64)
        } else {
            for index in 17_000..<20_000 { keyspace.remove(name("k\(index)"), now: 0) }
        }
        let resizing = keyspace.isResizing
        #expect(!resizing)
        #expect(keyspace.recordBytes == 0)
        #expect(keyspace.estimatedMemory == empty)
    }

    /// SCAN returns every key present for the whole scan, whatever resizes start, advance or finish between calls.
    @Test(arguments: [21, 22, 23, 24]) func scanGuaranteeHoldsThroughIncrementalResizes(seed: UInt64) {
        var keyspace = Keyspace()
        var generator = SplitMix64(seed: seed)
        keyspace.resizeBudgetPerWrite = Self.trickle
        for index in 0..<2_000 { keyspace.set(name("base:\(index)"), entry("x"), now: 0) }
        var scans = 0
        while scans < 4 {
            let present = Set((0..<2_000).map { name("base:\($0)") }).filter { keyspace.peek($0, now: 0) != nil }
            var touched = Set<[UInt8]>()
            var seen = Set<[UInt8]>()
            var cursor: UInt64 = 0
            var calls = 0
            repeat {
                cursor = keyspace.scan(cursor: cursor, count: Int.random(in: 1...20, using: &generator)) { key, _ in
                    seen.insert(key)
                }
                calls += 1
                // Churn between calls: bursts that grow or shrink the table, and deletes of some of the keys present.
                switch Int.random(in: 0..<6, using: &generator) {
                case 0:
                    for index in 0..<Int.random(in: 0..<1_500, using: &generator) {
                        keyspace.set(name("churn:\(index)"), entry("y"), now: 0)
                    }
                case 1:
                    for index in 0..<1_500 { keyspace.remove(name("churn:\(index)"), now: 0) }
                case 2:
                    let victim = name("base:\(Int.random(in: 0..<2_000, using: &generator))")
                    touched.insert(victim)
                    keyspace.remove(victim, now: 0)
                case 3:
                    _ = keyspace.expireStep(now: 0, bucketBudget: Int.random(in: 1...64, using: &generator))
                default:
                    break
                }
            } while cursor != 0 && calls < 200_000
            #expect(cursor == 0)
            let missing = present.filter { !touched.contains($0) && !seen.contains($0) }
            #expect(missing.isEmpty, "\(missing.count) keys present for the whole scan were not returned")
            keyspace.checkInvariants()
            // Put the deleted base keys back for the next scan.
            for index in 0..<2_000 where keyspace.peek(name("base:\(index)"), now: 0) == nil {
                keyspace.set(name("base:\(index)"), entry("x"), now: 0)
            }
            scans += 1
        }
    }

    /// Random sets, deletes, expiries, reads and scans against a dictionary model, with resizes held open by a tiny
    /// write budget: same contents, counters and accounting, chains and free list consistent, every slot move
    /// reported to the eviction policy (whose own checks trap on a bad move) and to ``Keyspace/takeSlotMoves()``.
    @Test(arguments: [
        (EvictionState.Kind.allKeysSieve, UInt64(1)), (.allKeysS3FIFO, 2), (.allKeysTinyLFU, 3), (.allKeysLRU, 4),
        (.volatileTTL, 5), (.noEviction, 6),
    ])
    func matchesAModelWhileResizing(kind: EvictionState.Kind, seed: UInt64) {
        var keyspace = Keyspace()
        keyspace.configureEviction(kind, maxMemory: 0, now: 0)
        keyspace.tracksSlotMoves = true
        var model: [[UInt8]: Entry] = [:]
        var slotOf: [[UInt8]: Int32] = [:]
        var keyAt: [Int32: [UInt8]] = [:]
        func track(_ key: [UInt8]) {
            if let old = slotOf[key], keyAt[old] == key { keyAt[old] = nil }
            slotOf[key] = key.withUnsafeBytes { keyspace.slotIndex(of: $0) }
            if let slot = slotOf[key] { keyAt[slot] = key }
        }
        var burst = false
        var generator = SplitMix64(seed: seed)
        var now: Int64 = 1_000
        var resizingSteps = 0
        for step in 0..<25_000 {
            keyspace.resizeBudgetPerWrite = step % 5_000 < 4_000 ? Self.trickle : .perWrite
            now += Int64.random(in: 0...1, using: &generator)
            let key = name("k\(Int.random(in: 0..<4_000, using: &generator))")
            let live = model[key].flatMap { $0.isExpired(at: now) ? nil : $0 }
            switch Int.random(in: 0..<10, using: &generator) {
            case 0, 1:
                let ttl: Int64 = Bool.random(using: &generator) ? now + Int64.random(in: 1...60, using: &generator) : 0
                let value = entry("v\(step)", expireAt: ttl)
                keyspace.set(key, value, now: now)
                model[key] = value
            case 2:
                #expect(keyspace.remove(key, now: now) == (live != nil))
                model[key] = nil
            case 3:
                _ = keyspace.expireStep(now: now, bucketBudget: Int.random(in: 1...32, using: &generator))
            case 4:
                #expect(keyspace.read(key, now: now)?.value == live?.value)
            case 5:
                // A burst: many inserts (growth) or deleting most keys (shrink and compaction).
                burst = Int.random(in: 0..<40, using: &generator) == 0
                if burst {
                    if Bool.random(using: &generator) {
                        for index in 0..<Int.random(in: 500..<3_000, using: &generator) {
                            let burst = name("k\(index)")
                            keyspace.set(burst, entry("b\(step)"), now: now)
                            model[burst] = entry("b\(step)")
                        }
                    } else {
                        for (other, _) in model where Int.random(in: 0..<10, using: &generator) < 9 {
                            keyspace.remove(other, now: now)
                            model[other] = nil
                        }
                    }
                }
            case 6:
                var cursor = UInt64.random(in: 0...UInt64(UInt32.max), using: &generator)
                for _ in 0..<3 where cursor != 0 {
                    cursor = keyspace.scan(cursor: cursor, count: 5) { scanned, found in
                        #expect(model[scanned]?.value == found.value)
                    }
                }
            default:
                #expect(keyspace.peek(key, now: now)?.expireAt == live?.expireAt)
            }
            if keyspace.isResizing { resizingSteps += 1 }
            // Follow the reported moves, in order: a key keeps its slot except when a move says otherwise.
            for move in keyspace.takeSlotMoves() {
                guard let moved = keyAt.removeValue(forKey: move.from) else { continue }
                keyAt[move.to] = moved
                slotOf[moved] = move.to
            }
            if burst {
                burst = false
                slotOf = [:]
                keyAt = [:]
                for stored in model.keys { track(stored) }
            } else {
                track(key)
            }
            if step % 1_000 == 0 {
                keyspace.checkInvariants()
                for (tracked, slot) in slotOf {
                    let current = tracked.withUnsafeBytes { keyspace.slotIndex(of: $0) }
                    if current == nil { slotOf[tracked] = nil } else { #expect(current == slot) }
                }
            }
        }
        #expect(resizingSteps > 1_000, "resizes were under way for much of the run")
        keyspace.checkInvariants()
        let live = model.filter { !$0.value.isExpired(at: now) }
        var visited = 0
        keyspace.forEach(now: now) { key, found in
            visited += 1
            #expect(live[key]?.value == found.value)
        }
        #expect(visited == live.count)
    }
}

extension Keyspace {
    /// Checks the table's structure: every stored key is on exactly one chain, the chain its hash selects; drained
    /// buckets are empty; the free list holds only free slots, each once, where the compaction phase allows; the
    /// counters and the byte accounting match the slots; the eviction policy tracks exactly the stored keys.
    func checkInvariants(sourceLocation: SourceLocation = #_sourceLocation) {
        let layout = buckets.layout
        var chained = Set<Int32>()
        var payload = 0
        var volatile = 0
        func walk(_ heads: BucketTable.Heads, from start: Int) {
            for bucket in start..<heads.count {
                var index = heads[bucket]
                while index != SlotArena.none {
                    let slot = slots[index]
                    #expect(slot.record != nil, "chained slot \(index) is free", sourceLocation: sourceLocation)
                    guard slot.record != nil, chained.insert(index).inserted else {
                        Issue.record("slot \(index) chained twice", sourceLocation: sourceLocation)
                        return
                    }
                    #expect(
                        layout.head(for: slot.hash) == heads.base + bucket, "slot \(index) is in the wrong chain",
                        sourceLocation: sourceLocation)
                    let record = EntryRecord(slot.record!)
                    payload += record.keyCount + record.valueCount
                    if record.hasExpiry { volatile += 1 }
                    index = slot.next
                }
            }
        }
        for bucket in 0..<buckets.rehashIndex {
            #expect(
                buckets.primary[bucket] == SlotArena.none, "drained bucket \(bucket)", sourceLocation: sourceLocation)
        }
        walk(buckets.primary, from: buckets.rehashIndex)
        if let target = buckets.target { walk(target, from: 0) }
        #expect(chained.count == count, sourceLocation: sourceLocation)
        #expect(payload == payloadBytes, sourceLocation: sourceLocation)
        #expect(volatile == volatileCount, sourceLocation: sourceLocation)
        #expect(recordBytes == recomputedRecordBytes(), sourceLocation: sourceLocation)
        #expect(eviction.count == count, "the policy tracks every stored key", sourceLocation: sourceLocation)
        var occupied = 0
        for index in 0..<slots.highWater where slots[Int32(index)].record != nil { occupied += 1 }
        #expect(occupied == count, sourceLocation: sourceLocation)
        #expect(slots.highWater <= slots.capacity, sourceLocation: sourceLocation)

        var listed = Set<Int32>()
        var index = slots.freeList
        while index != SlotArena.none {
            guard Int(index) < slots.highWater, slots[index].record == nil, listed.insert(index).inserted else {
                Issue.record(
                    "free list entry \(index) is live, past the high water or repeated", sourceLocation: sourceLocation)
                return
            }
            switch slots.compaction {
            case .idle: break
            case .listing(let cursor, _):
                #expect(Int(index) < cursor, "listed \(index) ahead of the cursor", sourceLocation: sourceLocation)
            case .vacating(let target):
                #expect(Int(index) < target, "listed \(index) above the target", sourceLocation: sourceLocation)
            }
            index = slots[index].next
        }
        if slots.compaction == .idle {
            #expect(
                listed.count == slots.highWater - count, "every free slot is listed", sourceLocation: sourceLocation)
        }
        #expect(
            estimatedMemory == recordBytes + slots.footprint + buckets.footprint + eviction.footprint,
            sourceLocation: sourceLocation)
        #expect(
            buckets.footprint == buckets.primary.footprint + (buckets.target?.footprint ?? 0),
            sourceLocation: sourceLocation)
    }
}
