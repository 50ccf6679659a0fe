public import RoostCluster

/// A node's address as given on the command line: `HOST:PORT`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The host name or address.
    public var host: String
    /// The client port.
    public var port: Int

    /// An endpoint from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (the port after the last colon; `[::1]:7000` and `::1:7000` both work for IPv6).
    public init?(_ text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    /// `host:port`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The pure parts of the cluster commands: slot plans, slot maps and the comparisons `check` makes.
public enum ClusterPlan {
    /// The number of hash slots.
    public static let slotCount = clusterSlotCount

    /// Splits the slots into `primaries` contiguous ranges as `redis-cli --cluster create` does (the same
    /// boundaries: 0-5460, 5461-10922, 10923-16383 for three).
    public static func slotRanges(primaries: Int) -> [ClosedRange<Int>] {
        precondition(primaries > 0 && primaries <= slotCount)
        let perNode = Double(slotCount) / Double(primaries)
        var ranges: [ClosedRange<Int>] = []
        var first = 0
        var cursor = 0.0
        for index in 0..<primaries {
            var last = Int((cursor + perNode - 1).rounded(.toNearestOrAwayFromZero))
            if last > slotCount - 1 || index == primaries - 1 { last = slotCount - 1 }
            if last < first { last = first }
            ranges.append(first...last)
            first = last + 1
            cursor += perNode
        }
        return ranges
    }

    /// The owner of every slot in one node's `CLUSTER NODES` view (nil where unassigned).
    public static func owners(_ lines: [ClusterNodesLine]) -> [NodeID?] {
        var owners = [NodeID?](repeating: nil, count: slotCount)
        for line in lines {
            for range in line.slots {
                for slot in range { owners[slot] = line.node.id }
            }
        }
        return owners
    }

    /// Maximal runs of slots for which `predicate` holds, in order.
    public static func ranges(where predicate: (Int) -> Bool) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        var start: Int?
        for slot in 0..<slotCount {
            if predicate(slot) {
                if start == nil { start = slot }
            } else if let first = start {
                ranges.append(first...(slot - 1))
                start = nil
            }
        }
        if let first = start { ranges.append(first...(slotCount - 1)) }
        return ranges
    }

    /// Ranges as `0-5460,5461` (Redis's notation).
    public static func describe(_ ranges: [ClosedRange<Int>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }

    /// Parses a whole `CLUSTER NODES` reply.
    public static func parseNodes(_ text: String) throws(ClusterNodesLine.ParseError) -> [ClusterNodesLine] {
        var lines: [ClusterNodesLine] = []
        for line in text.split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
            lines.append(try ClusterNodesLine(parsing: line))
        }
        return lines
    }

    /// A `CLUSTER INFO` reply as fields (`cluster_state` → `ok`).
    public static func parseInfo(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
                .trimmingCharacters(in: " \r")
        }
        return fields
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(view)
    }
}
