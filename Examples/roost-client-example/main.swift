// roost-client-example: connects to a Roost (or Redis) server or cluster, does a few operations, exits 0.
//
//   roost-client-example 127.0.0.1:6379              a standalone server
//   roost-client-example --cluster 127.0.0.1:7000    a cluster, through one or more seed nodes
//   roost-client-example stampede [options] 127.0.0.1:6379    stampede-safe loading under load (Stampede.swift)

import Foundation
import Logging
import NIOCore
import RoostClient

struct Profile: Codable, Equatable {
    var name: String
    var visits: Int
}

func endpoint(_ text: String) -> RoostClient.Configuration.Endpoint? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
    return .init(host: String(text[..<colon]), port: port)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var stampede: Stampede?
if arguments.first == "stampede" {
    var options = Stampede()
    arguments = options.parse(Array(arguments.dropFirst()))
    stampede = options
}
let cluster = arguments.first == "--cluster"
if cluster { arguments.removeFirst() }
let endpoints = arguments.compactMap(endpoint)
guard !endpoints.isEmpty, endpoints.count == arguments.count else {
    FileHandle.standardError.write(Data("usage: roost-client-example [--cluster] HOST:PORT...\n".utf8))
    exit(2)
}

var logger = Logger(label: "roost-client-example")
logger.logLevel = .info
var configuration = RoostClient.Configuration(
    mode: cluster ? .cluster(seeds: endpoints) : .standalone(endpoints[0]),
    commandTimeout: .seconds(5))
configuration.clientName = "roost-client-example"

do {
    try await withRoostClient(configuration: configuration, logger: logger) { client in
        if let stampede {
            try await stampede.run(client)
            return
        }
        let rtt = try await client.ping()
        print("PING: \(rtt)")

        let prefix = "example:\(ProcessInfo.processInfo.processIdentifier)"
        try await client.set("\(prefix):greeting", "hello", ttl: .seconds(60))
        print("GET greeting: \(try await client.getString("\(prefix):greeting") ?? "(nil)")")

        let added = try await client.set("\(prefix):greeting", "again", condition: .ifNotExists)
        print("SET NX on an existing key wrote: \(added)")

        try await client.incrby("\(prefix):counter", 41)
        print("INCR counter: \(try await client.incr("\(prefix):counter"))")

        // Keys in different hash slots: in cluster mode these are split by slot and merged in order.
        let keys = (0..<5).map { "\(prefix):item:\($0)" }
        try await client.mset(keys.map { ($0, "value-\($0.suffix(1))") })
        let values = try await client.mget(keys + ["\(prefix):missing"])
        print("MGET: \(values.map { $0.map { String(buffer: $0) } ?? "(nil)" })")

        let profile = Profile(name: "Ada", visits: 3)
        try await client.set("\(prefix):profile", encoding: profile)
        let decoded = try await client.get("\(prefix):profile", as: Profile.self)
        print("Codable round trip: \(decoded == profile ? "ok" : "MISMATCH")")

        // Stampede-safe loading: one caller (across every process) computes a missing value, the others wait.
        let report = try await client.get("\(prefix):report", ttl: .seconds(60)) {
            ByteBuffer(string: "computed once")
        }
        print("Loaded report: \(String(buffer: report))")

        print("TTL greeting: \(try await client.ttl("\(prefix):greeting"))")

        do {
            _ = try await client.incr("\(prefix):greeting")
        } catch let error as RoostClientError where error.serverCode == "ERR" {
            print("INCR on text fails as expected: \(error)")
        }

        let deleted = try await client.del(
            keys + ["\(prefix):greeting", "\(prefix):counter", "\(prefix):profile", "\(prefix):report"])
        print("DEL: \(deleted) keys")
        guard decoded == profile, deleted == 9, !added, String(buffer: report) == "computed once" else {
            throw ExampleFailure()
        }
    }
} catch {
    FileHandle.standardError.write(Data("roost-client-example failed: \(error)\n".utf8))
    exit(1)
}

struct ExampleFailure: Error, CustomStringConvertible {
    var description: String { "an operation returned an unexpected result" }
}
