import NIOCore
import RoostCore

/// The meta protocol's commands (`mg`, `ms`, `md`, `ma`, `me`), with memcached 1.6's replies, including its lease
/// and stale-while-revalidate protocol:
///
/// - `mg … N<ttl>` on a miss creates an empty item and gives this client `W` (it won the right to fill it);
///   everyone else then gets the empty item with `Z` (someone else is filling it) until a `ms` replaces it.
/// - `mg … R<ttl>` hands `W` to the first client that sees the item with less than `<ttl>` seconds to live.
/// - `md … I` (and `ms … I` with an older CAS) marks an item stale instead of removing it: readers get it with `X`,
///   the first of them also `W`, the others `Z`, until a fresh `ms` clears it.
///
/// So one client recomputes a hot key while the others serve the old value or wait: no stampede on the backend.
extension MemcacheSession {
    /// `mg <key> <flags>*`.
    mutating func metaGet(_ key: ByteBuffer, _ flags: MemcacheMetaFlags) {
        let now = self.now
        let statistics = service.statistics
        statistics.metaCommands.increment()
        let touches = flags.ttl != nil
        let vivifyExpireAt = isReadOnly ? nil : flags.vivify.map { Self.expiry($0, now: now) }
        let found: Bool = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace in
                keyspace.leaseRead(rawKey, now: now, touch: !flags.noBump, vivifyExpireAt: vivifyExpireAt) {
                    value, expireAt, metadata, created in
                    writeMetaHit(rawKey, value, expireAt, metadata, flags, created: created)
                } != nil
            }
        }
        if touches {
            statistics.record(.touch, hit: found)
        } else {
            statistics.record(.get, hit: found)
        }
        if !found && !flags.quiet {
            out.writeStaticString("EN")
            writeEchoes(flags, key: key, only: [.key])
            out.writeStaticString("\r\n")
        }
    }

    /// Writes a `mg` hit (`VA <size> <flags>`/`HD <flags>`, then the value) in memcached's order: the requested
    /// flags in request order (`T` and `N` change the TTL where they stand), then `Z`, `X` and `W`. Returns what
    /// ``Keyspace/leaseRead(_:now:touch:vivifyExpireAt:_:)`` needs: the expiry to store and whether this client won.
    private mutating func writeMetaHit(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ metadata: ItemMetadata,
        _ flags: MemcacheMetaFlags, created: Bool
    ) -> (result: Void, expireAt: Int64, won: Bool) {
        var expiry = expireAt
        var recacheDue = false
        if flags.returnsValue {
            out.writeStaticString("VA ")
            MemcacheNumber.write(UInt64(value.count), into: &out)
        } else {
            out.writeStaticString("HD")
        }
        for echo in flags.echoes {
            switch echo {
            case .setTTL:
                expiry = Self.expiry(flags.ttl!, now: now)
            case .vivify:
                if created { expiry = Self.expiry(flags.vivify!, now: now) }
            case .recache:
                // The TTL as the flags before `R` left it.
                recacheDue = ItemLease.isRecacheDue(expireAt: expiry, threshold: Self.expiry(flags.recache!, now: now))
            case .size:
                out.writeStaticString(" s")
                MemcacheNumber.write(UInt64(value.count), into: &out)
            case .ttl:
                out.writeStaticString(" t")
                MemcacheNumber.write(Self.remainingSeconds(expiry, now: now), into: &out)
            case .cas:
                out.writeStaticString(" c")
                MemcacheNumber.write(metadata.cas, into: &out)
            case .clientFlags:
                out.writeStaticString(" f")
                MemcacheNumber.write(UInt64(metadata.clientFlags), into: &out)
            case .lastAccess:
                // The keyspace does not expose last-access times; memcached's value right after an access.
                out.writeStaticString(" l0")
            case .hit:
                out.writeStaticString(" h0")
            case .opaque, .key:
                writeEcho(echo, key: key, base64: flags.base64Key)
            }
        }
        let won = ItemLease.wins(metadata, created: created, recacheDue: recacheDue)
        if metadata.winTokenSent { out.writeStaticString(" Z") }
        if metadata.isStale { out.writeStaticString(" X") }
        if won { out.writeStaticString(" W") }
        out.writeStaticString("\r\n")
        if flags.returnsValue {
            out.writeBytes(value)
            out.writeStaticString("\r\n")
        }
        return ((), expiry, won)
    }

    /// `ms <key> <datalen> <flags>*`: `M` picks set (`S`, the default), add (`E`), replace (`R`), append (`A`) or
    /// prepend (`P`); a `C` turns set and replace into a compare-and-swap.
    mutating func metaSet(_ key: ByteBuffer, _ flags: MemcacheMetaFlags, value: ByteBuffer) {
        service.statistics.metaCommands.increment()
        guard !isReadOnly else { return line(Self.readOnlyError) }
        service.statistics.setCommands.increment()
        var mode: MemcacheStore.Mode
        switch flags.mode {
        case UInt8(ascii: "E"): mode = .add
        case UInt8(ascii: "A"): mode = .append
        case UInt8(ascii: "P"): mode = .prepend
        case UInt8(ascii: "R"): mode = .replace
        default: mode = .set
        }
        if flags.compareCAS != nil && (mode == .set || mode == .replace) { mode = .cas }
        let (outcome, cas) = storeItem(
            key, value: value, mode: mode, compareCAS: flags.compareCAS ?? 0, clientFlags: flags.clientFlags,
            expireAt: Self.expiry(flags.ttl ?? 0, now: now), invalidate: flags.invalidate)
        if outcome == .outOfMemory { return line(outcome.meta) }
        if outcome == .stored && flags.quiet { return }
        out.writeString(outcome.meta)
        for echo in flags.echoes {
            switch echo {
            case .opaque, .key:
                key.withUnsafeReadableBytes { writeEcho(echo, key: $0, base64: flags.base64Key) }
            case .cas:
                out.writeStaticString(" c")
                MemcacheNumber.write(outcome == .stored ? cas : 0, into: &out)
            default:
                break
            }
        }
        out.writeStaticString("\r\n")
    }

    /// `md <key> <flags>*`: deletes, or with `I` marks the item stale (new CAS, optional new TTL from `T`, win token
    /// available again).
    mutating func metaDelete(_ key: ByteBuffer, _ flags: MemcacheMetaFlags) {
        service.statistics.metaCommands.increment()
        guard !isReadOnly else { return line(Self.readOnlyError) }
        let now = self.now
        let newExpiry = flags.ttl.map { Self.expiry($0, now: now) }
        let status: StaticString = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace -> StaticString in
                if flags.invalidate {
                    switch keyspace.invalidateItem(
                        rawKey, now: now, expireAt: newExpiry, compareCAS: flags.compareCAS)
                    {
                    case .invalidated: return "HD"
                    case .notFound: return "NF"
                    case .casMismatch: return "EX"
                    }
                }
                guard let cas = keyspace.withItem(rawKey, now: now, touch: false, { _, _, metadata in metadata.cas })
                else { return "NF" }
                if let expected = flags.compareCAS, expected != cas { return "EX" }
                keyspace.remove(rawKey, now: now)
                return "HD"
            }
        }
        if status.utf8Start.pointee == UInt8(ascii: "H") {
            service.statistics.deleteHits.increment()
            if flags.quiet { return }
        } else {
            service.statistics.deleteMisses.increment()
        }
        out.writeStaticString(status)
        writeEchoes(flags, key: key, only: [.key])
        out.writeStaticString("\r\n")
    }

    /// `ma <key> <flags>*`: increment (`MI`, `M+`, the default) or decrement (`MD`, `M-`) by `D` (1); `N` creates a
    /// missing counter at `J` (0) with that TTL.
    mutating func metaArithmetic(_ key: ByteBuffer, _ flags: MemcacheMetaFlags) {
        service.statistics.metaCommands.increment()
        guard !isReadOnly else { return line(Self.readOnlyError) }
        let increment = flags.mode != UInt8(ascii: "D") && flags.mode != UInt8(ascii: "-")
        var outcome = applyDelta(key, delta: flags.delta, increment: increment, compareCAS: flags.compareCAS ?? 0)
        var created = false
        if case .notFound = outcome, let vivify = flags.vivify {
            let now = self.now
            var digits = ByteBuffer()
            MemcacheNumber.write(flags.initial, into: &digits)
            let expireAt = Self.expiry(vivify, now: now)
            let cas = key.withUnsafeReadableBytes { rawKey in
                digits.withUnsafeReadableBytes { value in
                    server.keyspace.withLock {
                        Self.put(&$0, rawKey, value, expireAt: expireAt, clientFlags: 0, now: now)
                    }
                }
            }
            outcome = .value(flags.initial, cas: cas, expireAt: expireAt)
            created = true
        }
        switch outcome {
        case .value(let value, let cas, let expireAt):
            service.statistics.record(increment ? .increment : .decrement, hit: true)
            var expiry = expireAt
            var digits = ByteBuffer()
            MemcacheNumber.write(value, into: &digits)
            var reply = ByteBuffer()
            if flags.returnsValue {
                reply.writeStaticString("VA ")
                MemcacheNumber.write(UInt64(digits.readableBytes), into: &reply)
            } else {
                reply.writeStaticString("HD")
            }
            for echo in flags.echoes {
                switch echo {
                case .cas:
                    reply.writeStaticString(" c")
                    MemcacheNumber.write(cas, into: &reply)
                case .ttl:
                    reply.writeStaticString(" t")
                    MemcacheNumber.write(Self.remainingSeconds(expiry, now: now), into: &reply)
                case .setTTL:
                    expiry = Self.expiry(flags.ttl!, now: now)
                case .vivify:
                    if created { expiry = Self.expiry(flags.vivify!, now: now) }
                default:
                    swap(&out, &reply)
                    key.withUnsafeReadableBytes { writeEcho(echo, key: $0, base64: flags.base64Key) }
                    swap(&out, &reply)
                }
            }
            if expiry != expireAt {
                let now = self.now
                key.withUnsafeReadableBytes { rawKey in
                    server.keyspace.withLock { keyspace in
                        if expiry != Entry.noExpiry && expiry <= now {
                            keyspace.remove(rawKey, now: now)
                        } else {
                            keyspace.updateItem(rawKey, now: now) { itemExpiry, _ in itemExpiry = expiry }
                        }
                    }
                }
            }
            // memcached's `q` hides a counter's update but not its creation by `N`.
            if flags.quiet && !created { return }
            reply.writeStaticString("\r\n")
            if flags.returnsValue {
                reply.writeBuffer(&digits)
                reply.writeStaticString("\r\n")
            }
            out.writeBuffer(&reply)
        case .notFound, .casMismatch:
            if case .notFound = outcome {
                service.statistics.record(increment ? .increment : .decrement, hit: false)
            }
            out.writeStaticString(outcome.isNotFound ? "NF" : "EX")
            writeEchoes(flags, key: key, only: [.key])
            out.writeStaticString("\r\n")
        case .nonNumeric:
            line("CLIENT_ERROR cannot increment or decrement non-numeric value")
        }
    }

    /// `me <key>`: memcached's debug line for the item (`EN` when absent). `exp` is memcached's own value (the
    /// negated remaining TTL, -1 for none); `la` and `fetch` are not tracked; `cls` is always 1 and `size`
    /// memcached's item size.
    mutating func metaDebug(_ key: ByteBuffer, base64: Bool) {
        service.statistics.metaCommands.increment()
        let now = self.now
        let hit: Bool = key.withUnsafeReadableBytes { rawKey in
            server.keyspace.withLock { keyspace in
                keyspace.withItem(rawKey, now: now, touch: false) { value, expireAt, metadata -> Bool in
                    out.writeStaticString("ME ")
                    if base64 { MemcacheBase64.encode(rawKey, into: &out) } else { out.writeBytes(rawKey) }
                    out.writeStaticString(" exp=")
                    let remaining = Self.remainingSeconds(expireAt, now: now)
                    MemcacheNumber.write(remaining < 0 ? -1 : -remaining, into: &out)
                    out.writeStaticString(" la=0 cas=")
                    MemcacheNumber.write(metadata.cas, into: &out)
                    out.writeStaticString(" fetch=no cls=1 size=")
                    let size = MemcacheRequestParser.Limits.itemSize(
                        keyLength: rawKey.count, valueLength: value.count, clientFlags: metadata.clientFlags)
                    MemcacheNumber.write(UInt64(size), into: &out)
                    out.writeStaticString("\r\n")
                    return true
                } ?? false
            }
        }
        if !hit { out.writeStaticString("EN\r\n") }
    }

    // MARK: Echoes

    /// Writes the opaque and (when asked) key echoes of `flags` in request order.
    private mutating func writeEchoes(_ flags: MemcacheMetaFlags, key: ByteBuffer, only: Set<MemcacheEchoKind>) {
        for echo in flags.echoes {
            switch echo {
            case .opaque:
                key.withUnsafeReadableBytes { writeEcho(echo, key: $0, base64: flags.base64Key) }
            case .key where only.contains(.key):
                key.withUnsafeReadableBytes { writeEcho(echo, key: $0, base64: flags.base64Key) }
            default:
                break
            }
        }
    }

    /// ` O<opaque>` or ` k<key>` (base64 and ` b` for a binary key), as memcached writes them.
    private mutating func writeEcho(_ echo: MemcacheMetaFlags.Echo, key: UnsafeRawBufferPointer, base64: Bool) {
        switch echo {
        case .opaque(let token):
            out.writeStaticString(" ")
            out.writeImmutableBuffer(token)
        case .key:
            out.writeStaticString(" k")
            if base64 {
                MemcacheBase64.encode(key, into: &out)
                out.writeStaticString(" b")
            } else {
                out.writeBytes(key)
            }
        default:
            break
        }
    }
}

/// Which echoes a miss reply carries beside the opaque.
enum MemcacheEchoKind: Hashable {
    case key
}

extension MemcacheSession.DeltaOutcome {
    var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }
}
