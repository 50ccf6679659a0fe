public import NIOCore
import RoostCluster
import RoostProtocol

// Multi-key commands. In cluster mode the keys are grouped by hash slot, one command per slot is sent
// (concurrently), and the replies are merged in the caller's order. Each per-slot command is atomic; the whole is
// not (a `MSET` over several slots can be seen half done). Use hash tags (`{user42}.name`) to keep keys in one slot.

extension RoostClient {
    /// `MGET key…`: the values in the order of `keys`, `nil` for a missing key (or one holding a non-string).
    ///
    /// With a ``Configuration/nearCache``, keys held locally are answered from memory and only the others are
    /// read from the server (through the near cache's tracking connections, and then kept).
    public func mget(_ keys: [String]) async throws(RoostClientError) -> [ByteBuffer?] {
        guard !keys.isEmpty else { return [] }
        if let nearCache { return try await nearCachedMget(keys, nearCache) }
        return try await splitBySlot(keys, placeholder: nil) { positions, slot async throws(RoostClientError) in
            try await self.uncachedMget(positions.map { keys[$0] }, slot: slot)
        }
    }

    /// One `MGET` of keys that share `slot` (`nil` in standalone mode), bypassing the near cache.
    func uncachedMget(_ keys: [String], slot: Int?) async throws(RoostClientError) -> [ByteBuffer?] {
        let values = try await execute("MGET", slot: slot, readOnly: true) { buffer in
            buffer.writeRoostCommand("MGET", argumentCount: keys.count)
            for key in keys { buffer.writeRESPBulkString(key) }
        }.optionalBytesArray("MGET")
        guard values.count == keys.count else {
            throw RoostClientError(.unexpectedReply, "\(values.count) values for \(keys.count) keys", command: "MGET")
        }
        return values
    }

    /// `MSET key value…`: writes every pair (in cluster mode, atomically per slot only).
    public func mset<Value: RoostArgument>(_ pairs: [(String, Value)]) async throws(RoostClientError) {
        guard !pairs.isEmpty else { return }
        let keys = pairs.map(\.0)
        let values = pairs.map(\.1)
        _ = try await invalidatingNearCache(keys) { () async throws(RoostClientError) in
            try await splitBySlot(keys, placeholder: false) { positions, slot async throws(RoostClientError) in
                _ = try await self.execute("MSET", slot: slot, readOnly: false) { buffer in
                    buffer.writeRoostCommand("MSET", argumentCount: positions.count * 2)
                    for position in positions {
                        buffer.writeRESPBulkString(keys[position])
                        values[position].writeRESPBulkString(into: &buffer)
                    }
                }
                return [Bool](repeating: true, count: positions.count)
            }
        }
    }

    /// `MSET key value…` from a dictionary.
    public func mset<Value: RoostArgument>(_ values: [String: Value]) async throws(RoostClientError) {
        try await mset(values.map { ($0.key, $0.value) })
    }

    /// `MSETNX key value…`: writes every pair only if none of the keys exists. In cluster mode all keys must be in
    /// one slot (the server answers `CROSSSLOT` otherwise).
    @discardableResult
    public func msetnx<Value: RoostArgument>(_ pairs: [(String, Value)]) async throws(RoostClientError) -> Bool {
        try await invalidatingNearCache(pairs.map(\.0)) { () async throws(RoostClientError) in
            try await execute("MSETNX", key: pairs.first?.0, readOnly: false) { buffer in
                buffer.writeRoostCommand("MSETNX", argumentCount: pairs.count * 2)
                for (key, value) in pairs {
                    buffer.writeRESPBulkString(key)
                    value.writeRESPBulkString(into: &buffer)
                }
            }.int("MSETNX") == 1
        }
    }

    /// `DEL key…`: how many of the keys existed and were deleted.
    @discardableResult
    public func del(_ keys: String...) async throws(RoostClientError) -> Int64 {
        try await countingKeys("DEL", keys, readOnly: false)
    }

