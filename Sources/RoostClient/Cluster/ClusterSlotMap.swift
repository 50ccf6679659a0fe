import NIOCore
import RoostProtocol

/// Which node serves each of the 16384 hash slots, as the client last learned it.
///
/// Built from `CLUSTER SHARDS` (Redis 7) or, from older servers, `CLUSTER SLOTS`, and patched in place by
/// `MOVED` redirections until the next refresh. A value type: the client swaps whole maps under a lock.
struct ClusterSlotMap: Sendable, Equatable {
    /// A node's address.
    struct Node: Hashable, Sendable, CustomStringConvertible {
        var host: String
        var port: Int
        /// `host:port`.
        var description: String { "\(host):\(port)" }
    }

    /// A primary and its replicas.
    struct Shard: Equatable, Sendable {
        var primary: Node
        /// Replicas that can serve reads (those not marked failed).
        var replicas: [Node]
    }

    /// The shards, in the order the server listed them (plus any added by ``moved(slot:to:)``).
    var shards: [Shard] = []
    /// For each slot, an index into ``shards``, or -1 when no node serves it.
    var slotOwners = [Int16](repeating: -1, count: 16384)

    /// The shard serving `slot`, if any.
    func shard(forSlot slot: Int) -> Shard? {
        let index = Int(slotOwners[slot])
        return index >= 0 ? shards[index] : nil
    }

    /// Every node, primaries first.
    var nodes: [Node] { shards.map(\.primary) + shards.flatMap(\.replicas) }

    /// Records a `MOVED`: `slot` is now served by `node` as a primary.
    mutating func moved(slot: Int, to node: Node) {
        if let index = shards.firstIndex(where: { $0.primary == node }) {
            slotOwners[slot] = Int16(index)
        } else {
            shards.append(Shard(primary: node, replicas: []))
            slotOwners[slot] = Int16(shards.count - 1)
        }
    }

    /// A malformed topology reply.
    struct ParseError: Error, Equatable {
        var message: String
    }

    /// Reads a `CLUSTER SHARDS` reply. Each shard is a map (a flat array in RESP2) with `slots`, a flat list of
    /// inclusive start/end pairs, and `nodes`, each a map with `ip`, `endpoint`, `port`, `role` and `health`. The
    /// primary is the node whose role is `master` and which is not failed; replicas not failed serve reads. An
    /// endpoint of `?` or an empty one falls back to `ip`, then to `defaultHost` (the node that answered).
    static func fromShards(_ reply: RESPValue, defaultHost: String) throws(ParseError) -> ClusterSlotMap {
        guard let shards = reply.elements else { throw ParseError(message: "CLUSTER SHARDS: not an array") }
        var map = ClusterSlotMap()
        for shardValue in shards {
            guard let fields = shardValue.fields, let slots = fields["slots"]?.elements,
                let nodes = fields["nodes"]?.elements
            else { throw ParseError(message: "CLUSTER SHARDS: a shard without slots or nodes") }
            var primary: Node?
            var failedPrimary: Node?
            var replicas: [Node] = []
            for nodeValue in nodes {
                guard let node = nodeValue.fields, let port = node["port"]?.integer else {
                    throw ParseError(message: "CLUSTER SHARDS: a node without a port")
                }
                var host = node["endpoint"]?.text ?? ""
                if host.isEmpty || host == "?" { host = node["ip"]?.text ?? "" }
                if host.isEmpty || host == "?" { host = defaultHost }
                let address = Node(host: host, port: Int(port))
                let health = node["health"]?.text ?? "online"
                if node["role"]?.text == "master" {
                    if health == "fail" { failedPrimary = address } else { primary = address }
                } else if health != "fail" {
                    // Redis 7.0 reports `loading` for any replica at offset 0, which is every replica of a shard
                    // never written to; a replica that really is loading answers `LOADING`, and the read is
                    // retried on the primary.
                    replicas.append(address)
                }
            }
            guard let owner = primary ?? failedPrimary else { continue }  // a shard that lost its primary
            guard slots.count % 2 == 0 else { throw ParseError(message: "CLUSTER SHARDS: odd slot list") }
            let index = Int16(map.shards.count)
            map.shards.append(Shard(primary: owner, replicas: replicas))
            for pair in stride(from: 0, to: slots.count, by: 2) {
                guard let start = slots[pair].integer, let end = slots[pair + 1].integer, 0 <= start,
                    start <= end, end < 16384
                else { throw ParseError(message: "CLUSTER SHARDS: invalid slot range") }
                for slot in Int(start)...Int(end) { map.slotOwners[slot] = index }
            }
        }
        return map
    }

    /// Reads a `CLUSTER SLOTS` reply: entries `[start, end, primary, replica…]`, each node `[host, port, id, …]`.
    /// An empty host means the node that answered (`defaultHost`).
    static func fromSlots(_ reply: RESPValue, defaultHost: String) throws(ParseError) -> ClusterSlotMap {
        guard let entries = reply.elements else { throw ParseError(message: "CLUSTER SLOTS: not an array") }
        var map = ClusterSlotMap()
        for entry in entries {
            guard let parts = entry.elements, parts.count >= 3, let start = parts[0].integer,
                let end = parts[1].integer, 0 <= start, start <= end, end < 16384
            else { throw ParseError(message: "CLUSTER SLOTS: invalid entry") }
            var nodes: [Node] = []
            for nodeValue in parts[2...] {
                guard let node = nodeValue.elements, node.count >= 2, let port = node[1].integer else {
                    throw ParseError(message: "CLUSTER SLOTS: invalid node")
                }
                var host = node[0].text ?? ""
                if host.isEmpty || host == "?" { host = defaultHost }
                nodes.append(Node(host: host, port: Int(port)))
            }
            let index: Int
            if let existing = map.shards.firstIndex(where: { $0.primary == nodes[0] }) {
                index = existing
            } else {
                index = map.shards.count
                map.shards.append(Shard(primary: nodes[0], replicas: Array(nodes.dropFirst())))
            }
            for slot in Int(start)...Int(end) { map.slotOwners[slot] = Int16(index) }
        }
        return map
    }
}

extension RESPValue {
    /// The elements of an array, set or push.
    var elements: [RESPValue]? {
        switch self {
        case .array(let elements?), .set(let elements), .push(let elements): elements
        default: nil
        }
    }

    /// A map's (or a RESP2 flat key/value array's) entries keyed by their text.
    var fields: [String: RESPValue]? {
        var result: [String: RESPValue] = [:]
        switch self {
        case .map(let pairs):
            for pair in pairs { if let key = pair.key.text { result[key] = pair.value } }
        case .array(let elements?) where elements.count % 2 == 0:
            for index in stride(from: 0, to: elements.count, by: 2) {
                if let key = elements[index].text { result[key] = elements[index + 1] }
            }
        default:
            return nil
        }
        return result
    }

    /// The text of a simple, bulk or verbatim string.
    var text: String? {
        switch self {
        case .simpleString(let bytes), .bulkString(let bytes?), .verbatimString(_, let bytes): String(buffer: bytes)
        default: nil
        }
    }

    /// An integer reply (or a string holding one).
    var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: text.flatMap { Int64($0) }
        default: nil
        }
    }
}
