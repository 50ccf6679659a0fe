import Foundation
import RoostCore

// roost-sim: seeded trace generation and in-process replay of Roost's eviction policies.
//
//   roost-sim generate --out DIR [--requests N] [--objects N] [--seed S]
//   roost-sim replay --traces DIR [--sizes 1,5,10] [--tsv FILE]
//   roost-sim [--requests N] [--objects N] [--seed S]      (generate into a temporary directory, then replay)

struct Options {
    var command = "all"
    var out: String?
    var traces: String?
    var requests = 1_000_000
    var objects = 100_000
    var seed: UInt64 = 42
    var sizes = [1, 5, 10]
    var tsv: String?

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            func value() -> String {
                guard let next = iterator.next() else { fail("\(argument) needs a value") }
                return next
            }
            switch argument {
            case "generate", "replay": command = argument
            case "--out": out = value()
            case "--traces": traces = value()
            case "--requests": requests = Int(value()) ?? requests
            case "--objects": objects = Int(value()) ?? objects
            case "--seed": seed = UInt64(value()) ?? seed
            case "--sizes": sizes = value().split(separator: ",").compactMap { Int($0) }
            case "--tsv": tsv = value()
            case "-h", "--help":
                print(
                    "usage: roost-sim [generate --out DIR | replay --traces DIR [--tsv FILE]] [--requests N] "
                        + "[--objects N] [--seed S] [--sizes 1,5,10]")
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("roost-sim: \(message)\n".utf8))
    exit(2)
}

func generate(_ options: Options, into directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let generator = TraceGenerator(requests: options.requests, objects: options.objects, seed: options.seed)
    for (name, ids) in generator.suite() {
        let url = directory.appendingPathComponent("\(name).\(TraceFile.fileExtension)")
        try TraceFile.write(ids: ids, objectSize: 1, to: url)
        FileHandle.standardError.write(Data("generated \(url.path) (\(ids.count) requests)\n".utf8))
    }
}

func replay(_ options: Options, from directory: URL) throws {
    let order = TraceGenerator(requests: 0, objects: 0, seed: 0).suite().map(\.name)
    let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == TraceFile.fileExtension }
        .sorted {
            (order.firstIndex(of: $0.deletingPathExtension().lastPathComponent) ?? 99, $0.path)
                < (order.firstIndex(of: $1.deletingPathExtension().lastPathComponent) ?? 99, $1.path)
        }
    guard !files.isEmpty else { fail("no .\(TraceFile.fileExtension) traces in \(directory.path)") }
    var results: [Replayer.Result] = []
    let names = Replayer.policies.map { $0.rawValue.replacingOccurrences(of: "allkeys-", with: "") }
    emit(
        "trace".padding(toLength: 11, withPad: " ", startingAt: 0) + "  size  capacity  "
            + names.map { $0.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined(separator: " "))
    for file in files {
        let trace = try TraceFile.read(file)
        for percent in options.sizes {
            let capacity = Replayer.capacity(uniqueObjects: trace.uniqueCount, percent: percent)
            var line =
                trace.name.padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(percent).leftPadded(5) + "%" + String(capacity).leftPadded(9) + "  "
            for kind in Replayer.policies {
                let started = Date()
                defer {
                    if ProcessInfo.processInfo.environment["ROOST_SIM_TIMING"] != nil {
                        FileHandle.standardError.write(
                            Data("\(kind.rawValue) \(Date().timeIntervalSince(started))s\n".utf8))
                    }
                }
                let result = Replayer.replay(trace, kind: kind, capacity: capacity, sizePercent: percent)
                results.append(result)
                line += String(format: "%-8.4f ", result.missRatio)
            }
            emit(line)
        }
    }
    if let tsv = options.tsv {
        var text = "trace\tunique\tsize_percent\tcapacity\tpolicy\trequests\tmisses\tmiss_ratio\n"
        for r in results {
            text +=
                "\(r.trace)\t\(r.uniqueObjects)\t\(r.sizePercent)\t\(r.capacity)\t\(r.policy)\t\(r.requests)\t"
                + "\(r.misses)\t\(String(format: "%.6f", r.missRatio))\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: tsv))
    }
}

/// Writes a line to standard output at once (progress stays visible when piped).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    switch options.command {
    case "generate":
        guard let out = options.out else { fail("generate needs --out DIR") }
        try generate(options, into: URL(fileURLWithPath: out))
    case "replay":
        guard let traces = options.traces else { fail("replay needs --traces DIR") }
        try replay(options, from: URL(fileURLWithPath: traces))
    default:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roost-sim-\(getpid())")
        try generate(options, into: directory)
        try replay(options, from: directory)
        try? FileManager.default.removeItem(at: directory)
    }
} catch {
    fail("\(error)")
}
