import NIOCore
import RoostCluster
import RoostProtocol

// The read paths through the near cache (see `TrackedNearCache` for the design and the argument).

extension RoostClient {
    /// The near cache's counters and size, or `nil` when ``Configuration/nearCache`` is not set.
    public var nearCacheStatistics: NearCacheStatistics? {
        nearCache?.statistics
    }

    /// Waits until every invalidation the servers had queued for this client when this call started has been
    /// applied to the near cache (two `PING`s in a row per tracking connection; a connection that fails them is
    /// closed and the near cache flushed). Returns at once without a near cache.
    ///
    /// A write acknowledged to another process before this call starts is then never answered from local memory
    /// with an older value: use it when a reader must see a write it learned of out of band.
    public func synchronizeNearCache() async {
        await nearCache?.heartbeat()
    }

    /// Whether `key` is held in the near cache now (no hit is counted). For tests and diagnostics.
    func nearCacheHolds(_ key: String) -> Bool {
        nearCache?.holds(key) ?? false
    }

    /// `GET` through the near cache: a local hit, or a read through the key's node's tracking connection whose
    /// value is stored if no invalidation raced it.
    func nearCachedGet(_ key: String, _ nearCache: TrackedNearCache) async throws(RoostClientError) -> ByteBuffer? {
        if let value = nearCache.lookup(key) { return value }
        nearCache.countMisses(1)
        guard let connection = await trackingConnection(forKey: key, nearCache),
            let ticket = nearCache.beginRead([key], on: connection)
        else {
            nearCache.countUncachedRead()
            return try await uncachedGet(key)
        }
        let result = await connection.send("GET") { buffer in
            buffer.writeRoostCommand("GET", argumentCount: 1)
            buffer.writeRESPBulkString(key)
        }
        switch result {
        case .success(.error(let text)):
            nearCache.abandonRead([key], ticket: ticket)
            trackedReadRefused(text)
        case .success(let reply):
            do throws(RoostClientError) {
                let value = try reply.optionalBytes("GET")
                nearCache.finishRead([key], values: [value], ticket: ticket)
                return value
            } catch {
                nearCache.abandonRead([key], ticket: ticket)
                throw error
            }
        case .failure(let error):
            nearCache.abandonRead([key], ticket: ticket)
            if error.code == .timeout { nearCache.giveUp(connection) }
        }
        nearCache.countUncachedRead()
        return try await uncachedGet(key)
    }

    /// `MGET` through the near cache: local hits, and one `MGET` per slot group of the other keys through the
    /// tracking connections.
    func nearCachedMget(_ keys: [String], _ nearCache: TrackedNearCache) async throws(RoostClientError)
        -> [ByteBuffer?]
    {
        var values = [ByteBuffer?](repeating: nil, count: keys.count)
        var missing: [Int] = []
        for (position, key) in keys.enumerated() {
            if nearCache.configuration.caches(key), let value = nearCache.lookup(key) {
                values[position] = value
            } else {
                missing.append(position)
            }
        }
        if missing.isEmpty { return values }
        let missingKeys = missing.map { keys[$0] }
        nearCache.countMisses(missingKeys.count(where: { nearCache.configuration.caches($0) }))
        let fetched = try await splitBySlot(missingKeys, placeholder: nil) {
            positions, slot async throws(RoostClientError) in
            try await self.trackedMget(positions.map { missingKeys[$0] }, slot: slot, nearCache)
        }
        for (index, position) in missing.enumerated() { values[position] = fetched[index] }
        return values
    }

    /// One `MGET` of keys sharing a slot through the tracking connection of the slot's node.
    private func trackedMget(_ keys: [String], slot: Int?, _ nearCache: TrackedNearCache)
        async throws(RoostClientError) -> [ByteBuffer?]
    {
        guard let connection = await trackingConnection(forSlot: slot, nearCache),
            let ticket = nearCache.beginRead(keys, on: connection)
        else {
            nearCache.countUncachedRead(keys.count)
            return try await uncachedMget(keys, slot: slot)
        }
        let result = await connection.send("MGET") { buffer in
            buffer.writeRoostCommand("MGET", argumentCount: keys.count)
            for key in keys { buffer.writeRESPBulkString(key) }
        }
        switch result {
        case .success(.error(let text)):
            nearCache.abandonRead(keys, ticket: ticket)
            trackedReadRefused(text)
        case .success(let reply):
            guard let values = try? reply.optionalBytesArray("MGET"), values.count == keys.count else {
                nearCache.abandonRead(keys, ticket: ticket)
                throw reply.unexpected("MGET")
            }
            nearCache.finishRead(keys, values: values, ticket: ticket)
            return values
        case .failure(let error):
            nearCache.abandonRead(keys, ticket: ticket)
            if error.code == .timeout { nearCache.giveUp(connection) }
        }
        nearCache.countUncachedRead(keys.count)
        return try await uncachedMget(keys, slot: slot)
    }

    /// An error reply to a read on a tracking connection. A `MOVED` updates the slot map (which flushes the near
    /// cache); the caller then repeats the read the ordinary way, which follows redirections, retries, and throws
    /// genuine errors (`WRONGTYPE`) with their usual message.
    private func trackedReadRefused(_ text: ByteBuffer) {
        guard case .cluster(let router) = router else { return }
        let message = String(buffer: text)
        if message.hasPrefix("MOVED "), let redirection = ClusterRedirection(message[...], defaultHost: "") {
            router.moved(redirection)
        }
    }

    private func trackingConnection(forKey key: String, _ nearCache: TrackedNearCache) async -> RoostConnection? {
        await trackingConnection(forSlot: isCluster ? keySlot(key) : nil, nearCache)
    }

    /// The tracking connection of the node serving `slot` (the primary; the one node in standalone mode).
    private func trackingConnection(forSlot slot: Int?, _ nearCache: TrackedNearCache) async -> RoostConnection? {
        let pool: NodePool
        switch router {
        case .standalone(let standalone):
            pool = standalone
        case .cluster(let router):
            guard let primary = try? await router.pool(forSlot: slot, replica: false) else { return nil }
            pool = primary
        }
        return await nearCache.trackingConnection(host: pool.host, port: pool.port)
    }

    /// Runs a write of `keys` and then invalidates them in the near cache (whether the write succeeded or not: a
    /// failed write may still have run), so that this client never reads an older value back from local memory.
    func invalidatingNearCache<Result>(
        _ keys: @autoclosure () -> [String], _ body: () async throws(RoostClientError) -> Result
    ) async throws(RoostClientError) -> Result {
        guard let nearCache else { return try await body() }
        defer { nearCache.invalidateLocally(keys()) }
        return try await body()
    }
}
