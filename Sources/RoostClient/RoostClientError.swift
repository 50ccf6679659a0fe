/// Everything that can go wrong running a command.
///
/// Switch on ``code`` to decide what to do; ``description`` is written for a log line or a person, naming the
/// command and the node when they are known. Server error replies keep their prefix in ``serverCode``
/// (`WRONGTYPE`, `MOVED`, `OOM`, …), so `error.serverCode == "WRONGTYPE"` is how a caller recognises a type
/// mismatch.
public struct RoostClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case serverError, redirectionFailed, timeout, connectionFailed, connectionClosed, protocolError
            case unexpectedReply, encodingFailed, decodingFailed, clusterUnavailable, shutdown
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The server answered with an error reply; ``RoostClientError/serverCode`` holds its prefix.
        public static let serverError = Self(.serverError)
        /// A cluster redirection (`MOVED`, `ASK`) could not be followed: malformed, or more hops than the retry
        /// policy allows.
        public static let redirectionFailed = Self(.redirectionFailed)
        /// No reply arrived within the command timeout. The command may still have run on the server.
        public static let timeout = Self(.timeout)
        /// The command was never sent: the connection could not be opened, or was already closed.
        public static let connectionFailed = Self(.connectionFailed)
        /// The connection closed while the command was in flight; it may or may not have run on the server.
        public static let connectionClosed = Self(.connectionClosed)
        /// The server sent bytes that are not valid RESP; the connection was closed.
        public static let protocolError = Self(.protocolError)
        /// The reply was valid RESP but not of the type the command returns.
        public static let unexpectedReply = Self(.unexpectedReply)
        /// A value could not be encoded by the configured coder.
        public static let encodingFailed = Self(.encodingFailed)
        /// A value could not be decoded by the configured coder.
        public static let decodingFailed = Self(.decodingFailed)
        /// The cluster's slot map could not be loaded from any known node, or a slot has no owner.
        public static let clusterUnavailable = Self(.clusterUnavailable)
        /// The client has shut down (its ``RoostClient/run()`` returned).
        public static let shutdown = Self(.shutdown)

        /// A short name of the code, such as `timeout`.
        public var description: String {
            switch kind {
            case .serverError: "server error"
            case .redirectionFailed: "redirection failed"
            case .timeout: "timeout"
            case .connectionFailed: "connection failed"
            case .connectionClosed: "connection closed"
            case .protocolError: "protocol error"
            case .unexpectedReply: "unexpected reply"
            case .encodingFailed: "encoding failed"
            case .decodingFailed: "decoding failed"
            case .clusterUnavailable: "cluster unavailable"
            case .shutdown: "shut down"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// For ``Code/serverError``, the error reply's first word (`ERR`, `WRONGTYPE`, `MOVED`, `CLUSTERDOWN`, …).
    public var serverCode: String?
    /// What happened: for a server error the whole error reply (e.g. `WRONGTYPE Operation against a key holding
    /// the wrong kind of value`), otherwise the client's explanation.
    public var message: String
    /// The command's name (e.g. `GET`), when known.
    public var command: String?
    /// The node, as `host:port`, when known.
    public var node: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, serverCode: String? = nil, command: String? = nil, node: String? = nil)
    {
        self.code = code
        self.message = message
        self.serverCode = serverCode
        self.command = command
        self.node = node
    }

    /// An error from the text of a server error reply (without the leading `-`).
    static func server(_ text: String, command: String? = nil, node: String? = nil) -> Self {
        let prefix = text.prefix { $0 != " " }
        return Self(.serverError, text, serverCode: String(prefix), command: command, node: node)
    }

    /// The message with the command and node, e.g. `GET on 127.0.0.1:6379: timeout: no reply within 1.0 s`.
    public var description: String {
        var where_ = ""
        if let command { where_ += command }
        if let node { where_ += where_.isEmpty ? node : " on \(node)" }
        let head = where_.isEmpty ? "" : "\(where_): "
        return code == .serverError ? "\(head)\(message)" : "\(head)\(code): \(message)"
    }

    /// The same error, naming `command` and `node` where it does not yet.
    func with(command: String?, node: String?) -> Self {
        var copy = self
        if copy.command == nil { copy.command = command }
        if copy.node == nil { copy.node = node }
        return copy
    }
}
