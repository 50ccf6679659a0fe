// roost-cluster-sim: runs N simulated Roost nodes (Gossip.Instance) over a simulated network and reports how fast
// a crashed primary is failed by every node, how fast its replica wins the failover election and the slot map
// converges, and the bus bytes per node per second, next to what a Redis Cluster full mesh would send. A second
// table kills one primary of P primaries + P replicas and reports the time until its replica serves the slots
// and every live node agrees. See docs/CLUSTER.md.
//
//   roost-cluster-sim [--nodes 10,100,1000] [--failover-nodes 6,200] [--seeds 3] [--loss 0.01]
//                     [--node-timeout 2000] [--delay 1-5]

import RoostCluster
import RoostClusterSimulation

struct Options {
    var nodeCounts = [10, 100, 1000]
    var failoverNodeCounts = [6, 200]
    var seeds = 3
    var loss = 0.01
    var nodeTimeout: Int64 = 2_000
    var delay: ClosedRange<Int64> = 1...5

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(argument) needs a value") }
            switch argument {
            case "--nodes": nodeCounts = value.split(separator: ",").map { Int($0)! }
            case "--failover-nodes": failoverNodeCounts = value.split(separator: ",").map { Int($0)! }
            case "--seeds": seeds = Int(value)!
            case "--loss": loss = Double(value)!
            case "--node-timeout": nodeTimeout = Int64(value)!
            case "--delay":
                let bounds = value.split(separator: "-").map { Int64($0)! }
                delay = bounds[0]...bounds[bounds.count - 1]
            default: fatalError("unknown option \(argument)")
            }
        }
    }
}

struct Outcome {
    var firstSuspicion: Int64?
    var firstFailure: Int64?
    var failedByAll: Int64?
    var failoverDone: Int64?
    var steadyBytesPerNodeSecond: Double
    var failureBytesPerNodeSecond: Double
    var steadyMessagesPerNodeSecond: Double
    var falseFailures: Int
}

func runScenario(nodes count: Int, seed: UInt64, options: Options) -> Outcome {
    let settings = Gossip.Settings(nodeTimeout: options.nodeTimeout)
    var simulation = ClusterSimulation(
        .init(
            nodeCount: count, replicasPerPrimary: 1, settings: settings, seed: seed, loss: options.loss,
            delay: options.delay))
    let warmUp: Int64 = 10_000
    simulation.run(until: warmUp / 2)
    let bytesAtHalf = simulation.bytesSent.reduce(0, +)
    let messagesAtHalf = simulation.messagesSent.reduce(0, +)
    simulation.run(until: warmUp)
    let steadySeconds = Double(warmUp / 2) / 1000
    let steadyBytes = Double(simulation.bytesSent.reduce(0, +) - bytesAtHalf) / Double(count) / steadySeconds
    let steadyMessages = Double(simulation.messagesSent.reduce(0, +) - messagesAtHalf) / Double(count) / steadySeconds

    // Crash a primary in the middle of the slot space; its replica is the next node.
    let primary = simulation.primaryIndices[simulation.primaryIndices.count / 2]
    let replica = primary + 1
    let victim = simulation.ids[primary]
    let slots = simulation.nodes[primary]!.topology.slots.slots(of: victim)
    simulation.crash(primary)
    let crashedAt = simulation.now
    let bytesAtCrash = simulation.bytesSent.reduce(0, +)
    let limit = crashedAt + 10 * options.nodeTimeout

    let suspected = simulation.run(until: limit, step: 5) { simulation in
        simulation.nodes.contains { $0?.topology[victim]?.flags.contains(.possiblyFailed) ?? false }
    }
    var failedByAll: Int64?
    var firstFailure: Int64?
    var converged: Int64?
    while simulation.now < limit && (failedByAll == nil || converged == nil) {
        simulation.run(until: simulation.now + 5)
        if firstFailure == nil && !simulation.noRunningNode(sees: .failed, on: primary) {
            firstFailure = simulation.now
        }
        if failedByAll == nil && simulation.allRunningNodes(see: .failed, on: primary) {
            failedByAll = simulation.now
        }
        if converged == nil, simulation.allRunningNodes(map: slots.slots, to: simulation.ids[replica]) {
            converged = simulation.now - crashedAt
        }
    }
    let failureSeconds = Double(simulation.now - crashedAt) / 1000
    let failureBytes = Double(simulation.bytesSent.reduce(0, +) - bytesAtCrash) / Double(count - 1) / failureSeconds
    let falseFailures = (0..<count).filter { $0 != primary && !simulation.noRunningNode(sees: .failed, on: $0) }.count
    return Outcome(
        firstSuspicion: suspected.map { $0 - crashedAt }, firstFailure: firstFailure.map { $0 - crashedAt },
        failedByAll: failedByAll.map { $0 - crashedAt },
        failoverDone: converged, steadyBytesPerNodeSecond: steadyBytes, failureBytesPerNodeSecond: failureBytes,
        steadyMessagesPerNodeSecond: steadyMessages, falseFailures: falseFailures)
}

