public import RoostCluster

/// A deterministic discrete-event simulation of N ``Gossip/Instance``s over a simulated network with loss, delay
/// and partitions. The same seed gives the same run.
///
/// Nodes start as a cluster freshly made by `redis-cli --cluster create`: every node knows every other, slots are
/// split evenly among the primaries (distinct config epochs 1...P), each replica follows one primary. Messages
/// are values; bus traffic is counted with ``BusFrame/encodedLength(of:)``, the size the real frames would have.
///
/// The simulation also plays the parts of the shell that failover needs: it feeds each node its replication
/// offset (``setReplicationOffset(_:on:)``) before every step, confirms a manual-failover write pause as soon as
/// a primary asks for one (with the node's offset as final), and keeps every node's failover events
/// (``failoverEvents``).
public struct ClusterSimulation {
    /// What to simulate.
    public struct Configuration: Sendable {
        /// Number of nodes.
        public var nodeCount: Int
        /// Replicas per primary (nodes are split into groups of `1 + replicasPerPrimary`).
        public var replicasPerPrimary: Int
        /// Protocol settings of every node.
        public var settings: Gossip.Settings
        /// Seed for the network and the nodes' generators.
        public var seed: UInt64
        /// Probability that a message is lost.
        public var loss: Double
        /// One-way delay, uniformly distributed, in milliseconds.
        public var delay: ClosedRange<Int64>

        /// A configuration.
        public init(
            nodeCount: Int, replicasPerPrimary: Int = 1, settings: Gossip.Settings = .init(nodeTimeout: 2_000),
            seed: UInt64 = 1, loss: Double = 0, delay: ClosedRange<Int64> = 1...5
        ) {
            self.nodeCount = nodeCount
            self.replicasPerPrimary = replicasPerPrimary
            self.settings = settings
            self.seed = seed
            self.loss = loss
            self.delay = delay
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// Node IDs, by node index.
    public let ids: [NodeID]
    /// The running instances; `nil` for a crashed node.
    public private(set) var nodes: [Gossip.Instance?]
    /// The current simulated time, in milliseconds.
    public private(set) var now: Int64 = 0
    /// Bus bytes sent by each node.
    public private(set) var bytesSent: [Int]
    /// Messages sent by each node.
    public private(set) var messagesSent: [Int]
    /// Each node's replication offset, fed to it before every step.
    public private(set) var replicationOffsets: [UInt64]
    /// Every node's failover events, in order.
    public private(set) var failoverEvents: [LoggedEvent] = []
    /// Whether each node's writes are paused for a manual failover (the simulated shell confirmed the pause).
    public private(set) var writesPaused: [Bool]

    /// A failover event of one node.
    public struct LoggedEvent: Sendable {
        /// When it happened.
        public var time: Int64
        /// The node's index.
        public var node: Int
        /// What happened.
        public var event: Gossip.Event
    }

    private var index: [NodeID: Int] = [:]
    private var partition: [Int]
    private var random: SplitMix64
    private var events = EventQueue()
    private var scheduledTick: [Int64]
    private var savedConfiguration: [String]

    /// Builds the cluster; nothing runs until ``run(until:)``.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
        var random = SplitMix64(seed: configuration.seed)
        let count = configuration.nodeCount
        let ids = (0..<count).map { _ in NodeID.random(using: &random) }
        self.ids = ids
        self.random = random
        self.partition = Array(repeating: 0, count: count)
        self.bytesSent = Array(repeating: 0, count: count)
        self.messagesSent = Array(repeating: 0, count: count)
        self.replicationOffsets = Array(repeating: 0, count: count)
        self.writesPaused = Array(repeating: false, count: count)
        self.scheduledTick = Array(repeating: .max, count: count)
        let group = 1 + configuration.replicasPerPrimary
        let primaries = (0..<count).filter { $0 % group == 0 }
        var template = ClusterTopology(myself: Self.record(0, ids: ids, group: group))
        for node in 1..<max(count, 1) { template.upsert(Self.record(node, ids: ids, group: group)) }
        for (rank, primary) in primaries.enumerated() {
            let lower = rank * clusterSlotCount / primaries.count
            let upper = (rank + 1) * clusterSlotCount / primaries.count - 1
            if lower <= upper { template.slots.assign(SlotSet([lower...upper]), to: ids[primary]) }
        }
        let shared = try! ClusterTopology(nodesFile: template.nodesFile)
        self.savedConfiguration = []
        self.nodes = []
        for node in 0..<count {
            let topology = Self.topology(from: shared, myself: ids[node])
            savedConfiguration.append(topology.nodesFile)
            nodes.append(
                Gossip.Instance(
                    topology: topology, settings: configuration.settings, seed: configuration.seed &+ UInt64(node),
                    now: Int64(node) * configuration.settings.protocolPeriod / Int64(max(count, 1))))
            index[ids[node]] = node
        }
        for node in 0..<count { schedule(node) }
    }

