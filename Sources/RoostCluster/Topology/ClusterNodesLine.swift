/// One line of `CLUSTER NODES` (and of `nodes.conf`), as Redis 7.0 writes it:
///
/// ```
/// <id> <ip:port@cport[,hostname]> <flags> <primary|-> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
/// ```
///
/// Slots are single numbers or inclusive `start-end` ranges; the `myself` line also lists the slots it is moving,
/// `[slot->-target]` for migrating and `[slot-<-source]` for importing.
public struct ClusterNodesLine: Hashable, Sendable {
    /// The node's record.
    public var node: ClusterNode
    /// The slots it serves, as ranges.
    public var slots: [ClosedRange<Int>]
    /// Slots being migrated to another node (only on the `myself` line).
    public var migrating: [Int: NodeID]
    /// Slots being imported from another node (only on the `myself` line).
    public var importing: [Int: NodeID]

    /// A line from its parts.
    public init(
        node: ClusterNode, slots: [ClosedRange<Int>] = [], migrating: [Int: NodeID] = [:],
        importing: [Int: NodeID] = [:]
    ) {
        self.node = node
        self.slots = slots
        self.migrating = migrating
        self.importing = importing
    }

    /// The line, without a line terminator.
    ///
    /// `configEpoch` is the epoch to show: Redis shows a replica's primary's config epoch, which only the
    /// topology knows; by default the node's own.
    public func text(configEpoch: UInt64? = nil) -> String {
        var text = node.id.description
        text += " \(node.ip):\(node.port)@\(node.busPort)"
        if !node.hostname.isEmpty { text += ",\(node.hostname)" }
        text += " \(node.flags.text) \(node.primaryID?.description ?? "-")"
        text += " \(node.pingSent) \(node.pongReceived) \(configEpoch ?? node.configEpoch)"
        let connected = node.linkState == .connected || node.flags.contains(.myself)
        text += connected ? " connected" : " disconnected"
        for range in slots {
            text +=
                range.lowerBound == range.upperBound
                ? " \(range.lowerBound)" : " \(range.lowerBound)-\(range.upperBound)"
        }
        for slot in Set(migrating.keys).union(importing.keys).sorted() {
            if let target = migrating[slot] {
                text += " [\(slot)->-\(target)]"
            } else if let source = importing[slot] {
                text += " [\(slot)-<-\(source)]"
            }
        }
        return text
    }

    /// Why a line could not be read.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong, naming the field.
        public var message: String
        /// The text of the error.
        public var description: String { message }
    }

    /// Parses a line as Redis 7.0 writes it, tolerating what other versions add: a missing `@cport` (the bus port
    /// is then `port + 10000`), auxiliary `key=value` fields after the hostname (Redis 7.2), unknown flag names and
    /// runs of spaces. The ping and pong times are taken as written.
    public init(parsing text: some StringProtocol) throws(ParseError) {
        let line = Substring(text)
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard fields.count >= 8 else { throw ParseError(message: "expected at least 8 fields, got \(fields.count)") }
        guard let id = NodeID(fields[0]) else { throw ParseError(message: "invalid node ID '\(fields[0])'") }
        let address = try Self.parseAddress(fields[1])
        let primary: NodeID?
        if fields[3] == "-" {
            primary = nil
        } else if let parsed = NodeID(fields[3]) {
            primary = parsed
        } else {
            throw ParseError(message: "invalid primary ID '\(fields[3])'")
        }
        guard let pingSent = Int64(fields[4]), let pongReceived = Int64(fields[5]) else {
            throw ParseError(message: "invalid ping or pong time '\(fields[4]) \(fields[5])'")
        }
        guard let configEpoch = UInt64(fields[6]) else { throw ParseError(message: "invalid epoch '\(fields[6])'") }
        let node = ClusterNode(
            id: id, ip: address.ip, port: address.port, busPort: address.busPort, hostname: address.hostname,
            flags: ClusterNode.Flags(text: fields[2]), primaryID: primary, pingSent: pingSent,
            pongReceived: pongReceived, configEpoch: configEpoch,
            linkState: fields[7] == "connected" ? .connected : .disconnected)
        self.init(node: node)
        for field in fields.dropFirst(8) { try parseSlotField(field) }
    }

    private static func parseAddress(
        _ field: Substring
    ) throws(ParseError) -> (ip: String, port: Int, busPort: Int, hostname: String) {
        var endpoint = field
        var hostname = ""
        if let comma = field.firstIndex(of: ",") {
            endpoint = field[..<comma]
            let extras = field[field.index(after: comma)...].split(separator: ",", omittingEmptySubsequences: false)
            if let first = extras.first, !first.contains("=") { hostname = String(first) }
        }
        guard let colon = endpoint.lastIndex(of: ":") else { throw ParseError(message: "invalid address '\(field)'") }
        let ports = endpoint[endpoint.index(after: colon)...]
        let portText = ports.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard let port = Int(portText[0]), (0...65535).contains(port) else {
            throw ParseError(message: "invalid port in '\(field)'")
        }
        var busPort = port + 10000
        if portText.count == 2 {
            guard let parsed = Int(portText[1]), (0...65535).contains(parsed) else {
                throw ParseError(message: "invalid bus port in '\(field)'")
            }
            busPort = parsed
        }
        return (String(endpoint[..<colon]), port, busPort, hostname)
    }

    private mutating func parseSlotField(_ field: Substring) throws(ParseError) {
        if field.first == "[" {
            guard field.last == "]" else { throw ParseError(message: "invalid slot move '\(field)'") }
            let inner = field.dropFirst().dropLast()
            for (marker, isMigrating) in [("->-", true), ("-<-", false)] {
                guard let range = inner.firstRange(of: marker) else { continue }
                guard let slot = Int(inner[..<range.lowerBound]), (0..<clusterSlotCount).contains(slot),
                    let other = NodeID(inner[range.upperBound...])
                else { throw ParseError(message: "invalid slot move '\(field)'") }
                if isMigrating { migrating[slot] = other } else { importing[slot] = other }
                return
            }
            throw ParseError(message: "invalid slot move '\(field)'")
        }
        let bounds = field.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let start = Int(bounds[0]), let end = bounds.count == 2 ? Int(bounds[1]) : start,
            0 <= start, start <= end, end < clusterSlotCount
        else { throw ParseError(message: "invalid slot or slot range '\(field)'") }
        slots.append(start...end)
    }
}
