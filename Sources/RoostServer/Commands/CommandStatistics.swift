import Synchronization

/// Per-command counters for `INFO commandstats`, updated lock-free from every event loop.
public final class CommandStatistics: Sendable {
    let calls = Atomic<Int>(0)
    let microseconds = Atomic<Int>(0)
    let rejectedCalls = Atomic<Int>(0)
    let failedCalls = Atomic<Int>(0)

    init() {}

    /// Adds `count` calls that took `elapsed` microseconds in all, `failed` of them with an error reply.
    func recordCalls(_ count: Int, microseconds elapsed: Int, failed: Int) {
        calls.add(count, ordering: .relaxed)
        microseconds.add(elapsed, ordering: .relaxed)
        if failed > 0 { failedCalls.add(failed, ordering: .relaxed) }
    }

    func recordRejection() {
        rejectedCalls.add(1, ordering: .relaxed)
    }

    func reset() {
        calls.store(0, ordering: .relaxed)
        microseconds.store(0, ordering: .relaxed)
        rejectedCalls.store(0, ordering: .relaxed)
        failedCalls.store(0, ordering: .relaxed)
    }
}
