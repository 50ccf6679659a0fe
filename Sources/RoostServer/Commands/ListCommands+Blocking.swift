import NIOCore
import RoostCore
import RoostProtocol

/// The blocking pops: `BLPOP`, `BRPOP`, `BLMOVE` and `BRPOPLPUSH`. When every key is empty the connection blocks
/// (``BlockingRegistry``) until a push serves it or the timeout passes; inside `MULTI` they never block (a null
/// reply at once, as Redis).
extension ListCommands {
    private static let blockingPopKeys = Command.KeyPositions(first: 1, last: -2, step: 1)
    private static let blockingMoveKeys = Command.KeyPositions(first: 1, last: 2, step: 1)

    static var blockingCommands: [Command] {
        [
            Command(
                "blpop", arity: -3, flags: [.write], keys: blockingPopKeys, group: .list, since: "2.0.0",
                summary: "Removes and returns the first element in a list. Blocks until an element is available "
                    + "otherwise. Deletes the list if the last element was popped.",
                complexity: "O(N) where N is the number of provided keys.",
                handler: { context throws(CommandError) in try blockingPop(&context, left: true) }),
            Command(
                "brpop", arity: -3, flags: [.write], keys: blockingPopKeys, group: .list, since: "2.0.0",
                summary: "Removes and returns the last element in a list. Blocks until an element is available "
                    + "otherwise. Deletes the list if the last element was popped.",
                complexity: "O(N) where N is the number of provided keys.",
                handler: { context throws(CommandError) in try blockingPop(&context, left: false) }),
            Command(
                "blmove", arity: 6, flags: [.write, .denyOOM], keys: blockingMoveKeys, group: .list, since: "6.2.0",
                summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an "
                    + "element is available otherwise. Deletes the list if the last element was moved.",
                complexity: "O(1)",
                handler: { context throws(CommandError) in
                    let from = try side(context, 3)
                    let to = try side(context, 4)
                    try blockingMove(&context, fromLeft: from, toLeft: to, timeoutIndex: 5)
                }),
            Command(
                "brpoplpush", arity: 4, flags: [.write, .denyOOM], keys: blockingMoveKeys, group: .list,
                since: "2.2.0",
                summary: "Pops an element from a list, pushes it to another list and returns it. Block until an "
                    + "element is available otherwise. Deletes the list if the last element was popped.",
                complexity: "O(1)",
                handler: { context throws(CommandError) in
                    try blockingMove(&context, fromLeft: false, toLeft: true, timeoutIndex: 3)
                }),
        ]
    }

    /// Redis's blocking timeout: seconds (fractions allowed) as milliseconds, 0 for none. As in Redis 7.0, an
    /// infinity or a value whose deadline would pass `Int64.max` milliseconds is `ERR timeout is negative` (Redis's
    /// deadline overflows there).
    static func timeout(_ context: CommandContext, _ index: Int) throws(CommandError) -> Int64 {
        guard let seconds = try? context.double(index), !seconds.isNaN else {
            throw CommandError("ERR timeout is not a float or out of range")
        }
        let negative = CommandError("ERR timeout is negative")
        guard seconds >= 0, seconds.isFinite else { throw negative }
        let milliseconds = seconds * 1000
        guard milliseconds < Double(Int64.max) - Double(max(context.now, 0)) else { throw negative }
        return Int64(milliseconds)
    }

    /// Whether the command may block: not inside `MULTI`/`EXEC`, and not on a replication link.
    private static func mayBlock(_ context: CommandContext) -> Bool {
        !context.transaction.inMulti && !context.fromPrimary
    }

    /// `BLPOP`/`BRPOP key [key …] timeout`: `[key, element]` from the first non-empty key, else blocks.
    static func blockingPop(_ context: inout CommandContext, left: Bool) throws(CommandError) {
        let timeout = try timeout(context, context.count - 1)
        let keys = (1..<(context.count - 1)).map { context.bytes($0) }
        let server = context.server
        let now = context.now
        func attempt() throws(CommandError) -> ([UInt8], [UInt8])? {
            try server.keyspace.withLock { keyspace throws(CommandError) -> ([UInt8], [UInt8])? in
                for key in keys {
                    let element = try ListCommands.onList(key, &keyspace, now: now) { list in
                        list == nil ? nil : (left ? list!.popFirst() : list!.popLast())
                    }
                    if let element { return (key, element) }
                }
                return nil
            }
        }
        let outcome: Either<([UInt8], [UInt8]), EventLoopFuture<BlockedOutcome>>
        if mayBlock(context) {
            outcome = try server.blocking.popOrBlock(
                keys: keys, operation: .pop(left: left), clientID: context.session.id,
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
            context.out.writeRESPArrayHeader(2)
            context.out.writeRESPBulkString(key)
            context.out.writeRESPBulkString(element)
        case .right(let future):
            context.blocked = future
        }
    }

    /// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout` and `BRPOPLPUSH source destination timeout`.
    static func blockingMove(
        _ context: inout CommandContext, fromLeft: Bool, toLeft: Bool, timeoutIndex: Int
    ) throws(CommandError) {
        let timeout = try timeout(context, timeoutIndex)
        let source = context.bytes(1)
        let destination = context.bytes(2)
        let server = context.server
        let now = context.now
        func attempt() throws(CommandError) -> [UInt8]? {
            try server.keyspace.withLock { keyspace throws(CommandError) -> [UInt8]? in
                try ListCommands.move(
                    from: source, fromLeft: fromLeft, to: destination, toLeft: toLeft, in: &keyspace, now: now)
            }
        }
        let outcome: Either<[UInt8], EventLoopFuture<BlockedOutcome>>
        if mayBlock(context) {
            outcome = try server.blocking.popOrBlock(
                keys: [source], operation: .move(left: fromLeft, destination: destination, toLeft: toLeft),
                clientID: context.session.id, respVersion: context.respVersion,
                eventLoop: context.session.channel.eventLoop, timeout: timeout, attempt: attempt)
        } else {
            guard let moved = try attempt() else { return context.replyNull() }
            outcome = .left(moved)
        }
        switch outcome {
        case .left(let element):
            server.blocking.signal(destination)
            context.replyBulk(element)
        case .right(let future):
            context.blocked = future
        }
    }
}
