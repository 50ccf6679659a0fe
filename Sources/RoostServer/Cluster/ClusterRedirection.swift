import NIOCore
import RoostCluster

/// The dispatcher's cluster check (Redis's `getNodeByQuery` in `processCommand`): finds the slot of a command's
/// keys from the command table's key positions and decides whether this node serves it.
enum ClusterRedirection {
    /// The error to answer instead of running `command`, or `nil` to run it. Clears the connection's `ASKING`
    /// state (it lasts one command), unless the command is `ASKING`.
    static func check(_ command: Command, _ context: inout CommandContext, _ cluster: ClusterController)
        -> CommandError?
    {
        let asking = context.asking
        if context.asking && !command.flags.contains(.asking) { context.asking = false }
        let positions = command.keys
        guard positions.first > 0, context.count > positions.first else { return nil }
        let routing = cluster.routing
        let slot = context.withArgument(positions.first) { keySlot($0) }
        if routing.slots.owner(of: slot) == nil { return ClusterRouting.Decision.unbound.error }
        var keyCount = 0
        let count = context.count
        let keyIndexes = command.keyIndexes(argumentCount: count, numkeys: { Int(context.string($0)) })
        for index in keyIndexes {
            keyCount += 1
            if keyCount > 1 && context.withArgument(index, { keySlot($0) }) != slot { return ClusterRouting.crossSlot }
        }
        let now = context.now
        let arguments = context.arguments
        let server = context.server
        // Shard channels are served by the replicas of their slot's primary too (Redis 7.0).
        let replicaRead =
            (context.readOnly && command.flags.contains(.readonly)) || command.flags.contains(.pubsub)
        let decision = routing.route(
            slot: slot, asking: asking, multipleKeys: keyCount > 1, replicaRead: replicaRead
        ) {
            var existing = 0
            var missing = 0
            server.keyspace.withLock { keyspace in
                for index in keyIndexes {
                    let found = arguments[index].withUnsafeReadableBytes { keyspace.peek($0, now: now) } != nil
                    if found { existing += 1 } else { missing += 1 }
                }
            }
            return (existing, missing)
        }
        return decision.error
    }
}

extension ClusterRedirection {
    /// `EXEC`'s cluster check (Redis's `getNodeByQuery` over a transaction): every key of every queued command
    /// must hash to one slot this node serves. `nil` when the transaction may run (also when it has no keys).
    static func checkTransaction(
        _ queued: [TransactionState.QueuedCommand], _ context: inout CommandContext, _ cluster: ClusterController
    ) -> CommandError? {
        var slot: Int?
        var keyCount = 0
        for entry in queued {
            let command = entry.command.takeUnretainedValue()
            for index in command.keyIndexes(argumentCount: entry.arguments.count, numkeys: entry.numkeys) {
                let keySlot = entry.arguments[index].withUnsafeReadableBytes { RoostCluster.keySlot($0) }
                keyCount += 1
                if let slot, slot != keySlot { return ClusterRouting.crossSlot }
                slot = keySlot
            }
        }
        guard let slot else { return nil }
        let now = context.now
        let server = context.server
        let decision = cluster.routing.route(slot: slot, asking: false, multipleKeys: keyCount > 1) {
            var existing = 0
            var missing = 0
            server.keyspace.withLock { keyspace in
                for entry in queued {
                    let command = entry.command.takeUnretainedValue()
                    for index in command.keyIndexes(argumentCount: entry.arguments.count, numkeys: entry.numkeys) {
                        let found =
                            entry.arguments[index].withUnsafeReadableBytes { keyspace.peek($0, now: now) } != nil
                        if found { existing += 1 } else { missing += 1 }
                    }
                }
            }
            return (existing, missing)
        }
        return decision.error
    }
}
