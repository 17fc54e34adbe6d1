import Benchmark

/// Every benchmark of SMTPCore; the benchmark plugin runs this closure to register them.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(3)
    registerCommandParserBenchmarks()
    registerDotUnstufferBenchmarks()
    registerTransactionBenchmarks()
}
