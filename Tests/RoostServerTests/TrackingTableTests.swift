import RoostCore
import Testing

@testable import RoostServer

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

extension TrackingTable {
    /// `key` changed, written by `writer` (0: nobody in particular).
    fileprivate mutating func changed(
        _ key: String, cause: KeyChangeCause = .write, writer: UInt64 = 0
    ) -> [Directive] {
        bytes(key).withUnsafeBytes { keyChanged($0, cause: cause, writer: writer) }
    }

    fileprivate mutating func track(_ id: UInt64, _ options: Options = Options(), prefixes: [String] = []) {
        enable(id, options: options, prefixes: prefixes.map(bytes))
    }
}

private func invalidation(_ client: UInt64, _ key: String, redirect: UInt64 = 0) -> TrackingTable.Directive {
    TrackingTable.Directive(client: client, redirect: redirect, invalidation: .keys([bytes(key)]))
}

/// The client-side-caching table as a pure value: what each event returns is exactly what the server sends.
@Suite struct TrackingTableTests {
    @Test func aChangedKeyInvalidatesEachReaderOnceAndIsForgotten() {
        var table = TrackingTable(maxKeys: 0)
        table.track(1)
        table.track(2, TrackingTable.Options(redirect: 9))
        #expect(table.remember([bytes("k"), bytes("j")], for: 1) == [])
        #expect(table.remember([bytes("k")], for: 2) == [])
        #expect(table.remember([bytes("k")], for: 1) == [])  // remembered once per client
        #expect(table.keyCount == 2 && table.totalItems == 3)
        #expect(Set(table.changed("k")) == [invalidation(1, "k"), invalidation(2, "k", redirect: 9)])
        #expect(table.changed("k") == [])  // forgotten: the next change needs a new read
        #expect(table.keyCount == 1 && table.totalItems == 1)
        #expect(table.changed("unread") == [])
    }

