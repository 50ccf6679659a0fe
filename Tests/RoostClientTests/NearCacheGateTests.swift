import Testing

@testable import RoostClient

/// The near cache's store guard, driven directly: which replies may be stored given the invalidations and flushes
/// that happened while their reads were in flight.
@Suite("NearCacheGate")
struct NearCacheGateTests {
    enum Interleaving: String, CaseIterable, CustomStringConvertible {
        /// Nothing happens between the read and its reply.
        case quiet
        /// The key is invalidated before the read starts.
        case invalidatedBefore
        /// The key is invalidated while the read is in flight.
        case invalidatedDuring
        /// Another key is invalidated while the read is in flight.
        case otherKeyDuring
        /// Everything is flushed while the read is in flight.
        case flushedDuring
        /// Everything is flushed before the read starts.
        case flushedBefore

        var description: String { rawValue }

        var mayStore: Bool {
            switch self {
            case .quiet, .invalidatedBefore, .otherKeyDuring, .flushedBefore: true
            case .invalidatedDuring, .flushedDuring: false
            }
        }
    }

    @Test(
        "A reply is stored only if its key was neither invalidated nor flushed while it was in flight",
        arguments: Interleaving.allCases)
    func interleavings(_ interleaving: Interleaving) {
        var gate = NearCacheGate()
        switch interleaving {
        case .invalidatedBefore: gate.onInvalidated(key: "k")
        case .flushedBefore: gate.onFlushed()
        default: break
        }
        let ticket = gate.onReadStarted(keys: ["k"])
        switch interleaving {
        case .invalidatedDuring: gate.onInvalidated(key: "k")
        case .otherKeyDuring: gate.onInvalidated(key: "other")
        case .flushedDuring: gate.onFlushed()
        default: break
        }
        let stored1 = gate.onReadFinished(key: "k", ticket: ticket)
        #expect(stored1 == interleaving.mayStore)
        #expect(gate.keysInFlight == 0)
    }

    @Test("Concurrent reads of one key: only those that started after the invalidation may store")
    func concurrentReaders() {
        var gate = NearCacheGate()
        let early = gate.onReadStarted(keys: ["k"])
        gate.onInvalidated(key: "k")
        let late = gate.onReadStarted(keys: ["k"])
        let unrelated = gate.onReadStarted(keys: ["j"])
        #expect(gate.keysInFlight == 2)
        // Replies can come back in any order; the verdict depends only on when each read started.
        let stored2 = gate.onReadFinished(key: "k", ticket: late)
        #expect(stored2)
        let stored3 = gate.onReadFinished(key: "k", ticket: early)
        #expect(!stored3)
        let stored4 = gate.onReadFinished(key: "j", ticket: unrelated)
        #expect(stored4)
        #expect(gate.keysInFlight == 0)
        // A later read after everything settled stores again.
        let again = gate.onReadStarted(keys: ["k"])
        let stored5 = gate.onReadFinished(key: "k", ticket: again)
        #expect(stored5)
    }

    @Test("A multi-key read is judged key by key; a key named twice is counted twice")
    func multiKey() {
        var gate = NearCacheGate()
        let ticket = gate.onReadStarted(keys: ["a", "b", "a"])
        gate.onInvalidated(key: "b")
        let stored6 = gate.onReadFinished(key: "a", ticket: ticket)
        #expect(stored6)
        let stored7 = gate.onReadFinished(key: "b", ticket: ticket)
        #expect(!stored7)
        #expect(gate.keysInFlight == 1)
        let stored8 = gate.onReadFinished(key: "a", ticket: ticket)
        #expect(stored8)
        #expect(gate.keysInFlight == 0)
    }

    @Test("Abandoned reads are forgotten")
    func abandoned() {
        var gate = NearCacheGate()
        let ticket = gate.onReadStarted(keys: ["a", "b"])
        gate.onReadAbandoned(keys: ["a", "b"], ticket: ticket)
        #expect(gate.keysInFlight == 0)
    }
}
