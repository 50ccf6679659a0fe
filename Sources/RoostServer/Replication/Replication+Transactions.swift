import NIOCore
import RoostProtocol

extension Replication {
    /// Ships the changes an `EXEC` made as one unit: `MULTI`, the records, `EXEC`, appended to the stream together
    /// (a replica applies them as a transaction, so nobody there sees part of it). Called inside the `EXEC`'s
    /// critical section, after the changes made before it were propagated on their own; a transaction that changed
    /// nothing adds nothing, as in Redis.
    func propagateTransaction(_ server: ServerState) {
        guard recording.load(ordering: .relaxed) else { return }
        server.keyspace.withLock { keyspace in
            keyspace.takeChanges { changes in
                var multi = ByteBuffer()
                ReplicationRecord.writeCommand(&multi, ["MULTI"])
                var exec = ByteBuffer()
                ReplicationRecord.writeCommand(&exec, ["EXEC"])
                state.withLock { state in
                    multi.withUnsafeReadableBytes { append($0, to: &state) }
                    append(changes, to: &state)
                    exec.withUnsafeReadableBytes { append($0, to: &state) }
                }
            }
        }
    }

    /// Appends `command channel message` (`PUBLISH` without cluster mode, `SPUBLISH`) to the stream, after the
    /// changes made before it, so a replica's subscribers receive what the primary's do.
    func propagatePublish(_ server: ServerState, command: String, _ channel: ByteBuffer, _ message: ByteBuffer) {
        guard recording.load(ordering: .relaxed) else { return }
        propagate(server)
        var record = ByteBuffer()
        record.writeRESPArrayHeader(3)
        record.writeRESPBulkString(command)
        record.writeRESPBulkString(channel)
        record.writeRESPBulkString(message)
        record.withUnsafeReadableBytes { bytes in state.withLock { append(bytes, to: &$0) } }
    }
}
