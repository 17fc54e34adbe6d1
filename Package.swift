// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "Swallow",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        .library(name: "SMTPServer", targets: ["SMTPServer"]),
        .library(name: "SMTPClient", targets: ["SMTPClient"]),
        .library(name: "DNSCore", targets: ["DNSCore"]),
        .library(name: "SMTPAuth", targets: ["SMTPAuth"]),
        .library(name: "MailStore", targets: ["MailStore"]),
        .library(name: "SwallowKit", targets: ["SwallowKit"]),
        .executable(name: "swallow", targets: ["swallow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Sans-IO protocol core: grammar, parser, replies, session state machine. No NIO, no disk, no clock.
        .target(name: "SMTPCore", swiftSettings: strict),
        // POSIX file primitives shared by the modules that touch disk: whole-file reads, atomic replacement,
        // mkdir -p, directory fsync. No dependencies; each module keeps its own policies and error type.
        .target(name: "FileSupport", dependencies: ["CFileSupport"], swiftSettings: strict),
        // The few file calls Swift's Glibc module does not export (sync_file_range).
        .target(name: "CFileSupport"),
        // glibc's heap statistics and malloc_trim, which Glibc's module map does not export.
        .target(name: "CHeap"),
        // NIO server and the embedding surface (backend/session protocols).
        .target(
            name: "SMTPServer",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Outbound SMTP over NIO: connections, STARTTLS/implicit TLS, AUTH, pipelined transactions. The protocol
        // decisions are SMTPCore's ClientStateMachine.
        .target(
            name: "SMTPClient",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Sans-IO DNS messages: queries out, answers in (MX, A, AAAA, CNAME, name compression), bounded.
        .target(name: "DNSCore", swiftSettings: strict),
        // DNS over NIO UDP (TCP when truncated) and mail routing: MX, implicit MX, null MX.
        .target(
            name: "DNSResolver",
            dependencies: [
                "DNSCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The outbound queue: the OutboundQueue protocol, its local file implementation, the retry schedule, DSNs.
        .target(name: "MailQueue", dependencies: ["SMTPCore", "FileSupport"], swiftSettings: strict),
        // The delivery worker: routes queued mail by MX (or a smarthost) and sends it with SMTPClient.
        .target(
            name: "OutboundDelivery",
            dependencies: [
                "MailQueue", "SMTPClient", "DNSResolver", "DNSCore", "SMTPCore", "SMTPServer", "SMTPAuth",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // SASL mechanisms and password credentials (SCRAM keys, PBKDF2): the only target with swift-crypto besides TLS.
        .target(
            name: "SMTPAuth",
            dependencies: [
                "SMTPCore", "FileSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Certificates: loading PEM, SNI, reload, self-signed generation.
        .target(
            name: "SwallowTLS",
            dependencies: [
                "FileSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Durable Maildir delivery.
        .target(
            name: "MailStore",
            dependencies: [
                "FileSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Configuration, local domains and the Maildir-delivering backend used by the daemon.
        .target(
            name: "SwallowKit",
            dependencies: [
                "SMTPCore", "SMTPServer", "MailStore", "SMTPAuth", "SwallowTLS", "FileSupport", "CHeap", "SwallowHTTP",
                "MailQueue", "OutboundDelivery", "DNSResolver",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The daemon's HTTP service: /metrics (Prometheus text format), /healthz, /readyz; later the web inbox.
        .target(
            name: "SwallowHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SwallowCLI",
            dependencies: [
                "SwallowKit", "SwallowHTTP", "SMTPServer", "SMTPAuth", "SwallowTLS", "MailStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "swallow", dependencies: ["SwallowCLI"], swiftSettings: strict),
        // The README's embedding example, compiled by every build.
        .executableTarget(
            name: "EmbeddedServer",
            dependencies: ["SMTPServer", "SMTPCore"],
            path: "Examples/EmbeddedServer",
            swiftSettings: strict
        ),
        // The README's sending example, compiled by every build.
        .executableTarget(
            name: "SendMail",
            dependencies: ["SMTPClient", "SMTPCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Examples/SendMail",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SMTPClientTests",
            dependencies: [
                "SMTPClient", "SMTPCore", "SMTPServer", "SwallowTLS", "SwallowKit", "SMTPAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "DNSCoreTests", dependencies: ["DNSCore"], swiftSettings: strict),
        .testTarget(
            name: "DNSResolverTests",
            dependencies: [
                "DNSResolver", "DNSCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "OutboundDeliveryTests", dependencies: ["OutboundDelivery"], swiftSettings: strict),
        .testTarget(name: "MailQueueTests", dependencies: ["MailQueue", "SMTPCore"], swiftSettings: strict),
        // Temporary directories that clean up after themselves, and file reading, for the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SMTPCoreTests", dependencies: ["SMTPCore"], swiftSettings: strict),
        .testTarget(
            name: "FileSupportTests", dependencies: ["FileSupport", "CFileSupport", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SMTPServerTests",
            dependencies: [
                "SMTPServer", "SMTPCore", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "MailStoreTests", dependencies: ["MailStore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SMTPAuthTests", dependencies: ["SMTPAuth", "SMTPCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SwallowTLSTests",
            dependencies: [
                "SwallowTLS", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SwallowKitTests", dependencies: ["SwallowKit", "SMTPServer"], swiftSettings: strict),
        .testTarget(
            name: "SwallowCLITests",
            dependencies: ["SwallowCLI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
