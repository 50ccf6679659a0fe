#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The id of the client whose write command this thread is running, for NOLOOP (0: none).
///
/// The keyspace tells its observer about a change from inside the writer's critical section without knowing who
/// the writer is; the dispatcher sets this around the handler of a write command from a NOLOOP tracking client (the
/// only case that needs it), and the observer, called on the same thread, reads it. A thread-specific value costs a
/// `pthread_getspecific` per change, and nothing at all for connections that do not use NOLOOP.
enum CurrentWriter {
    /// The key, created once per process.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The writer on this thread, or 0.
    static var id: UInt64 {
        UInt64(UInt(bitPattern: pthread_getspecific(key)))
    }

    /// Runs `body` with `id` as this thread's writer.
    static func withWriter<Result>(_ id: UInt64, _ body: () -> Result) -> Result {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(id)))
        defer { pthread_setspecific(key, nil) }
        return body()
    }
}
