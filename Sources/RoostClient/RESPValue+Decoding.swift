import NIOCore
import RoostProtocol

// Typed views of replies, throwing `unexpectedReply` with the command's name when the shape is wrong.

extension RESPValue {
    /// A bulk string's bytes, or `nil` for a null reply.
    func optionalBytes(_ command: StaticString) throws(RoostClientError) -> ByteBuffer? {
        switch self {
        case .bulkString(let bytes): return bytes
        case .simpleString(let bytes), .verbatimString(_, let bytes): return bytes
        case .null: return nil
        default: throw unexpected(command)
        }
    }

    /// An integer reply.
    func int(_ command: StaticString) throws(RoostClientError) -> Int64 {
        if case .integer(let value) = self { return value }
        throw unexpected(command)
    }

    /// `OK` → `true`; a null reply (a condition not met) → `false`.
    func okOrNull(_ command: StaticString) throws(RoostClientError) -> Bool {
        switch self {
        case .simpleString: return true
        case .null, .bulkString(nil), .array(nil): return false
        default: throw unexpected(command)
        }
    }

    /// A number sent as a string (a bulk string, or a RESP3 double).
    func double(_ command: StaticString) throws(RoostClientError) -> Double {
        switch self {
        case .double(let value): return value
        case .bulkString(let bytes?), .simpleString(let bytes):
            if let value = Double(String(buffer: bytes)) { return value }
        default: break
        }
        throw unexpected(command)
    }

    /// An array of bulk strings or nulls.
    func optionalBytesArray(_ command: StaticString) throws(RoostClientError) -> [ByteBuffer?] {
        guard let elements else { throw unexpected(command) }
        var result: [ByteBuffer?] = []
        result.reserveCapacity(elements.count)
        for element in elements { result.append(try element.optionalBytes(command)) }
        return result
    }

    func unexpected(_ command: StaticString) -> RoostClientError {
        RoostClientError(.unexpectedReply, "unexpected reply \(self)", command: "\(command)")
    }
}
