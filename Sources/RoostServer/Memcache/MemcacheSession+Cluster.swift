import NIOCore
import RoostCluster

/// Where a node's memcached port is, and which node a key's request goes to, in cluster mode.
struct MemcacheNode: Sendable, Hashable {
    let host: String
    let port: Int
}

/// A request for another node: its bytes, how its response is framed, and whether the client waits for it.
struct MemcacheForwardedRequest {
    var node: MemcacheNode
    /// The request's exact bytes; followed by `mn` when ``endsWithNoop``.
    var bytes: ByteBuffer
    var expectation: MemcacheResponseReader.Expectation
    /// `mn` was appended (a reply may be suppressed): the response ends with the `MN` line, which is not relayed.
    var endsWithNoop: Bool
    /// Whether the client is owed a reply (false for text `noreply`: the request is sent and not waited for).
    var waits: Bool
}

/// A multi-key retrieval whose keys live on several nodes: the local part has run; the rest is forwarded, one
/// request per node, and the answers are merged in the order of the request's keys (``MemcacheSession/merge``).
struct MemcacheSplitRetrieval {
    /// The request's keys, in order.
    var keys: [ByteBuffer]
    /// For each key, which part holds it: 0 is the local part, `n` is `remote[n - 1]`.
    var parts: [Int]
    /// The local part's `VALUE` blocks and `END`.
    var local: ByteBuffer
    /// One `get`-family request per other node.
    var remote: [MemcacheForwardedRequest]
}

/// What the connection does with a request in cluster mode.
enum MemcacheRoute {
    /// Execute it here.
    case local
    /// The session has already answered it (for example `SERVER_ERROR cluster is down`).
    case answered
    /// Forward it to the node owning its key.
    case forward(MemcacheForwardedRequest)
    /// Forward the parts of a retrieval that other nodes own and merge.
    case split(MemcacheSplitRetrieval)
}

extension MemcacheSession {
    static let clusterDown = "SERVER_ERROR cluster is down"
    static let forwardingFailed = "SERVER_ERROR forwarding failed"

    /// Every node's memcached port is its RESP port plus this offset (this node's memcached port minus its RESP
    /// port); `nil` before the ports are known.
    var memcachedPortOffset: Int? {
        let resp = server.boundPort.load(ordering: .relaxed)
        guard resp > 0, service.port > 0 else { return nil }
        return service.port - resp
    }

    /// Which node serves `key`: `nil` when this one does, `.failure` when the cluster cannot serve it.
    private func owner(of key: ByteBuffer, _ routing: ClusterRouting) -> Result<MemcacheNode?, MemcacheRouteError> {
        let slot = key.withUnsafeReadableBytes { keySlot($0) }
        guard let owner = routing.slots.owner(of: slot), routing.isOK, !routing.awaitingTakeover else {
            return .failure(MemcacheRouteError())
        }
        if owner == routing.myself { return .success(nil) }
        if carriesForwardedRequests { return .failure(MemcacheRouteError()) }
        guard let endpoint = routing.endpoints[owner], let colon = endpoint.lastIndex(of: ":"),
            let respPort = Int(endpoint[endpoint.index(after: colon)...]), let offset = memcachedPortOffset
        else { return .failure(MemcacheRouteError()) }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .success(MemcacheNode(host: host.isEmpty ? "127.0.0.1" : host, port: respPort + offset))
    }

