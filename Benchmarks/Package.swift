// swift-tools-version:6.1
// Micro-benchmarks for SMTPCore (issue 4). A package of its own so that a normal build of Swallow never resolves or
// builds the benchmark tooling. Run with `Benchmarks/run`.
import PackageDescription

let package = Package(
    name: "SwallowBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named so that the product reference does not depend on the name of the folder the repository is in.
        .package(name: "Swallow", path: ".."),
        // MallocInterposer counts allocations without jemalloc; naming the trait also leaves out the default
        // RuntimeInterposer trait, whose package is not in the local mirror.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SMTPCoreBenchmarks",
            dependencies: [
                .product(name: "SMTPCore", package: "Swallow"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SMTPCoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
