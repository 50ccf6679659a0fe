public import NIOCore
public import RoostCore
public import RoostProtocol
import Synchronization

/// Everything a command handler works with: the arguments, the reply buffer, this connection's state and the
/// shared server state. One instance lives per connection and is reused for every command, so dispatch allocates
/// nothing of its own.
public struct CommandContext {
    /// The command's arguments, name first, as slices of the connection's receive buffer.
    public var arguments: [ByteBuffer] = []
    /// Replies are appended here and flushed once per read batch.
    public var out: ByteBuffer
    /// Server-wide state.
    public let server: ServerState
    /// The connection's shared view.
    public let session: ClientSession
    /// The protocol version chosen by `HELLO`.
    public var respVersion: RESPVersion = .resp2
    /// Whether the connection has authenticated (true when no password is set).
    public var authenticated: Bool
    /// Set by a handler to close the connection once its reply is flushed (`QUIT`, protocol errors).
    public var closeAfterReply = false
    /// The wall clock at the start of this command, Unix milliseconds; every key checked during one command sees
    /// the same time, as in Redis.
    public var now: Int64 = 0
    /// Cluster mode: the client sent `ASKING`, so the next command may use a slot this node is importing.
    public var asking = false
    /// Cluster mode: `READONLY` was sent, so a replica serves reads of its primary's slots.
    public var readOnly = false
    /// The connection is a replica's link to its primary, applying the replication stream: no cluster routing,
    /// memory limit or read-only check applies.
    var fromPrimary = false
    /// Set by a handler that cannot answer yet (`WAIT`, a write during a failover pause): the connection stops
    /// executing its pipeline until the future completes, then replies or runs the command again.
    var blocked: EventLoopFuture<BlockedOutcome>?
    /// `REPLCONF listening-port`, for `INFO replication` and `ROLE`.
    var replicaListeningPort = 0
    /// The connection sent `PSYNC`: it is a replica's stream now.
    var isReplicationFeed = false
    /// The last command executed, published to `CLIENT LIST` once per read batch (unretained: the server's command
    /// table owns it).
    var lastCommand: Unmanaged<Command>?
    /// The monotonic clock (microseconds) when the previous command of this batch finished.
    var tick: Int64 = 0
    /// Counts not yet added to the shared statistics (see ``Dispatcher/flushStatistics(_:)``).
    var pendingStatistics = PendingStatistics()
    /// `CLIENT TRACKING` state of this connection (mirrors the server's ``TrackingTable`` entry).
    var tracking = ConnectionTracking()
    /// Pub/sub channels, patterns and shard channels this connection subscribes to.
    var pubsub = PubSubSubscriptions()
    /// `MULTI` state: the queued commands and `WATCH`ed keys.
    var transaction = TransactionState()
    /// Tracking is on, a channel is subscribed, a transaction is open or keys are watched: the dispatcher takes its
    /// slower path (``Dispatcher/runWithConnectionModes(_:_:)``). One flag, so other connections pay one branch.
    var hasConnectionModes = false

    /// A connection's tracking state.
    struct ConnectionTracking {
        var enabled = false
        var options = TrackingTable.Options()
        /// The last command was `CLIENT CACHING yes|no` (Redis keeps the mark across any `CLIENT` subcommand).
        var cachingGiven = false
    }

    /// Recomputes ``hasConnectionModes`` after tracking or subscriptions changed.
    mutating func refreshConnectionModes() {
        hasConnectionModes = tracking.enabled || pubsub.isSubscribed || transaction.isActive
    }

    /// Statistics gathered during a batch: commands processed, and the calls of the latest command.
    struct PendingStatistics {
        var processed = 0
        /// Unretained: the server's command table owns it.
        var command: Unmanaged<Command>?
        var calls = 0
        var microseconds = 0
        var failed = 0
    }

    init(server: ServerState, session: ClientSession, out: ByteBuffer, authenticated: Bool) {
        self.server = server
        self.session = session
        self.out = out
        self.authenticated = authenticated
    }

    /// Number of arguments, name included.
    @inlinable public var count: Int { arguments.count }

    /// Runs `body` with exclusive access to the keyspace (one command is one critical section).
    public func withKeyspace<Result: Sendable, Failure: Error>(
        _ body: (inout Keyspace) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try server.keyspace.withLock { (keyspace: inout Keyspace) throws(Failure) -> Result in try body(&keyspace) }
    }

    /// Reads the entry of the key in argument `index` as a read command does (touches it, counts a hit or miss).
    public func readEntry(_ index: Int) -> Entry? {
        let now = self.now
        return withArgument(index) { key in server.keyspace.withLock { $0.read(key, now: now) } }
    }

    /// The entry of the key in argument `index` without touching it or counting statistics.
    public func peekEntry(_ index: Int) -> Entry? {
        let now = self.now
        return withArgument(index) { key in server.keyspace.withLock { $0.peek(key, now: now) } }
    }

