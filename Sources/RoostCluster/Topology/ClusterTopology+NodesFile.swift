extension ClusterTopology {
    /// The `CLUSTER NODES` lines of this view, `myself` first, then the others in ID order.
    ///
    /// `excludingHandshake` leaves out nodes still in handshake, as Redis does when it saves `nodes.conf`.
    public func nodesLines(excludingHandshake: Bool = false) -> [ClusterNodesLine] {
        let others = nodes.values.filter { $0.id != myself }.sorted { $0.id < $1.id }
        return ([myselfNode] + others).compactMap { node in
            if excludingHandshake && node.flags.contains(.handshake) { return nil }
            let isMyself = node.id == myself
            return ClusterNodesLine(
                node: node, slots: slots.ranges(of: node.id), migrating: isMyself ? slots.migrating : [:],
                importing: isMyself ? slots.importing : [:])
        }
    }

    /// The reply of `CLUSTER NODES`: one line per node, each ending in `\n`.
    public var nodesDescription: String {
        nodesLines().map { text(of: $0) + "\n" }.joined()
    }

    /// The contents of `nodes.conf` as Redis 7.0 writes it: the nodes (without those in handshake), then
    /// `vars currentEpoch <n> lastVoteEpoch <n>`.
    public var nodesFile: String {
        nodesLines(excludingHandshake: true).map { text(of: $0) + "\n" }.joined()
            + "vars currentEpoch \(currentEpoch) lastVoteEpoch \(lastVoteEpoch)\n"
    }

    /// A replica shows its primary's config epoch when the primary is known, as Redis does.
    private func text(of line: ClusterNodesLine) -> String {
        var epoch = line.node.configEpoch
        if line.node.flags.contains(.replica), let primary = line.node.primaryID, let known = nodes[primary] {
            epoch = known.configEpoch
        }
        return line.text(configEpoch: epoch)
    }

    /// Why a `nodes.conf` could not be loaded.
    public struct NodesFileError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The 1-based line number, or 0 for a problem with the file as a whole.
        public var line: Int
        /// What is wrong.
        public var message: String
        /// `line N: message`.
        public var description: String { line > 0 ? "line \(line): \(message)" : message }
    }

    /// Loads a view from a `nodes.conf` written by Roost or by Redis 7.x, so a restarted node rejoins as itself.
    ///
    /// Blank lines are skipped; `vars` lines set `currentEpoch` and `lastVoteEpoch` (unknown variables are
    /// ignored); every other line must parse as ``ClusterNodesLine``. Exactly one node must carry the `myself`
    /// flag. A node listed twice keeps its last line. Slots listed for a node are assigned to it; the moves of
    /// the `myself` line are restored. Times and link states are kept as written; the caller resets what a fresh
    /// process should not believe (see ``resetLinksAfterRestart(now:)``).
    public init(nodesFile contents: some StringProtocol) throws(NodesFileError) {
        let text = Substring(contents)
        var currentEpoch: UInt64 = 0
        var lastVoteEpoch: UInt64 = 0
        var lines: [ClusterNodesLine] = []
        var myselfLine: ClusterNodesLine?
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingSpaces
            if line.isEmpty { continue }
            let fields = line.split(separator: " ")
            if fields[0] == "vars" {
                guard fields.count % 2 == 1 else { throw NodesFileError(line: number + 1, message: "odd vars line") }
                for index in stride(from: 1, to: fields.count, by: 2) {
                    let value = UInt64(fields[index + 1])
                    switch fields[index] {
                    case "currentEpoch": currentEpoch = try Self.epoch(value, line: number + 1)
                    case "lastVoteEpoch": lastVoteEpoch = try Self.epoch(value, line: number + 1)
                    default: break
                    }
                }
                continue
            }
            let parsed: ClusterNodesLine
            do throws(ClusterNodesLine.ParseError) {
                parsed = try ClusterNodesLine(parsing: line)
            } catch {
                throw NodesFileError(line: number + 1, message: error.message)
            }
            if parsed.node.flags.contains(.myself) {
                if let earlier = myselfLine, earlier.node.id != parsed.node.id {
                    throw NodesFileError(line: number + 1, message: "more than one node is flagged myself")
                }
                myselfLine = parsed
            }
            lines.append(parsed)
        }
        guard let myselfLine else { throw NodesFileError(line: 0, message: "no node is flagged myself") }
        self.init(myself: myselfLine.node, currentEpoch: currentEpoch, lastVoteEpoch: lastVoteEpoch)
        for line in lines {
            upsert(line.node)
            slots.assign(SlotSet(line.slots), to: line.node.id)
        }
        for (slot, target) in myselfLine.migrating { slots.setMigrating(slot, to: target) }
        for (slot, source) in myselfLine.importing { slots.setImporting(slot, from: source) }
        observeCurrentEpoch(maximumEpoch)
    }

    private static func epoch(_ value: UInt64?, line: Int) throws(NodesFileError) -> UInt64 {
        guard let value else { throw NodesFileError(line: line, message: "invalid epoch in vars line") }
        return value
    }

    /// After loading `nodes.conf` in a new process: no link is up and no ping is outstanding yet, so every other
    /// node is `disconnected` with `ping-sent` 0, and its last pong counts as `now` (Redis does the same, so that
    /// a restart does not by itself mark everyone as failing).
    public mutating func resetLinksAfterRestart(now: Int64) {
        for id in nodes.keys where id != myself {
            nodes[id]!.linkState = .disconnected
            nodes[id]!.pingSent = 0
            if nodes[id]!.pongReceived != 0 { nodes[id]!.pongReceived = now }
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while let last = result.last, last == " " || last == "\r" || last == "\t" { result = result.dropLast() }
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        return result
    }
}
