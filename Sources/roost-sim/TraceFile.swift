import Foundation

/// A request trace in libCacheSim's `oracleGeneral` binary format, so the same file feeds Roost's replayer and
/// libCacheSim: little-endian packed records of `UInt32` timestamp, `UInt64` object id, `UInt32` object size and
/// `Int64` logical time of the object's next request (-1 if none; Belady needs it).
struct TraceFile {
    static let recordSize = 24
    static let fileExtension = "oracleGeneral"

    /// Writes `ids` (one request each, all of size `objectSize`) with their next-access times.
    static func write(ids: [UInt64], objectSize: UInt32, to url: URL) throws {
        var nextAccess = [Int64](repeating: -1, count: ids.count)
        var lastSeen: [UInt64: Int] = [:]
        lastSeen.reserveCapacity(ids.count / 4)
        for index in stride(from: ids.count - 1, through: 0, by: -1) {
            if let later = lastSeen[ids[index]] { nextAccess[index] = Int64(later) }
            lastSeen[ids[index]] = index
        }
        var bytes = [UInt8](repeating: 0, count: ids.count * recordSize)
        bytes.withUnsafeMutableBytes { buffer in
            for index in ids.indices {
                let base = index * recordSize
                buffer.storeBytes(
                    of: UInt32(truncatingIfNeeded: index).littleEndian, toByteOffset: base, as: UInt32.self)
                buffer.storeBytes(of: ids[index].littleEndian, toByteOffset: base + 4, as: UInt64.self)
                buffer.storeBytes(of: objectSize.littleEndian, toByteOffset: base + 12, as: UInt32.self)
                buffer.storeBytes(of: nextAccess[index].littleEndian, toByteOffset: base + 16, as: Int64.self)
            }
        }
        try Data(bytes).write(to: url)
    }

    /// A trace loaded for replay: object ids renumbered densely (0..<uniqueCount) in order of first appearance.
    struct Loaded {
        var name: String
        var requests: [Int32]
        var sizes: [Int]  // per dense id
        var originalIDs: [UInt64]  // per dense id
        var uniqueCount: Int { originalIDs.count }
    }

    static func read(_ url: URL) throws -> Loaded {
        let data = try Data(contentsOf: url)
        let count = data.count / recordSize
        var requests = [Int32](repeating: 0, count: count)
        var dense: [UInt64: Int32] = [:]
        var sizes: [Int] = []
        var originalIDs: [UInt64] = []
        data.withUnsafeBytes { buffer in
            for index in 0..<count {
                let base = index * recordSize
                let id = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: base + 4, as: UInt64.self))
                let size = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: base + 12, as: UInt32.self))
                if let known = dense[id] {
                    requests[index] = known
                } else {
                    let next = Int32(originalIDs.count)
                    dense[id] = next
                    originalIDs.append(id)
                    sizes.append(Int(size))
                    requests[index] = next
                }
            }
        }
        let name = url.deletingPathExtension().lastPathComponent
        return Loaded(name: name, requests: requests, sizes: sizes, originalIDs: originalIDs)
    }
}
