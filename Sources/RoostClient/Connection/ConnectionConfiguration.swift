import NIOCore
import RoostProtocol

/// How connections talk to a node; shared by every connection of a client.
struct ConnectionConfiguration: Sendable {
    /// How long a command may wait for its reply.
    var commandTimeout: Duration
    /// How long opening a connection (TCP and the handshake) may take.
    var connectTimeout: Duration
    /// `HELLO 3` first (falling back to RESP2 when the server refuses), or RESP2 only.
    var preferRESP3: Bool
    /// `AUTH` credentials, sent in `HELLO` (or `AUTH` in RESP2).
    var username: String?
    /// The password for `AUTH`.
    var password: String?
    /// `CLIENT SETNAME` value.
    var clientName: String?
    /// Receives RESP3 push frames (such as client-tracking `invalidate` messages), on the connection's event loop.
    var onPush: (@Sendable (RESPValue, RoostConnection) -> Void)? = nil
}
