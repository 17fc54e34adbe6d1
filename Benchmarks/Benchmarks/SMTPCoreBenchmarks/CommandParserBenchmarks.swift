import Benchmark
import SMTPCore

/// The command parser on a realistic mix of lines; one measured operation is one line.
func registerCommandParserBenchmarks() {
    let lines = Fixtures.commandLines
    // Every line must parse, or the benchmark would measure the error path.
    for line in lines {
        guard case .success = CommandParser.parse(line) else {
            fatalError("fixture does not parse: \(String(decoding: line, as: UTF8.self))")
        }
    }
    Benchmark(
        "CommandParser.parse, mixed EHLO/MAIL/RCPT lines (# = line)",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo)
    ) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(CommandParser.parse(lines[index % lines.count]))
        }
    }
}
