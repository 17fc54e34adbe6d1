import Benchmark
import SMTPCore

/// The DATA decoder on large bodies. Each iteration decodes 1,000,000 input octets and the scaling factor says so
/// (mega), so throughput reads as octets per second: "(M)" in the table is MB/s. Wall-clock time is left out: per
/// octet it rounds to 0 ns.
func registerDotUnstufferBenchmarks() {
    let configuration = Benchmark.Configuration(metrics: [.throughput, .mallocCountTotal], scalingFactor: .mega)

    // 1 MB: the whole body per iteration; it stays in the CPU caches.
    let small = BodyStream(size: 1_000_000)
    Benchmark("DotUnstuffer into [UInt8], 1 MB body (# = octet)", configuration: configuration) { _ in
        small.decodeNextRead()
    }

    // 100 MB: one read of 1 MB per iteration, as the server sees it, from a body far larger than the caches.
    let large = BodyStream(size: 100_000_000)
    Benchmark("DotUnstuffer into [UInt8], 100 MB body in 1 MB reads (# = octet)", configuration: configuration) { _ in
        large.decodeNextRead()
    }

    // The same reads through `DotUnstufferOutput`, keeping only the ranges, as the server does when it slices its
    // network buffer instead of copying.
    let runs = BodyStream(size: 100_000_000)
    Benchmark("DotUnstuffer runs (no copy), 100 MB body in 1 MB reads (# = octet)", configuration: configuration) { _ in
        runs.decodeNextReadAsRuns()
    }
}

/// A body decoded one 1 MB read at a time, across iterations, with one decoder per body.
final class BodyStream {
    static let readSize = 1_000_000
    private let body: [UInt8]
    private var decoder = DotUnstuffer()
    private var offset = 0
    /// Reused, as a server reuses its buffers: the benchmark measures decoding, not growing an array.
    private var output: [UInt8] = []

    init(size: Int) {
        precondition(size % Self.readSize == 0)
        body = Fixtures.body(size: size)
        output.reserveCapacity(Self.readSize)
    }

    func decodeNextRead() {
        output.removeAll(keepingCapacity: true)
        decodeNextRead { decoder.consume($0, into: &output) }
        blackHole(output.count)
    }

    func decodeNextReadAsRuns() {
        var runs = RangeCounter()
        decodeNextRead { decoder.consume($0, into: &runs) }
        blackHole(runs.octets)
    }

    /// Hands the next read to `decode`, then moves on, starting the body again after its end.
    private func decodeNextRead(_ decode: (UnsafeRawBufferPointer) -> Int) {
        let range = offset..<(offset + Self.readSize)
        let consumed = body.withUnsafeBytes { decode(UnsafeRawBufferPointer(rebasing: $0[range])) }
        precondition(consumed == Self.readSize)
        offset += Self.readSize
        if offset == body.count {
            precondition(decoder.isComplete)
            decoder = DotUnstuffer()
            offset = 0
        }
    }
}

/// Counts what it is handed, as a stand-in for an output that keeps slices of its input.
struct RangeCounter: DotUnstufferOutput {
    var octets = 0

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        octets += range.count
    }

    mutating func appendByte(_ byte: UInt8) {
        octets += 1
    }
}
