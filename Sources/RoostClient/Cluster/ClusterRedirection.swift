/// A cluster redirection error reply: `MOVED <slot> <host>:<port>` or `ASK <slot> <host>:<port>`.
///
/// `MOVED` means the slot now lives on that node for good (update the slot map); `ASK` means only this one
/// command should be retried there, preceded by `ASKING`, because the slot is being migrated.
struct ClusterRedirection: Hashable, Sendable {
    /// Which kind of redirection.
    enum Kind: Hashable, Sendable {
        /// `MOVED`: the slot's owner changed.
        case moved
        /// `ASK`: retry once on the importing node.
        case ask
    }

    var kind: Kind
    var slot: Int
    var host: String
    var port: Int

    /// The target as `host:port`.
    var node: String { "\(host):\(port)" }

    /// Parses an error reply's text; `nil` when it is not a well-formed redirection.
    ///
    /// The address's host is everything before the last colon, so IPv6 hosts (`::1:7000`) parse. An empty host
    /// (Redis sends `:7000` when the node's address is unknown) is replaced by `defaultHost`, the host of the node
    /// that sent the redirection.
    init?(_ text: Substring, defaultHost: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3 else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        guard let slot = Int(parts[1]), slot >= 0, slot < 16384 else { return nil }
        guard let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]),
            port > 0, port < 65536
        else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.slot = slot
        self.host = host.isEmpty ? defaultHost : host
        self.port = port
    }
}
