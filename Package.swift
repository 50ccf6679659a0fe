// swift-tools-version:6.1
import PackageDescription

// Checked exclusivity stays on in debug and test builds; release builds may drop it (see docs/PERFORMANCE.md).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Roost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RoostCore", targets: ["RoostCore"]),
        .library(name: "RoostProtocol", targets: ["RoostProtocol"]),
        .library(name: "RoostServer", targets: ["RoostServer"]),
        .executable(name: "roostd", targets: ["roostd"]),
        .executable(name: "roost-sim", targets: ["roost-sim"]),
        .library(name: "RoostCluster", targets: ["RoostCluster"]),
        .executable(name: "roost-cluster-sim", targets: ["roost-cluster-sim"]),
        .executable(name: "roost", targets: ["roost"]),
        .library(name: "RoostClient", targets: ["RoostClient"]),
        .executable(name: "roost-client-example", targets: ["roost-client-example"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "RoostCore",
            swiftSettings: strictSettings
        ),
        .target(
            name: "RoostProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RoostServer",
            dependencies: [
                "RoostCore",
                "RoostProtocol",
                "RoostCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "roostd",
            dependencies: [
                "RoostServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "roost-sim", dependencies: ["RoostCore"], swiftSettings: strictSettings),
        .target(
            name: "RoostCluster",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(name: "RoostClusterSimulation", dependencies: ["RoostCluster"], swiftSettings: strictSettings),
        .executableTarget(
            name: "roost-cluster-sim",
            dependencies: ["RoostCluster", "RoostClusterSimulation"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RoostAdmin",
            dependencies: ["RoostProtocol", "RoostCluster", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "roost",
            dependencies: ["RoostAdmin", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RoostClient",
            dependencies: [
                "RoostCore",
                "RoostProtocol",
                "RoostCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "roost-client-example",
            dependencies: [
                "RoostClient", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Examples/roost-client-example",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RoostClientTests",
            dependencies: [
                "RoostClient", "RoostProtocol", "RoostCluster", "RoostCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RoostAdminTests", dependencies: ["RoostAdmin"]),
        .testTarget(name: "RoostCoreTests", dependencies: ["RoostCore"]),
        .testTarget(
            name: "RoostProtocolTests",
            dependencies: ["RoostProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "RoostServerTests",
            dependencies: [
                "RoostServer", "RoostCore", "RoostProtocol", "RoostCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "RoostClusterTests",
            dependencies: ["RoostCluster", "RoostClusterSimulation", .product(name: "NIOCore", package: "swift-nio")]
        ),
    ]
)