    private static func record(_ node: Int, ids: [NodeID], group: Int) -> ClusterNode {
        let primary = node - node % group
        var record = ClusterNode(
            id: ids[node], ip: "10.\(node >> 16).\((node >> 8) & 255).\(node & 255)", port: 7000,
            configEpoch: node == primary ? UInt64(node / group + 1) : 0)
        if node != primary { record.setRole(.replica(of: ids[primary])) }
        return record
    }

    /// The view of `myself` from the cluster-wide view read back from `nodes.conf`: the same nodes, `myself` moved.
    private static func topology(from shared: ClusterTopology, myself: NodeID) -> ClusterTopology {
        var view = ClusterTopology(myself: shared[myself]!, currentEpoch: shared.currentEpoch)
        for node in shared.nodes.values where node.id != myself { view.upsert(node) }
        view.slots = shared.slots
        return view
    }

    /// The index of `id`.
    public func index(of id: NodeID) -> Int { index[id]! }

    /// Whether node `node` is running.
    public func isUp(_ node: Int) -> Bool { nodes[node] != nil }

    /// The primary indices (nodes that were created as primaries).
    public var primaryIndices: [Int] {
        (0..<configuration.nodeCount).filter { $0 % (1 + configuration.replicasPerPrimary) == 0 }
    }

    // MARK: Faults

    /// Stops node `node` (as `kill -9`): it sends and receives nothing. Its `nodes.conf` is kept.
    public mutating func crash(_ node: Int) {
        if let instance = nodes[node] { savedConfiguration[node] = instance.topology.nodesFile }
        nodes[node] = nil
    }

    /// Restarts a crashed node from its saved `nodes.conf` (a new process: incarnation 0, links reset).
    ///
    /// `empty` restarts it without its data, as a node without persistence: its offset is 0 and the shell calls
    /// ``Gossip/Instance/yieldToReplicaAfterEmptyRestart(now:)``.
    public mutating func restart(_ node: Int, empty: Bool = false) {
        var topology = try! ClusterTopology(nodesFile: savedConfiguration[node])
        topology.resetLinksAfterRestart(now: now)
        nodes[node] = Gossip.Instance(
            topology: topology, settings: configuration.settings, seed: random.next(), now: now)
        writesPaused[node] = false
        scheduledTick[node] = .max
        if empty {
            replicationOffsets[node] = 0
            perform(on: node) { instance, now in instance.yieldToReplicaAfterEmptyRestart(now: now) }
        }
        schedule(node)
    }

    /// Sets node `node`'s replication offset, as its replication stream would.
    public mutating func setReplicationOffset(_ offset: UInt64, on node: Int) {
        replicationOffsets[node] = offset
    }

    /// Splits the network: nodes in different groups cannot exchange messages. `groups[i]` is node i's group.
    public mutating func partition(_ groups: [Int]) {
        precondition(groups.count == configuration.nodeCount)
        partition = groups
    }

    /// Heals every partition.
    public mutating func heal() {
        partition = Array(repeating: 0, count: configuration.nodeCount)
    }

    /// Runs a command on node `node` at the current time and sends what it returns.
    public mutating func perform(
        on node: Int, _ command: (inout Gossip.Instance, Int64) -> [Gossip.Outgoing]
    ) {
        guard var instance = nodes[node] else { return }
        instance.setReplicationOffset(replicationOffsets[node])
        let out = command(&instance, now)
        finish(node, instance, out)
    }

    /// Runs a command that may throw on node `node` at the current time and sends what it returns.
    public mutating func perform<Failure: Error>(
        on node: Int, _ command: (inout Gossip.Instance, Int64) throws(Failure) -> [Gossip.Outgoing]
    ) throws(Failure) {
        guard var instance = nodes[node] else { return }
        instance.setReplicationOffset(replicationOffsets[node])
        let out = try command(&instance, now)
        finish(node, instance, out)
    }

    /// Stores the instance after a step, plays the shell's part (the write pause, the event log) and sends.
    private mutating func finish(_ node: Int, _ stepped: Gossip.Instance, _ out: [Gossip.Outgoing]) {
        var instance = stepped
        var out = out
        if instance.manualFailoverPauseUntil != nil && !writesPaused[node] {
            writesPaused[node] = true
            out += instance.confirmWritesPaused(offset: replicationOffsets[node], now: now)
        } else if instance.manualFailoverPauseUntil == nil {
            writesPaused[node] = false
        }
        for event in instance.takeEvents() { failoverEvents.append(LoggedEvent(time: now, node: node, event: event)) }
        nodes[node] = instance
        send(out, from: node)
        schedule(node)
    }

