import Foundation
public import NIOCore

/// Turns `Codable` values into the bytes stored under a key and back; ``RoostJSONCoder`` by default.
public protocol RoostCoder: Sendable {
    /// Encodes a value into bytes.
    func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer
    /// Decodes a value from the bytes stored under a key.
    func decode<Value: Decodable>(_ type: Value.Type, from bytes: ByteBuffer) throws -> Value
}

/// JSON with Foundation's `JSONEncoder`/`JSONDecoder` (ISO 8601 dates, sorted keys, so equal values store equal
/// bytes).
public struct RoostJSONCoder: RoostCoder {
    /// Creates the coder.
    public init() {}

    /// Encodes `value` as JSON.
    public func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return ByteBuffer(bytes: try encoder.encode(value))
    }

    /// Decodes JSON into `type`.
    public func decode<Value: Decodable>(_ type: Value.Type, from bytes: ByteBuffer) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(bytes.readableBytesView))
    }
}

extension RoostClient {
    /// `GET key`, decoded with the configured ``Configuration/coder``; `nil` when the key does not exist.
    ///
    /// - Throws: ``RoostClientError/Code/decodingFailed`` when the stored bytes do not decode as `type` (the
    ///   message carries the decoder's explanation).
    public func get<Value: Decodable>(_ key: String, as type: Value.Type) async throws(RoostClientError) -> Value? {
        guard let bytes = try await get(key) else { return nil }
        do {
            return try configuration.coder.decode(type, from: bytes)
        } catch {
            throw RoostClientError(
                .decodingFailed, "\(key.count)-character key's value is not a \(Value.self): \(error)",
                command: "GET")
        }
    }

    /// `SET key <encoded value>` with the configured ``Configuration/coder``; options as
    /// ``set(_:_:ttl:condition:keepTTL:)``.
    ///
    /// - Throws: ``RoostClientError/Code/encodingFailed`` when the coder cannot encode `value`.
    @discardableResult
    public func set<Value: Encodable>(
        _ key: String, encoding value: Value, ttl: Duration? = nil, condition: SetCondition = .always
    ) async throws(RoostClientError) -> Bool {
        let bytes: ByteBuffer
        do {
            bytes = try configuration.coder.encode(value)
        } catch {
            throw RoostClientError(.encodingFailed, "cannot encode a \(Value.self): \(error)", command: "SET")
        }
        return try await set(key, bytes, ttl: ttl, condition: condition)
    }
}