    /// Decides where `request` runs. Outside cluster mode, and for keyless requests, always ``MemcacheRoute/local``.
    /// `bytes` are the request's exact bytes, as received.
    mutating func route(_ request: MemcacheRequest, bytes: ByteBuffer) -> MemcacheRoute {
        guard let cluster = server.cluster else { return .local }
        let routing = cluster.routing
        func single(_ key: ByteBuffer, _ expectation: MemcacheResponseReader.Expectation, quiet: Bool, waits: Bool)
            -> MemcacheRoute
        {
            switch owner(of: key, routing) {
            case .failure:
                if waits { line(Self.clusterDown) }
                return .answered
            case .success(nil):
                return .local
            case .success(let node?):
                var bytes = bytes
                if quiet { bytes.writeStaticString("mn\r\n") }
                return .forward(
                    MemcacheForwardedRequest(
                        node: node, bytes: bytes, expectation: quiet ? .untilNoop : expectation, endsWithNoop: quiet,
                        waits: waits))
            }
        }
        switch request {
        case .retrieve(let keys, let returnsCAS, let touch):
            return retrieval(keys, returnsCAS: returnsCAS, touch: touch, bytes: bytes, routing)
        case .store(let store): return single(store.key, .line, quiet: store.noreply, waits: !store.noreply)
        case .arithmetic(let key, _, _, let noreply): return single(key, .line, quiet: noreply, waits: !noreply)
        case .touch(let key, _, let noreply): return single(key, .line, quiet: noreply, waits: !noreply)
        case .delete(let key, let noreply): return single(key, .line, quiet: noreply, waits: !noreply)
        case .metaDebug(let key, _): return single(key, .meta, quiet: false, waits: true)
        case .metaGet(let key, let flags), .metaDelete(let key, let flags), .metaArithmetic(let key, let flags),
            .metaSet(let key, let flags, _):
            return single(key, .meta, quiet: flags.quiet, waits: true)
        case .tooLarge(let key, _, let noreply):
            // The data block was discarded while reading, so there is nothing to forward: answer here, and leave the
            // owner's old value alone.
            if case .success(nil) = owner(of: key, routing) { return .local }
            if !noreply { line("SERVER_ERROR object too large for cache") }
            return .answered
        default:
            return .local
        }
    }

    private mutating func retrieval(
        _ keys: [ByteBuffer], returnsCAS: Bool, touch: Int32?, bytes: ByteBuffer, _ routing: ClusterRouting
    ) -> MemcacheRoute {
        var nodes: [MemcacheNode] = []
        var parts: [Int] = []
        parts.reserveCapacity(keys.count)
        for key in keys {
            switch owner(of: key, routing) {
            case .failure:
                line(Self.clusterDown)
                return .answered
            case .success(nil):
                parts.append(0)
            case .success(let node?):
                if let index = nodes.firstIndex(of: node) {
                    parts.append(index + 1)
                } else {
                    nodes.append(node)
                    parts.append(nodes.count)
                }
            }
        }
        if nodes.isEmpty { return .local }
        if nodes.count == 1 && !parts.contains(0) {
            return .forward(
                MemcacheForwardedRequest(
                    node: nodes[0], bytes: bytes, expectation: .values, endsWithNoop: false, waits: true))
        }
        let verb = returnsCAS ? (touch == nil ? "gets" : "gats") : (touch == nil ? "get" : "gat")
        var remote: [MemcacheForwardedRequest] = []
        for (index, node) in nodes.enumerated() {
            var request = ByteBuffer()
            request.writeString(verb)
            if let touch { request.writeString(" \(touch)") }
            for (key, part) in zip(keys, parts) where part == index + 1 {
                request.writeStaticString(" ")
                request.writeImmutableBuffer(key)
            }
            request.writeStaticString("\r\n")
            remote.append(
                MemcacheForwardedRequest(
                    node: node, bytes: request, expectation: .values, endsWithNoop: false, waits: true))
        }
        let saved = out
        out = ByteBuffer()
        retrieve(zip(keys, parts).filter { $0.1 == 0 }.map(\.0), returnsCAS: returnsCAS, touch: touch)
        let local = out
        out = saved
        return .split(MemcacheSplitRetrieval(keys: keys, parts: parts, local: local, remote: remote))
    }

    /// Writes the merged answer of a split retrieval: every part's `VALUE` blocks in the order of the request's
    /// keys, then one `END`. `responses` are the remote parts' responses, `nil` for one that failed; any failure or
    /// error answer makes the whole reply `SERVER_ERROR forwarding failed`.
    mutating func merge(_ split: MemcacheSplitRetrieval, responses: [ByteBuffer?]) {
        var blocks: [[(key: ByteBuffer, block: ByteBuffer)]] = []
        for response in [split.local] + responses {
            guard let response, let parsed = MemcacheResponseReader.valueBlocks(response) else {
                line(Self.forwardingFailed)
                return
            }
            blocks.append(parsed)
        }
        var next = [Int](repeating: 0, count: blocks.count)
        for (key, part) in zip(split.keys, split.parts) {
            let index = next[part]
            guard index < blocks[part].count, blocks[part][index].key == key else { continue }
            out.writeImmutableBuffer(blocks[part][index].block)
            next[part] += 1
        }
        out.writeStaticString("END\r\n")
    }
}

/// The cluster cannot serve a key (no owner, down, or the owner's address unknown).
struct MemcacheRouteError: Error {}
