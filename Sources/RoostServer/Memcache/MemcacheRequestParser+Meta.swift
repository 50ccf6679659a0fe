import NIOCore

extension MemcacheRequestParser {
    /// memcached's `MFLAG_MAX_OPT_LENGTH`: meta lines with more tokens (terminal token included) are refused.
    static let maxMetaTokens = 20

    /// `mg`, `ms`, `md`, `ma`, `me`, `mn`, with memcached's checks in memcached's order. Every meta error is sent
    /// even under `q`.
    mutating func parseMeta(_ command: MemcacheLine, limits: Limits) -> MemcacheRequest? {
        let kind = command.byte(0, 1)
        if kind == UInt8(ascii: "n") { return .metaNoop }
        let badFormat = MemcacheRequest.failure("CLIENT_ERROR bad command line format", noreply: false)
        if kind == UInt8(ascii: "e") {
            guard command.ntokens >= 3, command.isValidKey(1) else { return badFormat }
            guard command.ntokens >= 4 && command.is(2, "b") else {
                return .metaDebug(key: command.slice(1), base64: false)
            }
            guard let key = command.withToken(1, { MemcacheBase64.decode($0) }) else { return badFormat }
            return .metaDebug(key: key, base64: true)
        }
        guard
            kind == UInt8(ascii: "g") || kind == UInt8(ascii: "s") || kind == UInt8(ascii: "d")
                || kind == UInt8(ascii: "a")
        else { return .failure("ERROR", noreply: false) }
        guard command.ntokens >= 3 else { return .failure("ERROR", noreply: false) }
        guard command.isValidKey(1) else { return badFormat }
        if kind == UInt8(ascii: "s") { return metaSet(command, limits: limits) }
        guard command.ntokens <= Self.maxMetaTokens else {
            let reason = kind == UInt8(ascii: "g") ? "options flags are too long" : "options flags too long"
            return .failure("CLIENT_ERROR " + reason, noreply: false)
        }
        var key = command.slice(1)
        let flags: MemcacheMetaFlags
        switch Self.metaFlags(command, from: 2, key: &key) {
        case .success(let parsed):
            flags = parsed
        case .failure(let reason):
            // mg reports the reason; md and ma report a generic one, as memcached does.
            return .failure(
                kind == UInt8(ascii: "g") ? reason.text : "CLIENT_ERROR invalid or duplicate flag",
                noreply: false)
        }
        if kind == UInt8(ascii: "a"), let mode = flags.mode,
            ![UInt8(ascii: "I"), UInt8(ascii: "+"), UInt8(ascii: "D"), UInt8(ascii: "-")].contains(mode)
        {
            return .failure("CLIENT_ERROR invalid mode for ma M token", noreply: false)
        }
        if flags.hasLongOpaque { return .failure("CLIENT_ERROR opaque token too long", noreply: false) }
        switch kind {
        case UInt8(ascii: "g"): return .metaGet(key: key, flags: flags)
        case UInt8(ascii: "d"): return .metaDelete(key: key, flags: flags)
        default: return .metaArithmetic(key: key, flags: flags)
        }
    }

    /// `ms <key> <datalen> <flags>*`: errors before the length is known leave the data block to be read as the next
    /// command (as memcached does); later ones swallow it.
    private mutating func metaSet(_ command: MemcacheLine, limits: Limits) -> MemcacheRequest? {
        let badFormat = MemcacheRequest.failure("CLIENT_ERROR bad command line format", noreply: false)
        guard command.ntokens > 3 else { return badFormat }
        guard command.ntokens <= Self.maxMetaTokens else {
            return .failure("CLIENT_ERROR options flags too long", noreply: false)
        }
        guard let length = command.int32(2), length >= 0, length <= Int32.max - 2 else { return badFormat }
        var key = command.slice(1)
        let flags: MemcacheMetaFlags
        switch Self.metaFlags(command, from: 3, key: &key) {
        case .success(let parsed): flags = parsed
        case .failure(let reason): return refuse(reason.text, swallowing: length)
        }
        if let mode = flags.mode, !Array("EAPRS".utf8).contains(mode) {
            return refuse("CLIENT_ERROR invalid mode for ms M token", swallowing: length)
        }
        if flags.hasLongOpaque { return refuse("CLIENT_ERROR opaque token too long", swallowing: length) }
        let size = Limits.itemSize(
            keyLength: key.readableBytes, valueLength: Int(length), clientFlags: flags.clientFlags)
        guard size <= limits.maxItemSize else {
            state = .swallow(Int(length) + 2)
            return .tooLarge(
                key: key, removesOldValue: (flags.mode ?? UInt8(ascii: "S")) == UInt8(ascii: "S"), noreply: false)
        }
        state = .data(.metaSet(key: key, flags: flags), length: Int(length))
        return nil
    }

