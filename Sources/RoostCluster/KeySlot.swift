/// The number of hash slots in a Redis Cluster keyspace.
public let clusterSlotCount = 16384

/// The hash slot of a key, in `0..<16384`, exactly as Redis Cluster computes it.
///
/// The slot is `CRC16(k) mod 16384`, where CRC16 is the XMODEM variant (polynomial 0x1021, initial value 0, no
/// reflection, no final XOR) and `k` is the key's hash tag when it has one: the bytes between the first `{` and
/// the first `}` after it, provided there is at least one byte between them. Otherwise `k` is the whole key. So
/// `{user1000}.following` and `{user1000}.followers` share a slot, `foo{}{bar}` hashes the whole key (the first
/// tag is empty), `foo{{bar}}zap` hashes `{bar` and `foo{bar}{zap}` hashes `bar`.
public func keySlot(_ key: UnsafeRawBufferPointer) -> Int {
    guard let open = key.firstIndex(of: UInt8(ascii: "{")) else {
        return Int(CRC16.checksum(key) & 0x3FFF)
    }
    let afterOpen = open + 1
    guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close > afterOpen else {
        return Int(CRC16.checksum(key) & 0x3FFF)
    }
    return Int(CRC16.checksum(UnsafeRawBufferPointer(rebasing: key[afterOpen..<close])) & 0x3FFF)
}

/// The hash slot of a key given as bytes; see ``keySlot(_:)-(UnsafeRawBufferPointer)``.
public func keySlot(_ key: [UInt8]) -> Int {
    key.withUnsafeBytes { keySlot($0) }
}

/// The hash slot of a key given as a string (its UTF-8 bytes); see ``keySlot(_:)-(UnsafeRawBufferPointer)``.
public func keySlot(_ key: String) -> Int {
    var key = key
    return key.withUTF8 { keySlot(UnsafeRawBufferPointer($0)) }
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, most significant bit first, no final XOR.
public enum CRC16 {
    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
            }
        }
        return crc
    }

    /// The checksum of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
