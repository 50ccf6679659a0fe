extension Gossip {
    /// The queue of news waiting to be piggybacked: each item is sent a bounded number of times, those sent least
    /// first, newest first among equals. Newer news about the same thing replaces older news.
    ///
    /// Items sit in buckets by how often they were sent, so choosing a message's items costs O(items chosen).
    struct Dissemination: Sendable {
        /// What an item is about; one item per key is kept.
        enum Key: Hashable, Sendable {
            case alive(NodeID)
            case suspect(NodeID, reporter: NodeID)
            /// Another node's report, passed on as the rumor that the member is suspected (one per member).
            case suspicionRumor(NodeID)
            case failed(NodeID)
            case slots(NodeID)
        }

        private struct Entry: Sendable {
            var item: GossipItem
            var transmissions: Int
            var version: UInt32
        }

        private var entries: [Key: Entry] = [:]
        private var buckets: [[(key: Key, version: UInt32)]] = []
        private var nextVersion: UInt32 = 0

        /// The number of items waiting.
        var count: Int { entries.count }

        static func key(of item: GossipItem) -> Key {
            switch item {
            case .alive(let info): .alive(info.id)
            case .suspect(let subject, _, let reporter): .suspect(subject, reporter: reporter)
            case .failed(let subject, _): .failed(subject)
            case .slots(let owner, _, _): .slots(owner)
            }
        }

        /// Queues `item` to be sent afresh, replacing any item with the same key.
        mutating func enqueue(_ item: GossipItem) {
            enqueue(item, as: Self.key(of: item))
        }

        /// Whether an item with `key` is queued.
        func contains(_ key: Key) -> Bool { entries[key] != nil }

        /// Queues `item` under `key`, replacing any item with that key.
        mutating func enqueue(_ item: GossipItem, as key: Key) {
            nextVersion &+= 1
            entries[key] = Entry(item: item, transmissions: 0, version: nextVersion)
            if buckets.isEmpty { buckets.append([]) }
            buckets[0].append((key, nextVersion))
        }

        /// Drops the item with `key`, if queued.
        mutating func remove(_ key: Key) {
            entries.removeValue(forKey: key)
        }

        /// Drops every suspicion of `subject` (once it is failed or refuted they are noise).
        mutating func removeSuspicions(of subject: NodeID) {
            entries.removeValue(forKey: .suspicionRumor(subject))
            for key in entries.keys {
                if case .suspect(subject, _) = key { entries.removeValue(forKey: key) }
            }
        }

        /// Takes items for one message: up to `maximumItems` and `maximumBytes` (at least one item if any is
        /// queued), each sent at most `limit` times in all.
        mutating func take(maximumItems: Int, maximumBytes: Int, limit: Int) -> [GossipItem] {
            var chosen: [(key: Key, version: UInt32, transmissions: Int)] = []
            var items: [GossipItem] = []
            var bytes = 0
            var bucket = 0
            scan: while bucket < buckets.count && items.count < maximumItems {
                while let candidate = buckets[bucket].popLast() {
                    guard let entry = entries[candidate.key], entry.version == candidate.version,
                        entry.transmissions == bucket
                    else { continue }
                    let size = BusFrame.encodedLength(of: entry.item)
                    if !items.isEmpty && bytes + size > maximumBytes {
                        buckets[bucket].append(candidate)
                        break scan
                    }
                    bytes += size
                    items.append(entry.item)
                    chosen.append((candidate.key, candidate.version, bucket + 1))
                    if items.count == maximumItems { break scan }
                }
                bucket += 1
            }
            for pick in chosen {
                if pick.transmissions >= limit {
                    entries.removeValue(forKey: pick.key)
                    continue
                }
                entries[pick.key]!.transmissions = pick.transmissions
                while buckets.count <= pick.transmissions { buckets.append([]) }
                buckets[pick.transmissions].append((pick.key, pick.version))
            }
            compactIfSparse()
            return items
        }

        /// Drops stale bucket references when they outnumber live entries (replaced and removed items leave
        /// them behind).
        private mutating func compactIfSparse() {
            let references = buckets.reduce(0) { $0 + $1.count }
            guard references > 64 && references > 4 * entries.count else { return }
            var fresh: [[(key: Key, version: UInt32)]] = Array(repeating: [], count: buckets.count)
            for bucket in buckets {
                for reference in bucket {
                    guard let entry = entries[reference.key], entry.version == reference.version else { continue }
                    fresh[entry.transmissions].append(reference)
                }
            }
            buckets = fresh
        }
    }
}
