import Benchmark
import NIOCore
import RoostCore
import RoostProtocol

@testable import RoostServer

/// Parser state that lives as long as a connection: the parser and the argument array it refills.
final class ParseFixture {
    var parser = RESPRequestParser()
    var arguments: [ByteBuffer] = []
    let limits = RESPRequestLimits()
}

/// A reply buffer, reused the way `CommandContext.out` is.
final class EncodeFixture {
    var out = ByteBufferAllocator().buffer(capacity: 4096)
    let small: [UInt8] = storedValue
    let large = [UInt8](repeating: UInt8(ascii: "v"), count: 1024)
}

let benchmarks: @Sendable () -> Void = {
    // One operation is one iteration of the inner loop (`scaledIterations`): a thousand per measured sample, so the
    // clock and counter reads are amortised. Times and malloc counts are printed per operation.
    //
    // Thresholds (Thresholds/*.p90.json, checked by scripts/bench-micro) gate the malloc count exactly: it is
    // deterministic. Wall-clock time only fails the check when p90 is more than 3x the recorded value, since this
    // runs on shared 2-vCPU machines; throughput is not checked (it is the same number inverted).
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000,
        thresholds: [
            .mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 0]),
            .wallClock: BenchmarkThresholds(relative: [.p90: 200.0]),
            .throughput: .none,
        ]
    )

    // MARK: RESP parsing (RoostProtocol.RESPRequestParser), as ConnectionHandler calls it per command

    let getRequest = encodedRequest([Array("GET".utf8), keyName(42)])
    let setRequest = encodedRequest([Array("SET".utf8), keyName(42), storedValue])
    let pipelinedGets = pipelinedRequests(16) { [Array("GET".utf8), keyName($0)] }

    Benchmark("Parse.GET") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var buffer = getRequest
            let parsed = try fixture.parser.parse(&buffer, into: &fixture.arguments, limits: fixture.limits)
            blackHole(parsed)
        }
        blackHole(fixture.arguments)
    } setup: {
        ParseFixture()
    }

    Benchmark("Parse.SET") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var buffer = setRequest
            let parsed = try fixture.parser.parse(&buffer, into: &fixture.arguments, limits: fixture.limits)
            blackHole(parsed)
        }
        blackHole(fixture.arguments)
    } setup: {
        ParseFixture()
    }

    // One operation is a whole read of 16 pipelined GETs, parsed command by command.
    Benchmark("Parse.Pipeline16xGET") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var buffer = pipelinedGets
            while try fixture.parser.parse(&buffer, into: &fixture.arguments, limits: fixture.limits) {
                blackHole(fixture.arguments.count)
            }
        }
        blackHole(fixture.arguments)
    } setup: {
        ParseFixture()
    }

    // MARK: Command dispatch (RoostServer.Dispatcher), 100k keys, roostd's default configuration

    // GET of an existing key: lookup in the command table, checks, the handler copying the value from the entry
    // block into the reply buffer, statistics. The reply buffer is reused (cleared after each command), as it is
    // between flushes.
    Benchmark("Dispatch.GET") { benchmark, fixture in
        var index = 0
        for _ in benchmark.scaledIterations {
            fixture.context.arguments[1] = fixture.keys[index]
            if index % 16 == 0 { Dispatcher.beginBatch(&fixture.context) }  // as a read of 16 pipelined commands
            Dispatcher.execute(&fixture.context)
            blackHole(fixture.context.out.readableBytes)
            fixture.context.out.clear()
            index = index == prefilledKeyCount - 1 ? 0 : index + 1
        }
    } setup: { () -> ServerFixture in
        let fixture = ServerFixture()
        fixture.context.arguments = [ByteBuffer(string: "GET"), fixture.keys[0]]
        return fixture
    }

    // SET of an existing key to a value of the same size (rewritten in place in its entry block).
    Benchmark("Dispatch.SET") { benchmark, fixture in
        var index = 0
        for _ in benchmark.scaledIterations {
            fixture.context.arguments[1] = fixture.keys[index]
            if index % 16 == 0 { Dispatcher.beginBatch(&fixture.context) }  // as a read of 16 pipelined commands
            Dispatcher.execute(&fixture.context)
            blackHole(fixture.context.out.readableBytes)
            fixture.context.out.clear()
            index = index == prefilledKeyCount - 1 ? 0 : index + 1
        }
    } setup: { () -> ServerFixture in
        let fixture = ServerFixture()
        fixture.context.arguments = [ByteBuffer(string: "SET"), fixture.keys[0], ByteBuffer(bytes: storedValue)]
        return fixture
    }

    // MARK: One connection's read, parse, dispatch and flush (ConnectionHandler.processBuffered without NIO)

    // What the server does for each read: parse every command in the read buffer into the context, dispatch it,
    // then hand the reply buffer to the channel (`write`, flushed at the end of the loop's turn) and mark it read.
    // The buffer is cleared at the start of the next read, once the channel has released it, so its storage is
    // reused: no allocation per read (clearing while the channel still shared it cost 2 mallocs per read).
    // One operation is one read: a single GET (an unpipelined client) or 16 pipelined GETs.
    for pipeline in [1, 16] {
        let name = pipeline == 1 ? "Connection.GET" : "Connection.Pipeline16xGET"
        let reads: [ByteBuffer] = (0..<prefilledKeyCount / pipeline).map { read in
            pipelinedRequests(pipeline) { [Array("GET".utf8), keyName(keyOrder[read * pipeline + $0])] }
        }
        Benchmark(name) { benchmark, fixture in
            var read = 0
            for _ in benchmark.scaledIterations {
                var buffer = reads[read]
                // As ConnectionHandler: the previous replies were handed to the channel and marked read; the
                // channel has released them, so clearing reuses the storage.
                fixture.server.context.out.clear()
                Dispatcher.beginBatch(&fixture.server.context)
                while try fixture.parsing.parser.parse(
                    &buffer,
                    into: &fixture.server.context.arguments,
                    limits: fixture.parsing.limits
                ) {
                    Dispatcher.execute(&fixture.server.context)
                }
                let sent = fixture.server.context.out  // what write passes to the channel
                fixture.server.context.out.moveReaderIndex(to: fixture.server.context.out.writerIndex)
                blackHole(sent)  // the channel writes and releases it before the next read
                read = read == reads.count - 1 ? 0 : read + 1
            }
        } setup: {
            (server: ServerFixture(), parsing: ParseFixture())
        }
    }

    // MARK: Keyspace (RoostCore.Keyspace), 100k keys of 3-byte values, allkeys-sieve bookkeeping

    Benchmark("Keyspace.get") { benchmark, fixture in
        var index = 0
        var total = 0
        for _ in benchmark.scaledIterations {
            let length = fixture.keys[index].withUnsafeBytes { key in
                fixture.keyspace.withString(key, now: fixture.now) { $0.count }
            }
            total &+= length ?? 0
            index = index == prefilledKeyCount - 1 ? 0 : index + 1
        }
        blackHole(total)
    } setup: {
        KeyspaceFixture()
    }

    Benchmark("Keyspace.set") { benchmark, fixture in
        var index = 0
        for _ in benchmark.scaledIterations {
            fixture.keys[index].withUnsafeBytes { key in
                storedValue.withUnsafeBytes { fixture.keyspace.setString(key, $0, now: fixture.now) }
            }
            index = index == prefilledKeyCount - 1 ? 0 : index + 1
        }
        blackHole(fixture.keyspace.count)
    } setup: {
        KeyspaceFixture()
    }

    // MARK: Reply encoding (RoostProtocol's ByteBuffer writers) into a reused buffer

    Benchmark("Encode.BulkString3B") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            fixture.small.withUnsafeBytes { _ = fixture.out.writeRESPBulkString($0) }
            blackHole(fixture.out.readableBytes)
            fixture.out.clear()
        }
    } setup: {
        EncodeFixture()
    }

    Benchmark("Encode.BulkString1KiB") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            fixture.large.withUnsafeBytes { _ = fixture.out.writeRESPBulkString($0) }
            blackHole(fixture.out.readableBytes)
            fixture.out.clear()
        }
    } setup: {
        EncodeFixture()
    }

    Benchmark("Encode.Integer") { benchmark, fixture in
        var value = 1_234_567
        for _ in benchmark.scaledIterations {
            fixture.out.writeRESPInteger(value)
            blackHole(fixture.out.readableBytes)
            fixture.out.clear()
            value &+= 1
        }
    } setup: {
        EncodeFixture()
    }

    // An MGET-shaped reply: an array of 10 three-byte bulk strings.
    Benchmark("Encode.Array10x3B") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            fixture.out.writeRESPArrayHeader(10)
            fixture.small.withUnsafeBytes { value in
                for _ in 0..<10 { fixture.out.writeRESPBulkString(value) }
            }
            blackHole(fixture.out.readableBytes)
            fixture.out.clear()
        }
    } setup: {
        EncodeFixture()
    }
}