/// Bytes per node per second a Redis Cluster full mesh sends in steady state: every node pings every other at
/// least every node-timeout / 2 and answers each ping with a pong; each message is the 2256-byte header (with the
/// 2 KiB slot bitmap) plus max(3, n/10) gossip entries of 104 bytes.
func fullMeshBytesPerNodeSecond(nodes count: Int, nodeTimeout: Int64) -> Double {
    let gossipEntries = min(max(3, count / 10), max(count - 2, 0))
    let messageBytes = Double(2256 + 104 * gossipEntries)
    let pingsPerSecond = max(Double(count - 1) / (Double(nodeTimeout) / 2 / 1000), 1)
    return 2 * pingsPerSecond * messageBytes
}

func format(_ milliseconds: Int64?) -> String {
    guard let milliseconds else { return "not within 10 x node-timeout" }
    return "\(milliseconds) ms"
}

func formatBytes(_ value: Double) -> String {
    if value >= 1_000_000 { return "\(Double(Int(value / 10_000)) / 100) MB/s" }
    if value >= 1_000 { return "\(Double(Int(value / 10)) / 100) kB/s" }
    return "\(Int(value)) B/s"
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let settings = Gossip.Settings(nodeTimeout: options.nodeTimeout)
print(
    "node-timeout \(options.nodeTimeout) ms, protocol period \(settings.protocolPeriod) ms, direct timeout "
        + "\(settings.directProbeTimeout) ms, k = \(settings.indirectProbeCount), loss \(options.loss), "
        + "one-way delay \(options.delay.lowerBound)-\(options.delay.upperBound) ms, one replica per primary")
print(
    "| N | seed | first fail? | first fail | fail by all | replica elected, all agree | SWIM bytes/node/s (steady) | "
        + "msgs/node/s | SWIM bytes/node/s (failure) | full mesh bytes/node/s | false fails |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for count in options.nodeCounts {
    for seed in 1...UInt64(options.seeds) {
        let outcome = runScenario(nodes: count, seed: seed, options: options)
        let mesh = fullMeshBytesPerNodeSecond(nodes: count, nodeTimeout: options.nodeTimeout)
        print(
            "| \(count) | \(seed) | \(format(outcome.firstSuspicion)) | \(format(outcome.firstFailure)) | "
                + "\(format(outcome.failedByAll)) | "
                + "\(format(outcome.failoverDone)) | \(formatBytes(outcome.steadyBytesPerNodeSecond)) | "
                + "\(Double(Int(outcome.steadyMessagesPerNodeSecond * 10)) / 10) | "
                + "\(formatBytes(outcome.failureBytesPerNodeSecond)) | \(formatBytes(mesh)) | "
                + "\(outcome.falseFailures) |")
    }
}

print()
print("Automatic failover: P primaries + P replicas, one primary killed after 10 s (times after the kill)")
print("| N | seed | fail by all | replica serves the slots | every live node agrees | elections | promotions |")
print("|---|---|---|---|---|---|---|")
for count in options.failoverNodeCounts {
    for seed in 1...UInt64(options.seeds) {
        var simulation = ClusterSimulation(
            .init(
                nodeCount: count, replicasPerPrimary: 1, settings: settings, seed: seed, loss: options.loss,
                delay: options.delay))
        simulation.run(until: 10_000)
        let primary = simulation.primaryIndices[simulation.primaryIndices.count / 2]
        let result = simulation.measureFailover(of: primary, limit: 10 * options.nodeTimeout)
        print(
            "| \(count) | \(seed) | \(format(result.failedByAll)) | \(format(result.replicaOwnsSlots)) | "
                + "\(format(result.allAgree)) | \(result.electionsStarted) | \(result.promotions) |")
    }
}
