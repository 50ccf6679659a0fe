#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension RoostCache {
    /// The wall clock in Unix milliseconds (`clock_gettime(CLOCK_REALTIME)`), the default clock of a
    /// ``RoostCache``.
    ///
    /// Times to live are measured on this clock, so a wall-clock step (NTP, a manual change) shortens or lengthens
    /// them, as it does in Redis. Inject another clock at ``RoostCache/init(maximumBytes:policy:clock:)`` to change
    /// that, or to drive time by hand in tests.
    @Sendable public static func wallClockMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
