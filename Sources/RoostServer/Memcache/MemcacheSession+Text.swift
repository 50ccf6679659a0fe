import NIOCore
import RoostCore

/// The text protocol's commands, with memcached 1.6's replies.
extension MemcacheSession {
    /// `get`/`gets`/`gat`/`gats`: one `VALUE` per live key, then `END`. All keys are read in one critical section.
    mutating func retrieve(_ keys: [ByteBuffer], returnsCAS: Bool, touch: Int32?) {
        let now = self.now
        let statistics = service.statistics
        let newExpiry = touch.map { Self.expiry($0, now: now) }
        server.keyspace.withLock { keyspace in
            for key in keys {
                let found = key.withUnsafeReadableBytes { rawKey in
                    let hit = keyspace.withItem(rawKey, now: now, touch: true) { value, _, metadata in
                        out.writeStaticString("VALUE ")
                        out.writeBytes(rawKey)
                        out.writeStaticString(" ")
                        MemcacheNumber.write(UInt64(metadata.clientFlags), into: &out)
                        out.writeStaticString(" ")
                        MemcacheNumber.write(UInt64(value.count), into: &out)
                        if returnsCAS {
                            out.writeStaticString(" ")
                            MemcacheNumber.write(metadata.cas, into: &out)
                        }
                        out.writeStaticString("\r\n")
                        out.writeBytes(value)
                        out.writeStaticString("\r\n")
                    }
                    if hit != nil, let newExpiry {
                        if newExpiry != Entry.noExpiry && newExpiry <= now {
                            keyspace.remove(rawKey, now: now)
                        } else {
                            keyspace.updateItem(rawKey, now: now) { expireAt, _ in expireAt = newExpiry }
                        }
                    }
                    return hit != nil
                }
                statistics.record(touch != nil ? .touch : .get, hit: found)
            }
        }
        out.writeStaticString("END\r\n")
    }

    /// The outcome of a storage command, in both protocols' words.
    enum StoreOutcome {
        case stored, notStored, exists, notFound, outOfMemory

        var text: String {
            switch self {
            case .stored: return "STORED"
            case .notStored: return "NOT_STORED"
            case .exists: return "EXISTS"
            case .notFound: return "NOT_FOUND"
            case .outOfMemory: return MemcacheSession.outOfMemory
            }
        }

        var meta: String {
            switch self {
            case .stored: return "HD"
            case .notStored: return "NS"
            case .exists: return "EX"
            case .notFound: return "NF"
            case .outOfMemory: return MemcacheSession.outOfMemory
            }
        }
    }

    /// `set`, `add`, `replace`, `append`, `prepend`, `cas`.
    mutating func store(_ request: MemcacheStore) {
        guard !isReadOnly else {
            if !request.noreply { line(Self.readOnlyError) }
            return
        }
        service.statistics.setCommands.increment()
        let outcome = storeItem(
            request.key, value: request.value, mode: request.mode, compareCAS: request.casUnique,
            clientFlags: request.clientFlags, expireAt: Self.expiry(request.exptime, now: now), invalidate: false
        ).outcome
        if !request.noreply { line(outcome.text) }
    }

    /// The storage semantics shared by the text commands and `ms`, as memcached's `do_store_item`: returns the
    /// outcome and the stored item's CAS. `.cas` compares `compareCAS`; `append`/`prepend` compare it when it is
    /// not 0 and keep the item's flags and expiry. With `invalidate`, a `.cas` whose CAS is older than the item's
    /// stores the value as stale (keeping the expiry and a handed-out win token) instead of failing.
    mutating func storeItem(
        _ key: ByteBuffer, value: ByteBuffer, mode: MemcacheStore.Mode, compareCAS: UInt64, clientFlags: UInt32,
        expireAt: Int64, invalidate: Bool
    ) -> (outcome: StoreOutcome, cas: UInt64) {
        guard memoryAvailable() else {
            // memcached drops the old value of a `set` it could not store, so no stale value outlives the write.
            let now = self.now
            if mode == .set {
                key.withUnsafeReadableBytes { rawKey in _ = server.keyspace.withLock { $0.remove(rawKey, now: now) } }
            }
            return (.outOfMemory, 0)
        }
        let now = self.now
        let statistics = service.statistics
        let maxItemSize = limits.maxItemSize
        return key.withUnsafeReadableBytes { rawKey in
            value.withUnsafeReadableBytes { rawValue in
                server.keyspace.withLock { keyspace -> (StoreOutcome, UInt64) in
                    let existing = keyspace.withItem(rawKey, now: now, touch: false) { _, expireAt, metadata in
                        (expireAt: expireAt, metadata: metadata)
                    }
                    switch mode {
                    case .set:
                        break
                    case .add:
                        // A key holding a hash exists for `add` even though memcached cannot read it.
                        if existing != nil || keyspace.holdsAggregate(rawKey, now: now) { return (.notStored, 0) }
                    case .replace:
                        if existing == nil { return (.notStored, 0) }
                    case .cas:
                        guard let existing else {
                            statistics.casMisses.increment()
                            return (.notFound, 0)
                        }
                        if existing.metadata.cas != compareCAS {
                            if invalidate && compareCAS < existing.metadata.cas {
                                let cas = Self.put(
                                    &keyspace, rawKey, rawValue, expireAt: existing.expireAt, clientFlags: clientFlags,
                                    now: now, isStale: true, winTokenSent: existing.metadata.winTokenSent)
                                return (.stored, cas)
                            }
                            statistics.casBadValue.increment()
                            return (.exists, 0)
                        }
                        statistics.casHits.increment()
                    case .append, .prepend:
                        guard let existing else { return (.notStored, 0) }
                        if compareCAS != 0 && existing.metadata.cas != compareCAS { return (.exists, 0) }
                        let combined: [UInt8]? = keyspace.withItem(rawKey, now: now, touch: false) { old, _, _ in
                            var bytes = [UInt8]()
                            bytes.reserveCapacity(old.count + rawValue.count)
                            bytes.append(contentsOf: mode == .append ? old : rawValue)
                            bytes.append(contentsOf: mode == .append ? rawValue : old)
                            return bytes
                        }
                        guard let combined else { return (.notStored, 0) }
                        let size = MemcacheRequestParser.Limits.itemSize(
                            keyLength: rawKey.count, valueLength: combined.count,
                            clientFlags: existing.metadata.clientFlags)
                        guard size <= maxItemSize else { return (.notStored, 0) }
                        let cas = combined.withUnsafeBytes {
                            Self.put(
                                &keyspace, rawKey, $0, expireAt: existing.expireAt,
                                clientFlags: existing.metadata.clientFlags, now: now)
                        }
                        statistics.totalItems.increment()
                        return (.stored, cas)
                    }
                    statistics.totalItems.increment()
                    let cas = Self.put(
                        &keyspace, rawKey, rawValue, expireAt: expireAt, clientFlags: clientFlags, now: now)
                    return (.stored, cas)
                }
            }
        }
    }

