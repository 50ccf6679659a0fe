import Synchronization
import Testing

@testable import RoostCore

/// Records what a keyspace reports, in order.
private final class RecordingObserver: KeyspaceObserver {
    enum Event: Hashable {
        case changed(String, KeyChangeCause)
        case flushed
    }
    let events = Mutex<[Event]>([])

    func keyspace(changed key: UnsafeRawBufferPointer, cause: KeyChangeCause) {
        events.withLock { $0.append(.changed(String(decoding: key, as: UTF8.self), cause)) }
    }

    func keyspaceFlushed() { events.withLock { $0.append(.flushed) } }

    func take() -> [Event] {
        events.withLock { events in
            defer { events = [] }
            return events
        }
    }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The observer (what client tracking hooks into) hears of every change at the same points as the change log, with
/// the cause: writes, deletes, lazy and active expiry, eviction, flushes; metadata-only rewrites stay silent.
@Suite struct KeyspaceObserverTests {
    @Test func writesDeletesAndFlushesAreReported() {
        var keyspace = Keyspace()
        let observer = RecordingObserver()
        keyspace.observer = observer
        bytes("a").withUnsafeBytes { key in
            bytes("1").withUnsafeBytes { keyspace.setString(key, $0, now: 0) }
            bytes("2").withUnsafeBytes { keyspace.setString(key, $0, now: 0) }
            _ = keyspace.update(key, now: 0) { entry in entry?.expireAt = 5_000 }
            _ = keyspace.remove(key, now: 0)
            _ = keyspace.remove(key, now: 0)  // absent: nothing changes
        }
        keyspace.removeAll()
        #expect(
            observer.take() == [
                .changed("a", .write), .changed("a", .write), .changed("a", .write), .changed("a", .write), .flushed,
            ])
    }

    @Test func expiryIsReportedLazilyAndByTheActiveCycle() {
        var keyspace = Keyspace()
        let observer = RecordingObserver()
        keyspace.observer = observer
        for name in ["lazy", "active"] {
            bytes(name).withUnsafeBytes { key in
                bytes("v").withUnsafeBytes { keyspace.setString(key, $0, expireAt: 100, now: 0) }
            }
        }
        _ = observer.take()
        _ = bytes("lazy").withUnsafeBytes { keyspace.read($0, now: 200) }
        #expect(observer.take() == [.changed("lazy", .expired)])
        while !keyspace.expireStep(now: 200, bucketBudget: 1024).wrapped {}
        #expect(observer.take() == [.changed("active", .expired)])
    }

    @Test func evictionIsReported() {
        var keyspace = Keyspace()
        let observer = RecordingObserver()
        keyspace.observer = observer
        keyspace.configureEviction(.allKeysRandom, maxMemory: 64 << 10, now: 0)
        let value = [UInt8](repeating: 7, count: 512)
        for index in 0..<1_000 {
            bytes("k\(index)").withUnsafeBytes { key in
                value.withUnsafeBytes { keyspace.setString(key, $0, now: 0) }
            }
            keyspace.enforceMemoryLimit(now: 0)
        }
        let evicted = observer.take().filter { if case .changed(_, .evicted) = $0 { true } else { false } }
        #expect(evicted.count == keyspace.statistics.evictedKeys)
        #expect(evicted.count > 0)
    }

    @Test func metadataOnlyRewritesAreSilent() {
        var keyspace = Keyspace()
        let observer = RecordingObserver()
        bytes("m").withUnsafeBytes { key in
            bytes("v").withUnsafeBytes { keyspace.setString(key, $0, now: 0) }
            keyspace.observer = observer
            // The first memcached read attaches a CAS; a stale mark changes metadata only.
            _ = keyspace.withItem(key, now: 0, touch: true) { _, _, _ in () }
            keyspace.updateItem(key, now: 0) { _, metadata in metadata.isStale = true }
            #expect(observer.take() == [])
            keyspace.updateItem(key, now: 0) { expireAt, _ in expireAt = 9_000 }  // touch: an expiry change
        }
        #expect(observer.take() == [.changed("m", .write)])
        #expect(keyspace.observer != nil)
    }
}
