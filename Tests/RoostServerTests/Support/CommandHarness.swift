import Logging
import NIOCore
import NIOEmbedded
import RoostCore
import RoostProtocol
import Synchronization
import Testing

@testable import RoostServer

/// A decoded reply, shaped for readable expectations.
enum Reply: Hashable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([Reply])

    static let ok = Reply.simple("OK")
    static func bulk(_ text: String) -> Reply { .bulk(Array(text.utf8)) }
    static func strings(_ texts: [String]) -> Reply { .array(texts.map { .bulk($0) }) }

    init(_ value: RESPValue) {
        switch value {
        case .simpleString(let bytes): self = .simple(String(buffer: bytes))
        case .error(let bytes): self = .error(String(buffer: bytes))
        case .integer(let value): self = .integer(value)
        case .bulkString(let bytes?): self = .bulk(Array(bytes.readableBytesView))
        case .bulkString(nil), .array(nil), .null: self = .null
        case .array(let elements?): self = .array(elements.map(Reply.init))
        default: self = .error("unexpected reply \(value)")
        }
    }

    var description: String {
        switch self {
        case .simple(let text): "+\(text)"
        case .error(let text): "-\(text)"
        case .integer(let value): ":\(value)"
        case .bulk(let bytes): "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .null: "(nil)"
        case .array(let elements): "\(elements)"
        }
    }

    /// The bulk strings of an array reply, decoded and sorted.
    var sortedStrings: [String] {
        guard case .array(let elements) = self else { return [] }
        return elements.compactMap { element -> String? in
            guard case .bulk(let bytes) = element else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }.sorted()
    }

    /// A `SCAN` reply's next cursor and keys.
    var scanStep: (cursor: UInt64, keys: [String])? {
        guard case .array(let parts) = self, parts.count == 2, case .bulk(let cursor) = parts[0],
            let value = UInt64(String(decoding: cursor, as: UTF8.self))
        else { return nil }
        return (value, parts[1].sortedStrings)
    }
}

/// One connection on a fresh in-memory server, driven through the real dispatcher with a clock the test controls.
struct Harness {
    let server: ServerState
    var context: CommandContext
    private let clock: ManualClock

    /// Unix milliseconds every command sees; tests move it forward to expire keys.
    var now: Int64 {
        get { clock.now }
        nonmutating set { clock.now = newValue }
    }

    init(authenticated: Bool = true, configure: (inout ServerConfiguration) -> Void = { _ in }) {
        var configuration = ServerConfiguration()
        configure(&configuration)
        let clock = ManualClock(1_700_000_000_000)
        self.clock = clock
        server = ServerState(
            configuration: configuration,
            logger: Logger(label: "roost.tests"),
            clock: { clock.now }
        )
        let session = ClientSession(id: 1, channel: EmbeddedChannel(), now: 0)
        context = CommandContext(server: server, session: session, out: ByteBuffer(), authenticated: authenticated)
    }

    /// Runs one command and returns its reply.
    @discardableResult
    mutating func callAsFunction(_ arguments: String...) -> Reply {
        run(arguments.map { Array($0.utf8) })
    }

    /// Runs one command given as byte arguments.
    @discardableResult
    mutating func run(_ arguments: [[UInt8]]) -> Reply {
        context.arguments = arguments.map { ByteBuffer(bytes: $0) }
        Dispatcher.beginBatch(&context)
        Dispatcher.execute(&context)
        return takeReply()
    }

    /// Runs one command (the same as calling the harness; kept for tests that stress the dispatcher path).
    @discardableResult
    mutating func dispatch(_ arguments: String...) -> Reply {
        run(arguments.map { Array($0.utf8) })
    }

    /// Decodes exactly one reply from the output buffer.
    mutating func takeReply() -> Reply {
        var parser = RESPValueParser()
        let value = try? parser.parse(&context.out)
        #expect(context.out.readableBytes == 0, "exactly one reply per command")
        context.out.clear()
        return value.map(Reply.init) ?? .error("no reply")
    }

    func entry(_ key: String) -> Entry? {
        let now = self.now
        let bytes = Array(key.utf8)
        return server.keyspace.withLock { keyspace in bytes.withUnsafeBytes { keyspace.peek($0, now: now) } }
    }

    func statistics() -> Keyspace.Statistics { server.keyspace.withLock { $0.statistics } }

    func setPolicy(_ policy: String, maxMemory: Int = 0) {
        try? server.updateConfiguration { configuration in
            configuration.maxMemoryPolicy = policy
            configuration.maxMemory = maxMemory
        }
    }
}

/// A settable clock shared with the server under test.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64) { value = Mutex(start) }
    var now: Int64 {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