    /// An error after which the data block of `length` bytes (and its CRLF) is discarded as it arrives.
    private mutating func refuse(_ reason: String, swallowing length: Int32) -> MemcacheRequest {
        state = .swallow(Int(length) + 2)
        return .failure(reason, noreply: false)
    }

    /// Why meta flags were refused: memcached's reply.
    struct FlagError: Error {
        let text: String
    }

    /// Parses the flags from token `first` on the way memcached's `_meta_flag_preparse` does: a repeated or unknown
    /// flag stops at once; a bad token is remembered and parsing goes on (the last such reason is reported). `b`
    /// decodes `key` in place.
    static func metaFlags(
        _ command: MemcacheLine, from first: Int, key: inout ByteBuffer
    ) -> Result<MemcacheMetaFlags, FlagError> {
        var flags = MemcacheMetaFlags()
        var seen = [Bool](repeating: false, count: 128)
        var error: String?
        let badToken = "CLIENT_ERROR bad token in command line format"
        var index = first
        while index < min(command.count, MemcacheLine.maxTokens) {
            defer { index += 1 }
            let flag = command.byte(index, 0)
            guard flag < 127, !seen[Int(flag)] else { return .failure(FlagError(text: "CLIENT_ERROR duplicate flag")) }
            seen[Int(flag)] = true
            switch flag {
            case UInt8(ascii: "b"):
                flags.base64Key = true
                if let decoded = key.withUnsafeReadableBytes({ MemcacheBase64.decode($0) }) {
                    key = decoded
                } else {
                    error = "CLIENT_ERROR error decoding key"
                }
            case UInt8(ascii: "N"):
                flags.vivify = command.int32(index, from: 1)
                if flags.vivify == nil { error = badToken }
                flags.echoes.append(.vivify)
            case UInt8(ascii: "T"):
                flags.ttl = command.int32(index, from: 1)
                if flags.ttl == nil { error = badToken }
                flags.echoes.append(.setTTL)
            case UInt8(ascii: "R"):
                flags.recache = command.int32(index, from: 1)
                if flags.recache == nil { error = badToken }
                flags.echoes.append(.recache)
            case UInt8(ascii: "l"): flags.echoes.append(.lastAccess)
            case UInt8(ascii: "h"): flags.echoes.append(.hit)
            case UInt8(ascii: "O"): flags.echoes.append(.opaque(command.slice(index)))
            case UInt8(ascii: "P"), UInt8(ascii: "L"): break
            case UInt8(ascii: "k"): flags.echoes.append(.key)
            case UInt8(ascii: "s"): flags.echoes.append(.size)
            case UInt8(ascii: "t"): flags.echoes.append(.ttl)
            case UInt8(ascii: "c"): flags.echoes.append(.cas)
            case UInt8(ascii: "f"): flags.echoes.append(.clientFlags)
            case UInt8(ascii: "v"): flags.returnsValue = true
            case UInt8(ascii: "u"): flags.noBump = true
            case UInt8(ascii: "q"): flags.quiet = true
            case UInt8(ascii: "I"): flags.invalidate = true
            case UInt8(ascii: "F"):
                if let parsed = command.uint32(index, from: 1) {
                    flags.clientFlags = parsed
                } else {
                    error = error ?? "CLIENT_ERROR bad command line format"
                }
            case UInt8(ascii: "C"):
                flags.compareCAS = command.uint64(index, from: 1)
                if flags.compareCAS == nil { error = badToken }
            case UInt8(ascii: "M"):
                if command.length(index) == 2 {
                    flags.mode = command.byte(index, 1)
                } else {
                    error = "CLIENT_ERROR incorrect length for M token"
                }
            case UInt8(ascii: "J"):
                if let parsed = command.uint64(index, from: 1) {
                    flags.initial = parsed
                } else {
                    error = "CLIENT_ERROR invalid numeric initial value"
                }
            case UInt8(ascii: "D"):
                if let parsed = command.uint64(index, from: 1) {
                    flags.delta = parsed
                } else {
                    error = "CLIENT_ERROR invalid numeric delta value"
                }
            default:
                return .failure(FlagError(text: "CLIENT_ERROR invalid flag"))
            }
        }
        if let error { return .failure(FlagError(text: error)) }
        return .success(flags)
    }
}

extension MemcacheMetaFlags {
    /// Whether an `O` token is longer than memcached's 32 bytes (the `O` counted).
    var hasLongOpaque: Bool {
        echoes.contains {
            if case .opaque(let token) = $0 {
                return token.readableBytes > MemcacheRequestParser.Limits.maxOpaqueLength
            }
            return false
        }
    }
}
