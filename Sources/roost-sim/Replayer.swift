import RoostCore

/// Replays a trace through one policy in-process, filling on miss, evicting before insert until the object fits.
struct Replayer {
    struct Result {
        var trace: String
        var uniqueObjects: Int
        var sizePercent: Int
        var capacity: Int
        var policy: String
        var requests: Int
        var misses: Int
        var missRatio: Double { Double(misses) / Double(max(requests, 1)) }
    }

    static let policies: [EvictionState.Kind] = [
        .allKeysLRU, .allKeysLFU, .allKeysRandom, .allKeysS3FIFO, .allKeysSieve, .allKeysTinyLFU,
    ]

    /// Capacity (in bytes = objects, sizes are 1) for a percentage of the footprint; the hit-ratio script uses the
    /// same formula.
    static func capacity(uniqueObjects: Int, percent: Int) -> Int { max(1, uniqueObjects * percent / 100) }

    static func replay(_ trace: TraceFile.Loaded, kind: EvictionState.Kind, capacity: Int, sizePercent: Int) -> Result {
        var sampling = SampledEviction.Configuration()
        sampling.lruClockResolution = 1  // one request = one millisecond tick: LRU sees true recency
        var state = EvictionState(kind, capacity: capacity, expectedCount: capacity, sampling: sampling, seed: 42)
        var cached = [Bool](repeating: false, count: trace.uniqueCount)
        var used = 0
        var misses = 0
        let sizes = trace.sizes
        let originalIDs = trace.originalIDs
        for (index, object) in trace.requests.enumerated() {
            state.advanceClock(to: Int64(index))
            if cached[Int(object)] {
                state.accessed(object)
                continue
            }
            misses += 1
            let size = sizes[Int(object)]
            if size > capacity { continue }
            while used + size > capacity {
                guard let victim = state.victim() else { fatalError("\(kind): no victim with \(used) bytes used") }
                cached[Int(victim)] = false
                used -= sizes[Int(victim)]
                state.removed(victim)
            }
            state.inserted(object, hash: hashOf(originalIDs[Int(object)]), size: size)
            cached[Int(object)] = true
            used += size
        }
        return Result(
            trace: trace.name, uniqueObjects: trace.uniqueCount, sizePercent: sizePercent, capacity: capacity,
            policy: kind.rawValue, requests: trace.requests.count, misses: misses)
    }

    /// The key hash the keyspace would pass (any good 64-bit mix of the key).
    static func hashOf(_ id: UInt64) -> UInt64 {
        var z = id &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
