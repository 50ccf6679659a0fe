import Logging
import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol

// Dispatcher, CommandContext.init and ClientSession.init are internal: scripts/bench-micro builds with
// `-Xswiftc -enable-testing` so that this import works in a release build.
@testable import RoostServer

/// Number of keys prefilled for the keyspace and dispatch benchmarks.
let prefilledKeyCount = 100_000

/// The value stored under every prefilled key: 3 bytes, `redis-benchmark`'s default `-d`.
let storedValue: [UInt8] = Array("xxx".utf8)

/// Key `index` as `redis-benchmark -r` spells it: `key:` and 12 decimal digits.
func keyName(_ index: Int) -> [UInt8] {
    var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 12)
    var rest = index
    var position = digits.count - 1
    while rest > 0 && position >= 0 {
        digits[position] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
        position -= 1
    }
    return Array("key:".utf8) + digits
}

/// Prefilled key indices in a fixed pseudo-random order, so that consecutive operations touch unrelated buckets
/// (as a client picking random keys does) and every run visits the same keys.
let keyOrder: [Int] = {
    var order = Array(0..<prefilledKeyCount)
    var generator = SplitMix64(seed: 0x5EED)
    order.shuffle(using: &generator)
    return order
}()

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A command encoded as a client sends it: a RESP multibulk of bulk strings.
func encodedRequest(_ arguments: [[UInt8]]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeString("*\(arguments.count)\r\n")
    for argument in arguments {
        buffer.writeString("$\(argument.count)\r\n")
        buffer.writeBytes(argument)
        buffer.writeString("\r\n")
    }
    return buffer
}

/// `count` requests built by `make`, one after the other in one buffer (a pipelined read).
func pipelinedRequests(_ count: Int, _ make: (Int) -> [[UInt8]]) -> ByteBuffer {
    var buffer = ByteBuffer()
    for index in 0..<count {
        var request = encodedRequest(make(index))
        buffer.writeBuffer(&request)
    }
    return buffer
}

/// A keyspace filled with `prefilledKeyCount` keys, held by a class so benchmark closures can share and mutate it
/// (`Keyspace` is not copyable).
final class KeyspaceFixture {
    var keyspace = Keyspace()
    /// The prefilled keys in `keyOrder`, as the raw bytes the keyspace calls take.
    let keys: [[UInt8]]
    let now: Int64 = 1_700_000_000_000

    init() {
        // The server's default policy (allkeys-sieve), without a memory limit so nothing is evicted.
        keyspace.configureEviction(.allKeysSieve, maxMemory: 0, now: now)
        keys = keyOrder.map(keyName)
        for key in keys {
            key.withUnsafeBytes { key in storedValue.withUnsafeBytes { keyspace.setString(key, $0, now: now) } }
        }
    }
}

/// One connection's `CommandContext` on a server at `roostd`'s default configuration (allkeys-sieve, `maxmemory` half
/// of the machine's memory, the real wall clock), with `prefilledKeyCount` keys: what `ConnectionHandler` hands to
/// `Dispatcher.execute` for each parsed command.
final class ServerFixture {
    let server: ServerState
    var context: CommandContext
    /// The prefilled keys in `keyOrder`, each as its own buffer (a parsed argument is a slice of the read buffer).
    let keys: [ByteBuffer]

    init() {
        server = ServerState(
            configuration: ServerConfiguration(),
            logger: Logger(label: "roost.benchmarks", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let session = ClientSession(id: 1, channel: EmbeddedChannel(), now: server.clock())
        // ConnectionHandler starts every connection with a 1 KiB reply buffer.
        context = CommandContext(
            server: server,
            session: session,
            out: ByteBufferAllocator().buffer(capacity: 1024),
            authenticated: true
        )
        let names = keyOrder.map(keyName)
        keys = names.map { ByteBuffer(bytes: $0) }
        let now = server.clock()
        server.keyspace.withLock { keyspace in
            for name in names {
                name.withUnsafeBytes { key in storedValue.withUnsafeBytes { keyspace.setString(key, $0, now: now) } }
            }
        }
    }
}