    /// `DEL key…` with the keys in an array.
    @discardableResult
    public func del(_ keys: [String]) async throws(RoostClientError) -> Int64 {
        try await countingKeys("DEL", keys, readOnly: false)
    }

    /// `UNLINK key…`: like `DEL`, reclaiming memory in the background on servers that do.
    @discardableResult
    public func unlink(_ keys: [String]) async throws(RoostClientError) -> Int64 {
        try await countingKeys("UNLINK", keys, readOnly: false)
    }

    /// `EXISTS key…`: how many of the keys exist (a key named twice counts twice).
    public func exists(_ keys: String...) async throws(RoostClientError) -> Int64 {
        try await countingKeys("EXISTS", keys, readOnly: true)
    }

    /// `EXISTS key…` with the keys in an array.
    public func exists(_ keys: [String]) async throws(RoostClientError) -> Int64 {
        try await countingKeys("EXISTS", keys, readOnly: true)
    }

    /// `TOUCH key…`: updates the keys' access time; how many exist.
    @discardableResult
    public func touch(_ keys: [String]) async throws(RoostClientError) -> Int64 {
        try await countingKeys("TOUCH", keys, readOnly: true)
    }

    /// A command taking only keys and answering a count, summed over the slots.
    private func countingKeys(_ command: StaticString, _ keys: [String], readOnly: Bool) async throws(RoostClientError)
        -> Int64
    {
        guard !keys.isEmpty else { return 0 }
        if !readOnly {
            return try await invalidatingNearCache(keys) { () async throws(RoostClientError) in
                try await countingKeysUncached(command, keys, readOnly: readOnly)
            }
        }
        return try await countingKeysUncached(command, keys, readOnly: readOnly)
    }

    private func countingKeysUncached(_ command: StaticString, _ keys: [String], readOnly: Bool)
        async throws(RoostClientError) -> Int64
    {
        let counts = try await splitBySlot(keys, placeholder: Int64(0)) {
            positions, slot async throws(RoostClientError) in
            let count = try await self.execute(command, slot: slot, readOnly: readOnly) { buffer in
                buffer.writeRoostCommand(command, argumentCount: positions.count)
                for position in positions { buffer.writeRESPBulkString(keys[position]) }
            }.int(command)
            // One element per key so that the merge accepts it; the group's count sits on its first key.
            return [count] + [Int64](repeating: 0, count: positions.count - 1)
        }
        return counts.reduce(0, +)
    }

    /// Runs `body` once per slot group with the positions of that group's keys (once with every position, slot
    /// `nil`, in standalone mode); `body` returns one element per position, and the elements are merged back into
    /// key order. Groups run concurrently; the first failure (in group order) is thrown.
    func splitBySlot<Element: Sendable>(
        _ keys: [String], placeholder: Element,
        _ body: @escaping @Sendable ([Int], Int?) async throws(RoostClientError) -> [Element]
    ) async throws(RoostClientError) -> [Element] {
        guard isCluster else { return try await body(Array(keys.indices), nil) }
        let groups = SlotGroups(keys: keys)
        if groups.groups.count == 1 { return try await body(Array(keys.indices), groups.groups[0].slot) }
        let results = await withTaskGroup(of: (Int, Result<[Element], RoostClientError>).self) { taskGroup in
            for (index, group) in groups.groups.enumerated() {
                taskGroup.addTask {
                    do throws(RoostClientError) {
                        return (index, .success(try await body(group.positions, group.slot)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<[Element], RoostClientError>?](repeating: nil, count: groups.groups.count)
            for await (index, result) in taskGroup { results[index] = result }
            return results
        }
        var values: [[Element]] = []
        values.reserveCapacity(results.count)
        for result in results {
            values.append(try result!.get())
        }
        return groups.merge(values, count: keys.count, placeholder: placeholder)
    }
}
