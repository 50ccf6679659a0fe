import NIOCore
import RoostCore
import RoostProtocol

/// The blocking pops of sorted sets, `BZPOPMIN` and `BZPOPMAX`: when every key is empty the connection blocks
/// (``BlockingRegistry``, as `BLPOP` does) until a write that adds members serves it or the timeout passes; inside
/// `MULTI` they never block (a null reply at once, as Redis).
extension SortedSetCommands {
    private static let blockingKeys = Command.KeyPositions(first: 1, last: -2, step: 1)

    static var blockingCommands: [Command] {
        let complexity = "O(log(N)) with N being the number of elements in the sorted set."
        return [
            Command(
                "bzpopmin", arity: -3, flags: [.write, .fast], keys: blockingKeys, group: .sortedSet, since: "5.0.0",
                summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks "
                    + "until a member is available otherwise. Deletes the sorted set if the last element was popped.",
                complexity: complexity,
                handler: { context throws(CommandError) in try blockingPop(&context, highest: false) }),
            Command(
                "bzpopmax", arity: -3, flags: [.write, .fast], keys: blockingKeys, group: .sortedSet, since: "5.0.0",
                summary: "Removes and returns the member with the highest score from one or more sorted sets. "
                    + "Blocks until a member is available otherwise. Deletes the sorted set if the last element was "
                    + "popped.",
                complexity: complexity,
                handler: { context throws(CommandError) in try blockingPop(&context, highest: true) }),
        ]
    }

    /// Pops the lowest- or highest-scoring member of the sorted set at `key` (nil when absent); `WRONGTYPE` for
    /// another type.
    static func popExtreme(
        _ key: [UInt8], highest: Bool, _ keyspace: inout Keyspace, now: Int64
    ) throws(CommandError) -> SortedSetValue.Element? {
        var outcome: Result<SortedSetValue.Element?, CommandError> = .success(nil)
        key.withUnsafeBytes { bytes in
            outcome = Result { () throws(CommandError) -> SortedSetValue.Element? in
                try keyspace.withSortedSet(bytes, now: now, wrongType: CommandError.wrongType) {
                    set throws(CommandError) -> SortedSetValue.Element? in
                    guard set != nil, !set!.isEmpty else { return nil }
                    let element = set!.element(at: highest ? set!.count - 1 : 0)
                    set!.remove(element.member)
                    return element
                }
            }
        }
        return try outcome.get()
    }

    /// Writes a blocking pop's reply: `[key, member, score]`.
    static func writePopped(
        key: [UInt8], _ element: SortedSetValue.Element, to out: inout ByteBuffer, _ version: RESPVersion
    ) {
        out.writeRESPArrayHeader(3)
        out.writeRESPBulkString(key)
        out.writeRESPBulkString(element.member)
        out.writeRESPDouble(element.score, version)
    }

    /// `BZPOPMIN`/`BZPOPMAX key [key …] timeout`: `[key, member, score]` from the first non-empty key (a key of
    /// another type met first is `WRONGTYPE`), else blocks; a null array when the timeout passes.
    static func blockingPop(_ context: inout CommandContext, highest: Bool) throws(CommandError) {
        let timeout = try ListCommands.timeout(context, context.count - 1)
        let keys = (1..<(context.count - 1)).map { context.bytes($0) }
        let server = context.server
        let now = context.now
        func attempt() throws(CommandError) -> ([UInt8], SortedSetValue.Element)? {
            try server.keyspace.withLock { keyspace throws(CommandError) -> ([UInt8], SortedSetValue.Element)? in
                for key in keys {
                    if let element = try popExtreme(key, highest: highest, &keyspace, now: now) {
                        return (key, element)
                    }
                }
                return nil
            }
        }
        let outcome: Either<([UInt8], SortedSetValue.Element), EventLoopFuture<BlockedOutcome>>
        if !context.transaction.inMulti && !context.fromPrimary {
            outcome = try server.blocking.popOrBlock(
                keys: keys, operation: .popSorted(highest: highest), clientID: context.session.id,
                respVersion: context.respVersion, eventLoop: context.session.channel.eventLoop, timeout: timeout,
                attempt: attempt)
        } else {
            guard let popped = try attempt() else {
                context.out.writeRESPNullArray(context.respVersion)
                return
            }
            outcome = .left(popped)
        }
        switch outcome {
        case .left((let key, let element)):
            let version = context.respVersion
            writePopped(key: key, element, to: &context.out, version)
        case .right(let future):
            context.blocked = future
        }
    }
}