    /// `incr`/`decr`: the value must be a decimal unsigned 64-bit integer; `incr` wraps, `decr` stops at 0. The
    /// result is written without memcached's space padding, so RESP's `INCR` keeps working on it.
    mutating func arithmetic(_ key: ByteBuffer, delta: UInt64, increment: Bool, noreply: Bool) {
        guard !isReadOnly else {
            if !noreply { line(Self.readOnlyError) }
            return
        }
        switch applyDelta(key, delta: delta, increment: increment, compareCAS: 0) {
        case .value(let value, _, _):
            service.statistics.record(increment ? .increment : .decrement, hit: true)
            if !noreply { line(String(value)) }
        case .notFound:
            service.statistics.record(increment ? .increment : .decrement, hit: false)
            if !noreply { line("NOT_FOUND") }
        case .nonNumeric:
            if !noreply { line("CLIENT_ERROR cannot increment or decrement non-numeric value") }
        case .casMismatch:
            if !noreply { line("EXISTS") }
        }
    }

    /// The outcome of ``applyDelta(_:delta:increment:compareCAS:)``.
    enum DeltaOutcome {
        case value(UInt64, cas: UInt64, expireAt: Int64)
        case notFound, nonNumeric, casMismatch
    }

    /// Adds or subtracts `delta` in one critical section, keeping the item's flags and expiry.
    func applyDelta(_ key: ByteBuffer, delta: UInt64, increment: Bool, compareCAS: UInt64) -> DeltaOutcome {
        let now = self.now
        return key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace -> DeltaOutcome in
                let current = keyspace.withItem(rawKey, now: now, touch: true) { value, expireAt, metadata in
                    (number: MemcacheNumber.parseStoredUnsigned(value), expireAt: expireAt, metadata: metadata)
                }
                guard let current else { return .notFound }
                if compareCAS != 0 && current.metadata.cas != compareCAS { return .casMismatch }
                guard let number = current.number else { return .nonNumeric }
                let result = increment ? number &+ delta : (number > delta ? number - delta : 0)
                var digits = ByteBuffer()
                MemcacheNumber.write(result, into: &digits)
                let cas = digits.withUnsafeReadableBytes {
                    keyspace.storeItem(
                        rawKey, value: $0, expireAt: current.expireAt, clientFlags: current.metadata.clientFlags,
                        now: now)
                }
                return .value(result, cas: cas, expireAt: current.expireAt)
            }
        }
    }

    /// `touch <key> <exptime>`.
    mutating func touch(_ key: ByteBuffer, exptime: Int32, noreply: Bool) {
        guard !isReadOnly else {
            if !noreply { line(Self.readOnlyError) }
            return
        }
        let now = self.now
        let newExpiry = Self.expiry(exptime, now: now)
        let expired = isExpired(newExpiry)
        let touched = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace in
                if expired { return keyspace.remove(rawKey, now: now) }
                return keyspace.updateItem(rawKey, now: now) { expireAt, _ in expireAt = newExpiry }
            }
        }
        service.statistics.record(.touch, hit: touched)
        if !noreply { line(touched ? "TOUCHED" : "NOT_FOUND") }
    }

    /// `delete <key>`.
    mutating func delete(_ key: ByteBuffer, noreply: Bool) {
        guard !isReadOnly else {
            if !noreply { line(Self.readOnlyError) }
            return
        }
        let now = self.now
        let deleted = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { $0.remove(rawKey, now: now) }
        }
        service.statistics.record(.delete, hit: deleted)
        if !noreply { line(deleted ? "DELETED" : "NOT_FOUND") }
    }

    /// `flush_all [delay]`: empties the whole keyspace (RESP keys included: it is one keyspace), now or after the
    /// delay (memcached's expiry rules: up to 30 days relative, beyond an absolute Unix time).
    mutating func flushAll(delay: Int32, noreply: Bool) {
        service.statistics.flushCommands.increment()
        guard !isReadOnly else {
            if !noreply { line(Self.readOnlyError) }
            return
        }
        if delay > 0 {
            let due = Self.expiry(delay, now: now)
            service.pendingFlush.store(due, ordering: .releasing)
            delayedFlushAt = due
        } else {
            service.pendingFlush.store(0, ordering: .releasing)
            server.keyspace.withLock { $0.removeAll() }
        }
        if !noreply { line("OK") }
    }
}