    // MARK: Running

    /// Processes every event up to and including time `end`.
    public mutating func run(until end: Int64) {
        while let event = events.peek(), event.time <= end {
            _ = events.pop()
            now = event.time
            switch event.kind {
            case .tick(let node):
                guard scheduledTick[node] == event.time, var instance = nodes[node] else { continue }
                scheduledTick[node] = .max
                instance.setReplicationOffset(replicationOffsets[node])
                let out = instance.tick(now: now)
                finish(node, instance, out)
            case .deliver(let node, let message, let sourceIP):
                guard var instance = nodes[node] else { continue }
                instance.setReplicationOffset(replicationOffsets[node])
                let out = instance.receive(message, from: sourceIP, now: now)
                finish(node, instance, out)
            }
        }
        now = max(now, end)
    }

    /// Runs until `condition` holds (checked every `step` ms) or `limit` passes; returns the time it first held.
    public mutating func run(
        until limit: Int64, step: Int64 = 10, checking condition: (ClusterSimulation) -> Bool
    ) -> Int64? {
        while now < limit {
            run(until: min(now + step, limit))
            if condition(self) { return now }
        }
        return nil
    }

    private mutating func schedule(_ node: Int) {
        guard let instance = nodes[node] else { return }
        let due = max(instance.nextDeadline, now)
        if due < scheduledTick[node] || scheduledTick[node] < now {
            scheduledTick[node] = due
            events.push(Event(time: due, order: events.nextOrder(), kind: .tick(node)))
        }
    }

    private mutating func send(_ out: [Gossip.Outgoing], from node: Int) {
        for outgoing in out {
            bytesSent[node] += BusFrame.encodedLength(of: outgoing.message)
            messagesSent[node] += 1
            guard let target = index[outgoing.to], nodes[target] != nil, partition[target] == partition[node] else {
                continue
            }
            if configuration.loss > 0 && Double.random(in: 0..<1, using: &random) < configuration.loss { continue }
            let delay = Int64.random(in: configuration.delay, using: &random)
            let sourceIP = nodes[node]?.topology.myselfNode.ip ?? ""
            events.push(
                Event(
                    time: now + delay, order: events.nextOrder(),
                    kind: .deliver(target, outgoing.message, sourceIP: sourceIP)))
        }
    }

    // MARK: Observation

    /// Whether every running node other than `subject` has `flag` on `subject`.
    public func allRunningNodes(see flag: ClusterNode.Flags, on subject: Int) -> Bool {
        let id = ids[subject]
        for (node, instance) in nodes.enumerated() where node != subject {
            guard let instance else { continue }
            guard instance.topology[id]?.flags.contains(flag) ?? false else { return false }
        }
        return true
    }

    /// Whether no running node has `flag` on `subject`.
    public func noRunningNode(sees flag: ClusterNode.Flags, on subject: Int) -> Bool {
        let id = ids[subject]
        return nodes.allSatisfy { instance in
            guard let instance else { return true }
            return !(instance.topology[id]?.flags.contains(flag) ?? false)
        }
    }

    /// The node indices created as replicas of primary `primary`.
    public func replicaIndices(of primary: Int) -> [Int] {
        let group = 1 + configuration.replicasPerPrimary
        return (primary + 1..<min(primary + group, configuration.nodeCount)).map { $0 }
    }

    /// Whether every running node maps each of `slots` to `owner`.
    public func allRunningNodes(map slots: [Int], to owner: NodeID) -> Bool {
        nodes.allSatisfy { instance in
            guard let instance else { return true }
            return slots.allSatisfy { instance.topology.slots.owner(of: $0) == owner }
        }
    }
}

/// A simulation event.
struct Event {
    enum Kind {
        case tick(Int)
        case deliver(Int, BusMessage, sourceIP: String)
    }

    var time: Int64
    var order: UInt64
    var kind: Kind

    func precedes(_ other: Event) -> Bool { (time, order) < (other.time, other.order) }
}

/// A binary min-heap of events by time, then by insertion order (so runs are deterministic).
struct EventQueue {
    private var heap: [Event] = []
    private var counter: UInt64 = 0

    mutating func nextOrder() -> UInt64 {
        counter += 1
        return counter
    }

    func peek() -> Event? { heap.first }

    mutating func push(_ event: Event) {
        heap.append(event)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Event? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
