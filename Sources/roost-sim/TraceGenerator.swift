import Foundation
import RoostCore

/// Seeded synthetic workloads. Every generator is deterministic in its seed; object ids are scrambled so that an id
/// says nothing about its popularity.
struct TraceGenerator {
    var requests: Int
    var objects: Int
    var seed: UInt64

    /// The suite: name and request ids.
    func suite() -> [(name: String, ids: [UInt64])] {
        [
            ("zipf-0.6", zipf(alpha: 0.6, salt: 1)),
            ("zipf-0.9", zipf(alpha: 0.9, salt: 2)),
            ("zipf-1.2", zipf(alpha: 1.2, salt: 3)),
            ("zipf-scan", zipfWithScans(alpha: 0.9, salt: 4)),
            ("drift", drifting(alpha: 0.9, salt: 5)),
            ("loop", loopMix(salt: 6)),
        ]
    }

    /// Inverse-CDF sampler for ranks 0..<n with P(rank k) ∝ 1/(k+1)^alpha.
    struct Zipf {
        let cdf: [Double]
        init(n: Int, alpha: Double) {
            var cdf = [Double](repeating: 0, count: n)
            var total = 0.0
            for rank in 0..<n {
                total += 1 / pow(Double(rank + 1), alpha)
                cdf[rank] = total
            }
            self.cdf = cdf.map { $0 / total }
        }
        func sample(_ random: inout EvictionRandom) -> Int {
            let u = random.unit()
            var low = 0
            var high = cdf.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cdf[middle] < u { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// A bijective scramble of ids (so popular objects are not small numbers).
    func objectID(_ index: Int, salt: UInt64) -> UInt64 {
        var z = UInt64(index) &+ salt &* 0x9E37_79B9_7F4A_7C15 &+ seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) >> 1
    }

    /// Independent reference model: Zipf popularity, fixed over time.
    func zipf(alpha: Double, salt: UInt64) -> [UInt64] {
        var random = EvictionRandom(seed: seed ^ salt)
        let distribution = Zipf(n: objects, alpha: alpha)
        return (0..<requests).map { _ in objectID(distribution.sample(&random), salt: salt) }
    }

    /// Zipf traffic interrupted every 100k requests by a sequential scan of 10k cold objects (a backup or a
    /// `KEYS`-like sweep), cycling through a cold range of half the object count.
    func zipfWithScans(alpha: Double, salt: UInt64) -> [UInt64] {
        var random = EvictionRandom(seed: seed ^ salt)
        let distribution = Zipf(n: objects, alpha: alpha)
        let period = 100_000
        let scanLength = 10_000
        let coldRange = objects / 2
        var cold = 0
        var ids: [UInt64] = []
        ids.reserveCapacity(requests)
        while ids.count < requests {
            if ids.count % period == period / 2 {
                for _ in 0..<scanLength where ids.count < requests {
                    ids.append(objectID(objects + cold, salt: salt))
                    cold = (cold + 1) % coldRange
                }
            } else {
                ids.append(objectID(distribution.sample(&random), salt: salt))
            }
        }
        return ids
    }

    /// Zipf popularity that drifts: every 10k requests the rank → object mapping shifts by 1% of the objects, so the
    /// hot set migrates across the whole population over the trace.
    func drifting(alpha: Double, salt: UInt64) -> [UInt64] {
        var random = EvictionRandom(seed: seed ^ salt)
        let distribution = Zipf(n: objects, alpha: alpha)
        let step = max(objects / 100, 1)
        return (0..<requests).map { index in
            let shift = (index / 10_000) * step
            return objectID((distribution.sample(&random) + shift) % objects, salt: salt)
        }
    }

    /// Half the requests walk a loop of 7.5% of the objects in order (bigger than the 5% cache, smaller than the
    /// 10% one); the other half are Zipf(0.8) over the rest.
    func loopMix(salt: UInt64) -> [UInt64] {
        var random = EvictionRandom(seed: seed ^ salt)
        let loopLength = objects * 3 / 40
        let distribution = Zipf(n: objects - loopLength, alpha: 0.8)
        var position = 0
        return (0..<requests).map { _ in
            if random.below(2) == 0 {
                position = (position + 1) % loopLength
                return objectID(position, salt: salt)
            }
            return objectID(loopLength + distribution.sample(&random), salt: salt)
        }
    }
}
