extension Keyspace {
    /// Chooses the eviction policy and the memory limit (bytes of ``estimatedMemory``; 0 means none); `now` stamps
    /// the keys the new policy starts with.
    ///
    /// A new policy starts from the keys stored now: each live key is reported to it as inserted, in slot order (so a
    /// FIFO-based policy sees them as equally old), with its size and time to live.
    public mutating func configureEviction(
        _ kind: EvictionState.Kind,
        maxMemory: Int,
        sampling: SampledEviction.Configuration = SampledEviction.Configuration(),
        now: Int64
    ) {
        self.maxMemory = maxMemory
        let capacity = maxMemory > 0 ? maxMemory : Int.max
        if kind == eviction.kind && sampling == evictionSampling {
            eviction.capacity = capacity
            return
        }
        evictionSampling = sampling
        var state = EvictionState(kind, capacity: capacity, expectedCount: max(count, 1024), sampling: sampling)
        state.advanceClock(to: now)
        for index in 0..<Int32(slots.highWater) where slots[index].record != nil {
            let record = record(index)
            state.inserted(index, hash: UInt64(slots[index].hash), size: record.footprint)
            if record.hasExpiry { state.expiryChanged(index, at: record.expireAt) }
        }
        eviction = state
    }

    /// Evicts keys chosen by the policy until ``estimatedMemory`` is within ``maxMemory``. Returns false when it is
    /// still over the limit and the policy has nothing it may evict (`noeviction`, or a `volatile-*` policy with no
    /// key carrying a TTL): a command that would use more memory must then be refused (Redis's `-OOM`).
    ///
    /// Expired keys are reclaimed first when they are chosen, and counted as expired, not evicted.
    @discardableResult
    public mutating func enforceMemoryLimit(now: Int64) -> Bool {
        guard maxMemory > 0 else { return true }
        eviction.advanceClock(to: now)
        guard estimatedMemory > maxMemory else { return true }
        // The policy sizes its queues (S3-FIFO's small queue and ghost, W-TinyLFU's window) against the bytes the
        // entries may have: the limit less what the table and the policy itself hold.
        eviction.capacity = max(1, maxMemory - (estimatedMemory - recordBytes))
        while estimatedMemory > maxMemory {
            guard let victim = eviction.victim() else { return false }
            let expired = record(victim).isExpired(at: now)
            removeSlot(victim, hash: slots[victim].hash, cause: expired ? .expired : .evicted)
            if expired {
                statistics.expiredKeys += 1
            } else {
                statistics.evictedKeys += 1
            }
        }
        return true
    }

    /// The access frequency the policy keeps for `key` (`OBJECT FREQ`), or nil when absent or not tracked.
    public func accessFrequency(of key: UnsafeRawBufferPointer) -> Int? {
        guard let slot = slotIndex(of: key) else { return nil }
        return eviction.frequency(of: slot)
    }
}
