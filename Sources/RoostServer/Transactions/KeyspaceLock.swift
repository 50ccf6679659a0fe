public import RoostCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The keyspace behind one mutex, with one addition for transactions: a thread that holds the keyspace for a whole
/// `EXEC` (``withExclusiveSection(_:)``) may call ``withLock(_:)`` again from the commands it runs, and is handed
/// the keyspace it already holds instead of deadlocking.
///
/// Every command's access to the keyspace is a critical section (``withLock(_:)``); a transaction's commands each
/// take the lock as usual, so running them inside one exclusive section makes the whole `EXEC` one critical section
/// without changing any command. The held keyspace is remembered in a thread-specific slot, set only while a
/// section runs on that thread, and looked up only while some section runs anywhere (``sections``): the usual path
/// pays one relaxed atomic load per acquisition. (Looking the slot up on every acquisition cost GET/SET/INCR with
/// pipeline 16 about 8% of their throughput, scripts/bench.)
public final class KeyspaceLock: @unchecked Sendable {
    // @unchecked: the keyspace is only reached through `mutex`, or through the pointer a thread stores while it
    // holds `mutex` (``withExclusiveSection(_:)``), and only that thread reads its own slot.
    private let mutex: Mutex<Keyspace>
    /// Exclusive sections running now, on any thread.
    private let sections = Atomic<Int>(0)

    /// The slot holding the keyspace pointer of a section running on this thread, created once per process.
    private static let heldKeyspace: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// A lock around `keyspace`.
    public init(_ keyspace: consuming sending Keyspace) {
        mutex = Mutex(keyspace)
    }

    /// Runs `body` with exclusive access to the keyspace (re-entrant inside ``withExclusiveSection(_:)`` on the
    /// same thread).
    @inline(__always)
    public func withLock<Result, Failure: Error>(
        _ body: (inout Keyspace) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // A section on this thread counted itself before setting its slot, so it sees its own count.
        if sections.load(ordering: .relaxed) > 0, let held = pthread_getspecific(Self.heldKeyspace) {
            return try body(&held.assumingMemoryBound(to: Keyspace.self).pointee)
        }
        var outcome: Swift.Result<Result, Failure>?
        mutex.withLock { keyspace in
            outcome = Swift.Result { () throws(Failure) -> Result in try body(&keyspace) }
        }
        return try outcome!.get()
    }

    /// Holds the keyspace for the whole of `body`: every ``withLock(_:)`` on this thread inside `body` runs within
    /// the same critical section (an `EXEC`). `body` reaches the keyspace only through ``withLock(_:)``, so each
    /// access is a fresh one through the held pointer. Sections do not nest.
    public func withExclusiveSection<Result>(_ body: () -> Result) -> Result {
        precondition(pthread_getspecific(Self.heldKeyspace) == nil, "exclusive keyspace sections do not nest")
        var outcome: Result?
        sections.add(1, ordering: .relaxed)
        defer { sections.subtract(1, ordering: .relaxed) }
        mutex.withLock { keyspace in
            withUnsafeMutablePointer(to: &keyspace) { pointer in
                pthread_setspecific(Self.heldKeyspace, pointer)
                defer { pthread_setspecific(Self.heldKeyspace, nil) }
                outcome = body()
            }
        }
        return outcome!
    }
}
