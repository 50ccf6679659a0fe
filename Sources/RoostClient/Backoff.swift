/// Exponential backoff with jitter, for reconnecting and for retrying during a failover.
///
/// The n-th wait (n ≥ 1) is drawn uniformly from `[d/2, d]` where `d = min(maximum, initial · 2^(n-1))`
/// ("equal jitter"): it doubles on average, never exceeds ``maximum``, and clients that failed together do not
/// retry in lock step.
public struct RoostBackoff: Sendable, Hashable {
    /// The first wait's upper bound.
    public var initial: Duration
    /// The largest wait.
    public var maximum: Duration

    /// Creates a backoff; `maximum` is raised to `initial` if smaller.
    public init(initial: Duration = .milliseconds(25), maximum: Duration = .seconds(1)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The upper bound of the `attempt`-th wait (1-based), before jitter.
    func ceiling(attempt: Int) -> Duration {
        guard attempt > 1 else { return min(initial, maximum) }
        var delay = initial
        for _ in 1..<min(attempt, 64) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return delay
    }

    /// The `attempt`-th wait (1-based), jittered with `generator`.
    func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(attempt: attempt)
        let nanoseconds = ceiling.nanoseconds
        guard nanoseconds > 1 else { return ceiling }
        let half = nanoseconds / 2
        return .nanoseconds(half + Int64.random(in: 0...(nanoseconds - half), using: &generator))
    }

    /// The `attempt`-th wait, jittered with the system's generator.
    func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product + attoseconds / 1_000_000_000
    }
}
