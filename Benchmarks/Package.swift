// swift-tools-version:6.1
import PackageDescription

// Microbenchmarks for Roost (ordo-one/package-benchmark), kept out of the root package so that the server does not
// depend on the benchmark framework. Run them with `scripts/bench-micro` from the repository root.
let package = Package(
    name: "RoostBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Roost", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Not a benchmark of the package-benchmark kind: RoostClient as a load generator (scripts/bench-client).
        .executableTarget(
            name: "roost-client-bench",
            dependencies: [
                .product(name: "RoostClient", package: "Roost"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/roost-client-bench"
        ),
        // Not a benchmark either: the least a SwiftNIO server does per memcached request (bench-memcached --floor).
        .executableTarget(
            name: "memcached-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tools/memcached-floor"
        ),
        // The plugin runs executable targets whose directory sits in a directory named `Benchmarks` (this one).
        .executableTarget(
            name: "RoostBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RoostCore", package: "Roost"),
                .product(name: "RoostProtocol", package: "Roost"),
                .product(name: "RoostServer", package: "Roost"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "RoostBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
