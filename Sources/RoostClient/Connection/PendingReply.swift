import NIOCore
import RoostProtocol

/// The outcome of one command on one connection: the reply (error replies included, as ``RESPValue/error(_:)``)
/// or the failure that stopped it.
typealias ReplyResult = Result<RESPValue, RoostClientError>

/// One command waiting for its reply, in the order its bytes were written.
struct PendingReply {
    /// Resumed exactly once: with the reply, a timeout or a connection failure; `nil` once resumed early (timed
    /// out) while the reply is still owed, so that the late reply is dropped.
    var continuation: UnsafeContinuation<ReplyResult, Never>?
    /// The command's name, for error messages.
    var command: StaticString
    /// When the reply is due; set when the command is written.
    var deadline: NIODeadline = .distantFuture

    /// Resumes the waiter, if it is still waiting.
    mutating func resume(_ result: ReplyResult) {
        if let continuation {
            self.continuation = nil
            continuation.resume(returning: result)
        }
    }
}