    /// Calls `body` with the reply buffer and the bytes of the string at the key in argument `index`, read in place
    /// while the keyspace lock is held (a read command's lookup: touches the key, counts a hit or miss); nil when the
    /// key is absent, `WRONGTYPE` when it holds another type. Nothing is copied out of the keyspace.
    public mutating func withString<Result: Sendable>(
        _ index: Int,
        _ body: (inout ByteBuffer, UnsafeRawBufferPointer) -> Result
    ) throws(CommandError) -> Result? {
        let now = self.now
        let lookup = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in keyspace.lookupString(key, now: now) { body(&out, $0) } }
        }
        switch lookup {
        case .found(let result): return result
        case .missing: return nil
        case .wrongType: throw .wrongType
        }
    }

    /// Rewrites the string at the key in argument `index` in place from its current bytes, in one critical section
    /// (see ``Keyspace/rewriteString(_:now:scratchCapacity:encoding:wrongType:_:)``); `WRONGTYPE` when the key holds
    /// another type.
    public func rewriteString(
        _ index: Int,
        scratchCapacity: Int,
        _ body: (UnsafeRawBufferPointer?, UnsafeMutableRawBufferPointer) -> Int?
    ) throws(CommandError) {
        let now = self.now
        var wrongType = false
        _ = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in
                keyspace.rewriteString(key, now: now, scratchCapacity: scratchCapacity, wrongType: &wrongType, body)
            }
        }
        if wrongType { throw .wrongType }
    }

    /// Gives `body` the entry of the key in argument `index` to change in place (see ``Keyspace/update(_:now:_:)``).
    public func updateEntry<Result: Sendable>(
        _ index: Int,
        _ body: (inout Entry?) throws(CommandError) -> Result
    ) throws(CommandError) -> Result {
        let now = self.now
        let outcome: Swift.Result<Result, CommandError> = withArgument(index) { key in
            server.keyspace.withLock { keyspace in
                keyspace.update(key, now: now) { entry in
                    Swift.Result { () throws(CommandError) -> Result in try body(&entry) }
                }
            }
        }
        return try outcome.get()
    }

    // MARK: Arguments

    /// Argument `index` as a `String` (for names and options; keys and values stay bytes).
    public func string(_ index: Int) -> String {
        String(buffer: arguments[index])
    }

    /// Argument `index` as a byte array (copied: for storing).
    public func bytes(_ index: Int) -> [UInt8] {
        Array(arguments[index].readableBytesView)
    }

    /// Whether argument `index` equals `option`, ignoring ASCII case. `option` must be upper case.
    public func argument(_ index: Int, is option: StaticString) -> Bool {
        let argument = arguments[index]
        guard argument.readableBytes == option.utf8CodeUnitCount else { return false }
        return argument.withUnsafeReadableBytes { bytes in
            var position = 0
            let pointer = option.utf8Start
            while position < bytes.count {
                var byte = bytes[position]
                if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }
                if byte != pointer[position] { return false }
                position += 1
            }
            return true
        }
    }

    /// Argument `index` parsed as a 64-bit integer with Redis's strictness (no spaces, no `+`, no leading zeros).
    public func integer(_ index: Int) throws(CommandError) -> Int64 {
        guard let value = arguments[index].withUnsafeReadableBytes({ RedisNumber.parseInteger($0) }) else {
            throw .notInteger
        }
        return value
    }

    /// Argument `index` parsed as a float the way Redis's `getLongDoubleFromObject` does.
    public func double(_ index: Int) throws(CommandError) -> Double {
        guard let value = arguments[index].withUnsafeReadableBytes({ RedisNumber.parseDouble($0) }) else {
            throw .notFloat
        }
        return value
    }

    /// Calls `body` with argument `index`'s bytes (no copy).
    @inlinable
    public func withArgument<Result, Failure: Error>(
        _ index: Int,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let outcome: Swift.Result<Result, Failure> = arguments[index].withUnsafeReadableBytes { bytes in
            Swift.Result { () throws(Failure) -> Result in try body(bytes) }
        }
        return try outcome.get()
    }

    // MARK: Replies

    /// Appends `+OK`.
    public mutating func replyOK() { out.writeRESPSimpleString("OK") }

    /// Appends a bulk string, or the null reply for nil.
    public mutating func replyBulk(_ bytes: [UInt8]?) {
        if let bytes { out.writeRESPBulkString(bytes) } else { out.writeRESPNull(respVersion) }
    }

    /// Appends an integer.
    public mutating func replyInteger(_ value: Int) { out.writeRESPInteger(value) }

    /// Appends the null bulk (RESP2 `$-1`, RESP3 `_`).
    public mutating func replyNull() { out.writeRESPNull(respVersion) }

    /// Appends an error reply.
    public mutating func replyError(_ error: CommandError) { out.writeRESPError(error.message) }
}
