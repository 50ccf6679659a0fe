/// The last bytes of the replication stream, kept so that a replica that lost its link briefly can resume from its
/// offset (`PSYNC` answered `+CONTINUE`) instead of taking a full snapshot again (`repl-backlog-size`).
///
/// A ring of `capacity` bytes. Offsets count stream bytes since the replication ID began; ``endOffset`` is the offset
/// just past the newest byte and ``firstOffset`` the offset of the oldest byte kept.
struct ReplicationBacklog: Sendable {
    private var storage: [UInt8]
    /// Ring index of the oldest byte.
    private var head = 0
    /// Bytes held (at most the capacity).
    private(set) var count = 0
    /// The stream offset just past the newest byte.
    private(set) var endOffset: Int64

    /// An empty backlog whose next byte has stream offset `endOffset`.
    init(capacity: Int, endOffset: Int64) {
        precondition(capacity > 0)
        storage = [UInt8](repeating: 0, count: capacity)
        self.endOffset = endOffset
    }

    var capacity: Int { storage.count }

    /// The stream offset of the oldest byte held (``endOffset`` when empty).
    var firstOffset: Int64 { endOffset - Int64(count) }

    /// Appends stream bytes, dropping the oldest beyond the capacity.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        endOffset += Int64(bytes.count)
        var source = bytes
        if source.count >= capacity {
            source = UnsafeRawBufferPointer(rebasing: source[(source.count - capacity)...])
            head = 0
            count = 0
        }
        let capacity = self.capacity
        var tail = (head + count) % capacity
        var copied = 0
        storage.withUnsafeMutableBytes { ring in
            while copied < source.count {
                let run = min(source.count - copied, capacity - tail)
                ring.baseAddress!.advanced(by: tail).copyMemory(
                    from: source.baseAddress!.advanced(by: copied), byteCount: run)
                copied += run
                tail = (tail + run) % capacity
            }
        }
        let overflow = count + source.count - capacity
        if overflow > 0 {
            head = (head + overflow) % capacity
            count = capacity
        } else {
            count += source.count
        }
    }

    /// The bytes from stream offset `offset` to the end, or nil when `offset` is not within the backlog.
    func bytes(from offset: Int64) -> [UInt8]? {
        guard offset >= firstOffset, offset <= endOffset else { return nil }
        let skip = Int(offset - firstOffset)
        let length = count - skip
        var result = [UInt8]()
        result.reserveCapacity(length)
        var index = (head + skip) % capacity
        for _ in 0..<length {
            result.append(storage[index])
            index += 1
            if index == capacity { index = 0 }
        }
        return result
    }

    /// Empties the backlog; the next byte will have stream offset `endOffset`.
    mutating func reset(endOffset: Int64) {
        head = 0
        count = 0
        self.endOffset = endOffset
    }
}
