import NIOCore
import RoostCore
import Synchronization

/// Server-assisted client-side caching (Redis 6's `CLIENT TRACKING`): the shell around ``TrackingTable`` that
/// hears about key changes, registers reads and delivers invalidations to connections.
///
/// ## Where changes come from: one hook
/// The keyspace reports every change of a key to its ``KeyspaceObserver`` from the points that also feed the
/// replication change log (``Keyspace/recordsChanges``): inserting, replacing and unlinking an entry, and removing
/// everything. So one hook covers every writer: RESP write commands, `EXPIRE`/`DEL`, lazy and active expiry,
/// eviction under `maxmemory`, memcached-port writes, and, on a replica, the records applied from its primary's
/// stream (a full resynchronisation empties the keyspace, which is reported as a flush). The observer
/// (``ServerKeyspaceObserver``) forwards to tracking only while some client tracks, so a server where nobody tracks pays one
/// nil check per change.
///
/// ## Ordering: why a reader never keeps a stale value
/// The keyspace is one mutex; every command's access to it is a critical section, and the tracking table is a
/// second mutex (taken after the keyspace's when both are held: keyspace → table → client registry → a session's
/// push queue).
///
/// - A read is registered *before* it reads: the dispatcher remembers the keys of a tracking client's read-only
///   command in the table (R), then runs the command, whose critical section reads the value (r). R < r.
/// - A write looks the table up *after* its change and before its critical section ends: the observer runs inside
///   the writer's critical section, right after the mutation (w), and takes the table lock to find and forget the
///   key's readers (L). w < L, and both are inside the same critical section W.
///
/// Take any read and any write of the same key. The keyspace lock orders r's critical section and W. If W comes
/// first, r sees the new value. If r's section comes first, then R < r < W ∋ L, and since the table lock orders R
/// and L, L finds R's registration and invalidates the reader. Either the reader saw the new value or it is told.
/// (With a lock-striped keyspace the argument is the same per stripe, as long as R precedes the read's stripe
/// section and L happens inside or after the write's.)
///
/// Invalidation is then delivered in the reader's own reply stream *after* the reply that carried the old value:
/// pushes are queued on the reader's session and written by the reader's event loop, either right after its
/// current command (the dispatcher drains the queue after each command of a tracking connection) or by a task on
/// its loop, and a task never runs in the middle of a command. A reply carrying the old value was produced before
/// L, so it is already in the connection's output when the push is appended: a RESP3 client never sees the
/// invalidation before the stale value it invalidates. (A key that changes between R and r is invalidated though
/// the read saw the new value: one spare invalidation, never a missing one.)
///
/// RESP2 clients use `REDIRECT` to another connection; two connections carry no order between them, so a client
/// must guard against the invalidation overtaking the read's reply (Redis's documented race; see
/// docs/TRACKING.md). NOLOOP skips only the writer's own *writes* (the dispatcher marks the thread's current writer
/// for write commands, ``CurrentWriter``): a key that expired or was evicted during its command is still reported.
///
/// ## Delivery
/// An invalidation for a client goes to its session, or to its redirect target's: RESP3 connections get
/// `>2 invalidate [keys]` (or `_` for a flush), a RESP2 redirect target subscribed to a channel gets a
/// `message __redis__:invalidate [keys]`, anything else is dropped (as in Redis). When the redirect target is gone
/// the tracking client gets `tracking-redir-broken` (RESP3) and the `broken_redirect` flag, as in Redis.
final class Tracking: Sendable {
    let table: Mutex<TrackingTable>

    init(maxKeys: Int) {
        table = Mutex(TrackingTable(maxKeys: maxKeys))
    }

    // MARK: Clients

    /// `CLIENT TRACKING on`: validates and applies the options, and makes the keyspace report changes.
    func enable(
        _ id: UInt64, options: TrackingTable.Options, prefixes: [[UInt8]], server: ServerState
    ) throws(CommandError) {
        let outcome: Result<Void, CommandError> = server.keyspace.withLock { keyspace in
            let outcome = table.withLock { table -> Result<Void, CommandError> in
                do throws(CommandError) {
                    try table.validateEnable(id, options: options, prefixes: prefixes)
                } catch {
                    return .failure(error)
                }
                table.enable(id, options: options, prefixes: prefixes)
                return .success(())
            }
            ServerKeyspaceObserver.update(&keyspace, server: server, tracking: true)
            return outcome
        }
        try outcome.get()
    }

    /// `CLIENT TRACKING off`, `RESET`, or the connection closed. When nobody tracks any more, the keyspace stops
    /// reporting changes and the remembered keys are forgotten: they could only be reported to clients that track
    /// (one that turns tracking on again has missed every change while it was off, so it must not trust its cache
    /// anyway).
    func disable(_ id: UInt64, server: ServerState) {
        server.keyspace.withLock { keyspace in
            let idle = table.withLock { table in
                table.disable(id)
                if table.clients.isEmpty { table.forgetKeys() }
                return table.clients.isEmpty
            }
            if idle { ServerKeyspaceObserver.update(&keyspace, server: server, tracking: false) }
        }
    }

    /// The state `CLIENT TRACKINGINFO`, `CLIENT GETREDIR` and `CLIENT LIST` report for client `id`.
    func client(_ id: UInt64) -> TrackingTable.Client? {
        table.withLock { $0.clients[id] }
    }

    // MARK: Events

    /// A tracking client is about to read `keys`.
    func remember(_ keys: [[UInt8]], for id: UInt64, server: ServerState) {
        let directives = table.withLock { $0.remember(keys, for: id) }
        deliver(directives, server: server)
    }

    /// The keyspace reports a change (from inside its critical section).
    func keyChanged(_ key: UnsafeRawBufferPointer, cause: KeyChangeCause, server: ServerState) {
        let writer = cause == .write ? CurrentWriter.id : 0
        let directives = table.withLock { $0.keyChanged(key, cause: cause, writer: writer) }
        deliver(directives, server: server)
    }

    /// The keyspace was emptied.
    func flushed(server: ServerState) {
        let directives = table.withLock { $0.flushed() }
        deliver(directives, server: server)
    }

    /// `tracking-table-max-keys` changed.
    func setMaxKeys(_ maxKeys: Int, server: ServerState) {
        let directives = table.withLock { table in
            table.maxKeys == maxKeys ? [] : table.setMaxKeys(maxKeys)
        }
        deliver(directives, server: server)
    }

    /// Queues each directive's invalidation on the session that receives it.
    func deliver(_ directives: [TrackingTable.Directive], server: ServerState) {
        guard !directives.isEmpty else { return }
        let targets = server.clients.withLock { clients in
            directives.map { directive in
                (clients[directive.client], directive.redirect == 0 ? nil : clients[directive.redirect])
            }
        }
        for (directive, (session, redirectTarget)) in zip(directives, targets) {
            if directive.redirect == 0 {
                session?.enqueue(.invalidate(directive.invalidation, redirected: false))
            } else if let redirectTarget {
                redirectTarget.enqueue(.invalidate(directive.invalidation, redirected: true))
            } else {
                table.withLock { $0.markBrokenRedirect(directive.client) }
                session?.enqueue(.redirectBroken(directive.redirect))
            }
        }
    }
}
