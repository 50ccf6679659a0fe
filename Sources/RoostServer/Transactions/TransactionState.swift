import NIOCore

/// One connection's transaction: whether `MULTI` is open, the commands queued since, whether a queue-time error
/// doomed it, and whether it watches keys (the keys themselves live in the server's ``WatchRegistry``).
struct TransactionState {
    /// A command accepted by `MULTI`: its definition (owned by the server's command table for the server's
    /// lifetime) and its arguments.
    struct QueuedCommand {
        var command: Unmanaged<Command>
        var arguments: [ByteBuffer]

        /// The number at argument `index`, if it is one (a `numkeys` count, for the cluster check).
        func numkeys(_ index: Int) -> Int? {
            index < arguments.count ? Int(String(buffer: arguments[index])) : nil
        }
    }

    /// `MULTI` is open: commands are queued, not run.
    var inMulti = false
    /// A command was refused while queueing (unknown, wrong arity, redirected, over the memory limit): `EXEC`
    /// answers `EXECABORT` and runs nothing.
    var failed = false
    /// The commands to run at `EXEC`, in order.
    var queued: [QueuedCommand] = []
    /// The union of the queued commands' flags (`EXEC` of a transaction with writes is refused over the memory
    /// limit, and waits out a failover's write pause).
    var flags: Command.Flags = []
    /// Bytes of the queued arguments, bounded by `client-query-buffer-limit`.
    var queuedBytes = 0
    /// The connection watches at least one key.
    var watching = false

    /// The dispatcher must look at this connection's commands.
    var isActive: Bool { inMulti || watching }

    /// Ends the `MULTI` (after `EXEC` or `DISCARD`); watches are dropped separately.
    mutating func endMulti() {
        inMulti = false
        failed = false
        queued = []
        flags = []
        queuedBytes = 0
    }
}
