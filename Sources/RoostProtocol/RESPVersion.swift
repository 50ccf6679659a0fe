/// The version of the Redis serialization protocol spoken on a connection.
///
/// A connection starts in RESP2; `HELLO 3` switches it to RESP3, which adds typed replies (null, double,
/// boolean, map, set, push, verbatim string, big number). Encoders take the version so that one call site
/// produces the right bytes for either.
public enum RESPVersion: Int, Sendable, Hashable, CaseIterable {
    /// RESP2: simple strings, errors, integers, bulk strings and arrays only.
    case resp2 = 2
    /// RESP3: RESP2 plus the typed replies introduced by Redis 6.
    case resp3 = 3
}
