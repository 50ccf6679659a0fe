import NIOCore

/// One memcached request, parsed and checked by ``MemcacheRequestParser``: keys and values are slices of the
/// connection's receive buffer (no copies), numbers are parsed, and malformed input is already a ``failure``
/// carrying memcached's reply.
enum MemcacheRequest {
    /// `get`, `gets`, `gat`, `gats`: the keys, whether to return CAS values, and for `gat`/`gats` the new expiry.
    case retrieve(keys: [ByteBuffer], returnsCAS: Bool, touch: Int32?)
    /// `set`, `add`, `replace`, `append`, `prepend`, `cas` with their data block.
    case store(MemcacheStore)
    /// `incr` and `decr`.
    case arithmetic(key: ByteBuffer, delta: UInt64, increment: Bool, noreply: Bool)
    /// `touch <key> <exptime>`.
    case touch(key: ByteBuffer, exptime: Int32, noreply: Bool)
    /// `delete <key>`.
    case delete(key: ByteBuffer, noreply: Bool)
    /// `flush_all [delay]`.
    case flushAll(delay: Int32, noreply: Bool)
    /// `version`.
    case version
    /// `verbosity <level>` (accepted; Roost's logging is configured with `loglevel`).
    case verbosity(noreply: Bool)
    /// `stats [group]`.
    case stats(group: String?)
    /// `quit`: close after answering what came before.
    case quit
    /// `mn`.
    case metaNoop
    /// `me <key> [b]`.
    case metaDebug(key: ByteBuffer, base64: Bool)
    /// `mg <key> <flags>*`.
    case metaGet(key: ByteBuffer, flags: MemcacheMetaFlags)
    /// `ms <key> <datalen> <flags>*` with its data block.
    case metaSet(key: ByteBuffer, flags: MemcacheMetaFlags, value: ByteBuffer)
    /// `md <key> <flags>*`.
    case metaDelete(key: ByteBuffer, flags: MemcacheMetaFlags)
    /// `ma <key> <flags>*`.
    case metaArithmetic(key: ByteBuffer, flags: MemcacheMetaFlags)
    /// Roost's own `roost_forwarded` (no reply): this connection carries requests forwarded by another cluster node,
    /// so its keys are served here or refused, never forwarded again.
    case forwardedConnection
    /// Malformed input: the reply line memcached sends (without CRLF), unless `noreply` suppresses it.
    case failure(String, noreply: Bool)
    /// A data block over the item size limit (discarded): `SERVER_ERROR object too large for cache`; a set also
    /// removes the key's old value, as memcached does so that a failed set leaves no stale data behind.
    case tooLarge(key: ByteBuffer, removesOldValue: Bool, noreply: Bool)
    /// The connection must be closed without a reply (a command line too long, as memcached does).
    case close
}

/// A text-protocol storage command with its data block.
struct MemcacheStore {
    /// Which storage command.
    enum Mode: Sendable, Hashable {
        case set, add, replace, append, prepend, cas
    }

    var mode: Mode
    var key: ByteBuffer
    var clientFlags: UInt32
    var exptime: Int32
    /// The `cas` command's CAS unique (0 for the others).
    var casUnique: UInt64
    var noreply: Bool
    var value: ByteBuffer
}

/// The flags of one meta command (`mg`, `ms`, `md`, `ma`), parsed the way memcached's `_meta_flag_preparse` does:
/// each flag once, tokens checked, and the return flags kept in request order for the reply.
struct MemcacheMetaFlags {
    /// A flag echoed in the reply, in request order.
    enum Echo: Hashable {
        /// `O<opaque>`: the whole token, `O` included, as it arrived.
        case opaque(ByteBuffer)
        /// `k`: the key (base64 again under `b`).
        case key
        /// `c`: the CAS value.
        case cas
        /// `f`: the client flags.
        case clientFlags
        /// `s`: the value's size.
        case size
        /// `t`: the remaining TTL in seconds, -1 for none.
        case ttl
        /// `l`: seconds since the last access.
        case lastAccess
        /// `h`: whether the item was read before (0 or 1).
        case hit
        /// `T<ttl>`: changes the TTL at this point of the reply (`t` before it shows the old TTL, as in memcached).
        case setTTL
        /// `N<ttl>`: vivify on miss.
        case vivify
        /// `R<ttl>`: win a recache when the TTL is below the token.
        case recache
    }

    var echoes: [Echo] = []
    /// `b`: the key arrived base64-encoded (it is decoded already).
    var base64Key = false
    /// `v`: return the value.
    var returnsValue = false
    /// `q`: suppress the nominal reply (`EN` for `mg`, `HD` for the others).
    var quiet = false
    /// `u`: do not bump the item's access time.
    var noBump = false
    /// `I`: invalidate (mark stale) instead of deleting; for `ms`, store a stale value when the CAS is older.
    var invalidate = false
    /// `T`: new TTL.
    var ttl: Int32?
    /// `N`: vivify on miss with this TTL.
    var vivify: Int32?
    /// `R`: recache threshold.
    var recache: Int32?
    /// `F`: client flags for `ms`.
    var clientFlags: UInt32 = 0
    /// `C`: compare this CAS.
    var compareCAS: UInt64?
    /// `M`: mode character for `ms` (`E A P R S`) or `ma` (`I + D -`).
    var mode: UInt8?
    /// `J`: initial value for `ma` with `N`.
    var initial: UInt64 = 0
    /// `D`: delta for `ma`.
    var delta: UInt64 = 1
}
