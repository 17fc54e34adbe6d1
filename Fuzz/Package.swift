// swift-tools-version:6.1
// libFuzzer targets for Swallow. A separate package so that a normal build of Swallow never sees them.
// Build and run with ./run (see README.md here); each target is one executable.
import PackageDescription

// The executables have no main.swift: libFuzzer's `main` calls `<Target>_main`, which starts the fuzzing driver.
let executable: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

// SwiftPM names a path dependency after its folder, which is whatever the clone of Swallow is called.
let swallow = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

let package = Package(
    name: "SwallowFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver, which libFuzzer (-sanitize=fuzzer) provides.
        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport", dependencies: ["CLibFuzzer", .product(name: "SMTPCore", package: swallow)]),
        .executableTarget(
            name: "FuzzCommandParser",
            dependencies: ["FuzzSupport", .product(name: "SMTPCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzReplyParser",
            dependencies: ["FuzzSupport", .product(name: "SMTPCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzDNSMessage",
            dependencies: ["FuzzSupport", .product(name: "DNSCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzDotUnstuffer",
            dependencies: ["FuzzSupport", .product(name: "SMTPCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzStateMachine",
            dependencies: ["FuzzSupport", .product(name: "SMTPCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzConnection",
            dependencies: ["FuzzSupport", .product(name: "SMTPCore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzAuth",
            dependencies: [
                "FuzzSupport",
                .product(name: "SMTPCore", package: swallow),
                // SMTPAuth is no product of its own; SwallowKit's brings its module along.
                .product(name: "SwallowKit", package: swallow),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzJournal",
            dependencies: ["FuzzSupport", .product(name: "MailStore", package: swallow)],
            swiftSettings: executable),
        .executableTarget(
            name: "FuzzConfig",
            dependencies: ["FuzzSupport", .product(name: "SwallowKit", package: swallow)],
            swiftSettings: executable),
    ],
    swiftLanguageModes: [.v6]
)
