/// A reply of a `CLUSTER` subcommand as plain data, for the command layer to encode in RESP2 or RESP3.
///
/// Maps are written as RESP3 maps, or in RESP2 as flat arrays of alternating keys and values, as Redis does.
public enum ClusterReplyValue: Hashable, Sendable {
    /// An integer (`:`).
    case integer(Int)
    /// A bulk string (`$`).
    case bulkString(String)
    /// An array (`*`).
    case array([ClusterReplyValue])
    /// A map (`%` in RESP3), keys in order.
    case map([Field])

    /// One key and value of a map.
    public struct Field: Hashable, Sendable {
        /// The key, sent as a bulk string.
        public var key: String
        /// The value.
        public var value: ClusterReplyValue

        /// A field.
        public init(_ key: String, _ value: ClusterReplyValue) {
            self.key = key
            self.value = value
        }
    }
}

/// Which address `CLUSTER SLOTS`, `SHARDS` and redirections name first (`cluster-preferred-endpoint-type`).
public enum PreferredEndpointType: String, Hashable, Sendable {
    /// The node's IP address (the default).
    case ip
    /// The announced hostname, `?` when a node has none.
    case hostname
    /// `?`: clients reuse the address they connected to.
    case unknownEndpoint = "unknown-endpoint"
}

extension ClusterTopology {
    /// The preferred endpoint of `node`: its IP, its hostname (`?` if it has none) or `?`.
    public func preferredEndpoint(of node: ClusterNode, type: PreferredEndpointType = .ip) -> String {
        switch type {
        case .ip: node.ip
        case .hostname: node.hostname.isEmpty ? "?" : node.hostname
        case .unknownEndpoint: "?"
        }
    }

    /// The reply of `CLUSTER SLOTS` (Redis 7.0): for each run of consecutive slots served by one primary, in slot
    /// order, `[start, end, primary, replica...]`, where each node is `[endpoint, port, id, {metadata}]`. The
    /// metadata map holds the networking information that is not the preferred endpoint (`ip` unless the IP is
    /// preferred, `hostname` if set and not preferred). Failed replicas are left out.
    public func slotsReply(preferredEndpoint type: PreferredEndpointType = .ip) -> ClusterReplyValue {
        var entries: [ClusterReplyValue] = []
        for run in slots.assignedRuns {
            guard let primary = nodes[run.owner] else { continue }
            var entry: [ClusterReplyValue] = [.integer(run.range.lowerBound), .integer(run.range.upperBound)]
            entry.append(slotsNodeEntry(primary, type: type))
            for replica in replicas(of: primary.id) where !replica.isFailed {
                entry.append(slotsNodeEntry(replica, type: type))
            }
            entries.append(.array(entry))
        }
        return .array(entries)
    }

    private func slotsNodeEntry(_ node: ClusterNode, type: PreferredEndpointType) -> ClusterReplyValue {
        var metadata: [ClusterReplyValue.Field] = []
        if type != .ip { metadata.append(.init("ip", .bulkString(node.ip))) }
        if type != .hostname && !node.hostname.isEmpty {
            metadata.append(.init("hostname", .bulkString(node.hostname)))
        }
        return .array([
            .bulkString(preferredEndpoint(of: node, type: type)), .integer(node.port),
            .bulkString(node.id.description), .map(metadata),
        ])
    }

    /// The reply of `CLUSTER SHARDS` (Redis 7.0): one map per primary, `slots` (a flat list of inclusive
    /// start/end pairs, empty for a primary without slots) and `nodes` (the primary, then its replicas), each node
    /// a map of `id`, `port`, `ip`, `endpoint`, `hostname` (if set), `role` (`master` or `replica`),
    /// `replication-offset` and `health` (`fail`, `loading` for a replica at offset 0, else `online`).
    ///
    /// Shards are in primary-ID order; `replicationOffset` supplies each node's offset (0 when unknown).
    public func shardsReply(
        preferredEndpoint type: PreferredEndpointType = .ip, replicationOffset: (NodeID) -> Int = { _ in 0 }
    ) -> ClusterReplyValue {
        let primaries = nodes.values.filter { $0.isPrimary }.sorted { $0.id < $1.id }
        return .array(
            primaries.map { primary in
                let ranges = slots.ranges(of: primary.id).flatMap { [$0.lowerBound, $0.upperBound] }
                let members = [primary] + replicas(of: primary.id)
                return .map([
                    .init("slots", .array(ranges.map { .integer($0) })),
                    .init(
                        "nodes",
                        .array(
                            members.map {
                                shardsNodeEntry($0, type: type, offset: replicationOffset($0.id))
                            })),
                ])
            })
    }

    private func shardsNodeEntry(_ node: ClusterNode, type: PreferredEndpointType, offset: Int) -> ClusterReplyValue {
        var fields: [ClusterReplyValue.Field] = [
            .init("id", .bulkString(node.id.description)), .init("port", .integer(node.port)),
            .init("ip", .bulkString(node.ip)),
            .init("endpoint", .bulkString(preferredEndpoint(of: node, type: type))),
        ]
        if !node.hostname.isEmpty { fields.append(.init("hostname", .bulkString(node.hostname))) }
        let isReplica = node.flags.contains(.replica)
        fields.append(.init("role", .bulkString(isReplica ? "replica" : "master")))
        fields.append(.init("replication-offset", .integer(offset)))
        let health = node.isFailed ? "fail" : isReplica && offset == 0 ? "loading" : "online"
        fields.append(.init("health", .bulkString(health)))
        return .map(fields)
    }
}
