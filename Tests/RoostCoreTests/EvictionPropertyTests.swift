import Testing

@testable import RoostCore

/// Random operation sequences against a reference model of the table: every victim is a live (and, for volatile
/// policies, volatile) slot, removed slots are never returned, moved slots are followed, the policy's count and bytes
/// never drift, and after evicting the cache is never over budget.
@Suite struct EvictionPropertyTests {
    static let evicting = EvictionState.Kind.allCases.filter { $0 != .noEviction }

    @Test(arguments: evicting, [1, 2, 3] as [UInt64])
    func randomOperationsAgreeWithModel(kind: EvictionState.Kind, seed: UInt64) {
        let capacity = 48
        let slotSpace = 96
        var random = EvictionRandom(seed: seed &* 1000 &+ UInt64(kind.rawValue.count))
        var policy = EvictionState(kind, capacity: capacity, expectedCount: 16, seed: seed)
        var sizes: [Int32: Int] = [:]
        var volatile: Set<Int32> = []
        var bytes = 0
        var now: Int64 = 0

        func randomLive() -> Int32? {
            guard !sizes.isEmpty else { return nil }
            return Array(sizes.keys).sorted()[random.below(sizes.count)]
        }
        func randomFree() -> Int32 {
            while true {
                let slot = Int32(random.below(slotSpace))
                if sizes[slot] == nil { return slot }
            }
        }

        for step in 0..<3000 {
            now += Int64(random.below(5_000))
            policy.advanceClock(to: now)
            let roll = random.below(100)
            if roll < 45 || sizes.isEmpty {
                let slot = randomFree()
                let size = 1 + random.below(8)
                // Evict before inserting, as the keyspace will; with nothing evictable the write fails (-OOM).
                var outOfMemory = false
                while bytes + size > capacity {
                    guard let victim = policy.victim() else {
                        #expect(
                            kind.isVolatile && volatile.isEmpty, "\(kind) step \(step): nil victim, \(sizes.count) keys"
                        )
                        outOfMemory = true
                        break
                    }
                    #expect(sizes[victim] != nil, "\(kind) step \(step): victim \(victim) is not live")
                    if kind.isVolatile { #expect(volatile.contains(victim), "\(kind): victim \(victim) has no TTL") }
                    #expect(policy.victim() == victim, "\(kind): victim not stable until removed")
                    bytes -= sizes.removeValue(forKey: victim) ?? 0
                    volatile.remove(victim)
                    policy.removed(victim)
                }
                if outOfMemory { continue }
                #expect(bytes + size <= capacity)
                policy.inserted(slot, hash: random.next(), size: size)
                sizes[slot] = size
                bytes += size
                if random.below(2) == 0 {
                    policy.expiryChanged(slot, at: now + Int64(random.below(100_000)))
                    volatile.insert(slot)
                }
            } else if roll < 75, let slot = randomLive() {
                policy.accessed(slot)
            } else if roll < 83, let slot = randomLive() {
                bytes -= sizes.removeValue(forKey: slot) ?? 0
                volatile.remove(slot)
                policy.removed(slot)
            } else if roll < 91, let slot = randomLive() {
                let target = randomFree()
                policy.moved(from: slot, to: target)
                sizes[target] = sizes.removeValue(forKey: slot)
                if volatile.remove(slot) != nil { volatile.insert(target) }
            } else if roll < 95, let slot = randomLive() {
                let size = 1 + random.below(8)
                bytes += size - sizes[slot]!
                sizes[slot] = size
                policy.resized(slot, to: size)
            } else if let slot = randomLive() {
                if volatile.contains(slot) {
                    policy.expiryChanged(slot, at: nil)
                    volatile.remove(slot)
                } else {
                    policy.expiryChanged(slot, at: now + Int64(random.below(100_000)))
                    volatile.insert(slot)
                }
            }
            #expect(policy.count == sizes.count, "\(kind) step \(step)")
            #expect(policy.bytes == bytes, "\(kind) step \(step)")
            if policy.count != sizes.count || policy.bytes != bytes { return }
        }
        // Drain: every live slot can be evicted, each exactly once.
        if !kind.isVolatile {
            var drained: Set<Int32> = []
            while let victim = policy.victim() {
                #expect(sizes[victim] != nil && !drained.contains(victim))
                drained.insert(victim)
                sizes[victim] = nil
                policy.removed(victim)
            }
            #expect(sizes.isEmpty && policy.count == 0 && policy.bytes == 0)
        }
    }
}