    /// The bound: the table never holds more than `maxKeys` keys, and every key it drops is invalidated for the
    /// clients that read it (never forgotten silently).
    @Test(arguments: [1, 3, 16])
    func aFullTableEvictsKeysByInvalidatingThem(maxKeys: Int) {
        var table = TrackingTable(maxKeys: maxKeys, seed: UInt64(maxKeys))
        table.track(1)
        table.track(2)
        var invalidated: [String: Set<UInt64>] = [:]
        let keys = (0..<100).map { "key:\($0)" }
        for (index, key) in keys.enumerated() {
            let readers: [UInt64] = index % 3 == 0 ? [1, 2] : [1]
            for reader in readers {
                for directive in table.remember([bytes(key)], for: reader) {
                    guard case .keys(let evicted) = directive.invalidation else {
                        Issue.record("unexpected \(directive)")
                        continue
                    }
                    for name in evicted {
                        invalidated[String(decoding: name, as: UTF8.self), default: []].insert(directive.client)
                    }
                }
            }
            #expect(table.keyCount <= maxKeys)
        }
        #expect(table.keyCount == maxKeys)
        // Every key was either invalidated for all its readers or is still in the table with all of them.
        for (index, key) in keys.enumerated() {
            let readers: Set<UInt64> = index % 3 == 0 ? [1, 2] : [1]
            let remaining = Set(table.readers(of: bytes(key)))
            #expect(
                (invalidated[key] ?? []).union(remaining) == readers,
                "\(key): invalidated \(invalidated[key] ?? []), still remembered \(remaining)")
        }
    }

    @Test func loweringTheBoundEvictsAtOnce() {
        var table = TrackingTable(maxKeys: 0)
        table.track(7)
        _ = table.remember((0..<50).map { bytes("k\($0)") }, for: 7)
        let directives = table.setMaxKeys(10)
        #expect(directives.count == 40)
        #expect(directives.allSatisfy { $0.client == 7 })
        #expect(table.keyCount == 10)
        #expect(table.setMaxKeys(0) == [] && table.keyCount == 10)
    }

    @Test func broadcastClientsAreInvalidatedByPrefixWithoutRemembering() {
        var table = TrackingTable(maxKeys: 0)
        table.track(1, TrackingTable.Options(broadcast: true), prefixes: ["user:", "session:"])
        table.track(2, TrackingTable.Options(broadcast: true))  // no prefix: every key
        table.track(3)
        #expect(table.prefixCount == 3)
        #expect(Set(table.changed("user:1")) == [invalidation(1, "user:1"), invalidation(2, "user:1")])
        #expect(table.changed("order:1") == [invalidation(2, "order:1")])
        #expect(table.remember([bytes("user:1")], for: 3) == [])
        #expect(
            Set(table.changed("user:1")) == [
                invalidation(1, "user:1"), invalidation(2, "user:1"), invalidation(3, "user:1"),
            ])
        #expect(table.changed("user:1").count == 2)  // BCAST clients again; the reader was forgotten
        table.disable(1)
        #expect(table.changed("user:1") == [invalidation(2, "user:1")])
        #expect(table.prefixCount == 1)
    }

    @Test func prefixesAccumulateSortedAndMustNotOverlap() throws {
        var table = TrackingTable(maxKeys: 0)
        let bcast = TrackingTable.Options(broadcast: true)
        table.track(1, bcast, prefixes: ["b", "a"])
        table.track(1, bcast, prefixes: ["c"])
        #expect(table.clients[1]?.prefixes == [bytes("a"), bytes("b"), bytes("c")])
        #expect(
            throws: CommandError(
                "ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must not overlap.")
        ) {
            try table.validateEnable(1, options: bcast, prefixes: [bytes("ab")])
        }
        #expect(
            throws: CommandError(
                "ERR Prefix 'x' overlaps with another provided prefix 'xy'. Prefixes for a single client must not overlap."
            )
        ) {
            try table.validateEnable(2, options: bcast, prefixes: [bytes("x"), bytes("xy")])
        }
    }

    @Test func validationFollowsRedisOrder() {
        var table = TrackingTable(maxKeys: 0)
        #expect(throws: CommandError("ERR PREFIX option requires BCAST mode to be enabled")) {
            try table.validateEnable(1, options: TrackingTable.Options(optIn: true, optOut: true), prefixes: [[1]])
        }
        #expect(throws: CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")) {
            try table.validateEnable(1, options: TrackingTable.Options(broadcast: true, optIn: true), prefixes: [])
        }
        #expect(throws: CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")) {
            try table.validateEnable(1, options: TrackingTable.Options(optIn: true, optOut: true), prefixes: [])
        }
        table.track(1, TrackingTable.Options(optIn: true))
        #expect(
            throws: CommandError(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
            )
        ) {
            try table.validateEnable(1, options: TrackingTable.Options(optOut: true), prefixes: [])
        }
        #expect(
            throws: CommandError(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
            )
        ) {
            try table.validateEnable(1, options: TrackingTable.Options(broadcast: true), prefixes: [])
        }
        table.disable(1)
        #expect(throws: Never.self) {
            try table.validateEnable(1, options: TrackingTable.Options(optOut: true), prefixes: [])
        }
    }

    /// NOLOOP hides a client's own writes from it, in both modes, but never an expiry or eviction that happened
    /// during its command (it did not write that value, so it must hear that it is gone).
    @Test func noLoopSkipsOnlyTheClientsOwnWrites() {
        var table = TrackingTable(maxKeys: 0)
        table.track(1, TrackingTable.Options(noLoop: true))
        table.track(2)
        table.track(3, TrackingTable.Options(broadcast: true, noLoop: true))
        _ = table.remember([bytes("k")], for: 1)
        _ = table.remember([bytes("k")], for: 2)
        // Client 3 (BCAST, no prefix: every key) is told of client 1's write; client 1 is not.
        #expect(Set(table.changed("k", writer: 1)) == [invalidation(2, "k"), invalidation(3, "k")])
        _ = table.remember([bytes("k")], for: 1)
        _ = table.remember([bytes("k")], for: 2)
        // Client 2 has no NOLOOP: its own write is reported to it; client 3's own write is not reported to it.
        #expect(Set(table.changed("k", writer: 3)) == [invalidation(1, "k"), invalidation(2, "k")])
        _ = table.remember([bytes("k")], for: 1)
        #expect(Set(table.changed("k", cause: .expired, writer: 1)) == [invalidation(1, "k"), invalidation(3, "k")])
        _ = table.remember([bytes("k")], for: 1)
        #expect(Set(table.changed("k", cause: .evicted, writer: 1)) == [invalidation(1, "k"), invalidation(3, "k")])
    }

    /// OPTIN remembers a read only right after `CLIENT CACHING yes`, OPTOUT all reads except right after
    /// `CLIENT CACHING no`, default mode every read, BCAST none.
    @Test(arguments: [
        (TrackingTable.Options(), false, true), (TrackingTable.Options(), true, true),
        (TrackingTable.Options(optIn: true), false, false), (TrackingTable.Options(optIn: true), true, true),
        (TrackingTable.Options(optOut: true), false, true), (TrackingTable.Options(optOut: true), true, false),
        (TrackingTable.Options(broadcast: true), false, false), (TrackingTable.Options(broadcast: true), true, false),
    ])
    func optInAndOptOutDecideWhichReadsAreRemembered(options: TrackingTable.Options, caching: Bool, remembered: Bool) {
        #expect(TrackingTable.remembersRead(options, cachingGiven: caching) == remembered)
    }

    @Test func aFlushSendsTheNullInvalidationToEveryTrackingClient() {
        var table = TrackingTable(maxKeys: 0)
        table.track(1, TrackingTable.Options(noLoop: true))
        table.track(2, TrackingTable.Options(redirect: 5, broadcast: true))
        _ = table.remember([bytes("a"), bytes("b")], for: 1)
        #expect(
            table.flushed() == [
                TrackingTable.Directive(client: 1, redirect: 0, invalidation: .all),
                TrackingTable.Directive(client: 2, redirect: 5, invalidation: .all),
            ])
        #expect(table.keyCount == 0 && table.totalItems == 0)
        #expect(table.changed("a") == [invalidation(2, "a", redirect: 5)])
    }

    @Test func clientsThatStoppedTrackingAreSkipped() {
        var table = TrackingTable(maxKeys: 0)
        table.track(1)
        table.track(2)
        _ = table.remember([bytes("k")], for: 1)
        _ = table.remember([bytes("k")], for: 2)
        table.disable(2)
        #expect(table.changed("k") == [invalidation(1, "k")])
        // A default-mode client that switched to BCAST (off, then on with BCAST) gets no stale per-key messages.
        _ = table.remember([bytes("k")], for: 1)
        table.disable(1)
        table.track(1, TrackingTable.Options(broadcast: true), prefixes: ["z"])
        #expect(table.changed("k") == [])
        table.markBrokenRedirect(1)
        #expect(table.clients[1]?.brokenRedirect == true)
        table.track(1, TrackingTable.Options(broadcast: true))
        #expect(table.clients[1]?.brokenRedirect == false)
    }
}
