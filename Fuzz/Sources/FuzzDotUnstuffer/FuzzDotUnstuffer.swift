import FuzzSupport
import SMTPCore

/// Fuzzes the DATA body reader. The input is a body as a client sends it after 354 (and possibly what follows
/// the end marker); decisions from its end pick the bare-line-ending policy and how the bytes are cut into the
/// reads the network might deliver. Checks, for any cut:
/// - the output, the bytes consumed and `sawBareLineEnding` equal those of a simple reference decoder run on the
///   whole input (lines split at CRLF only; "." alone ends the body; one leading dot removed);
/// - a call that does not complete the body consumes all it was given, and once complete nothing more is taken;
/// - with `.normalize` the output has no bare CR or LF; with `.reject` and nothing reported, neither;
/// - the `DotUnstufferOutput` path gives the same body, and keeps its contract: runs of the input that are never
///   empty, within the input, in increasing order without overlap within one call.
@_cdecl("FuzzDotUnstuffer_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        var input = FuzzInput(bytes(data, size))
        let normalize = input.choiceBool()
        let splitSeed = input.choiceByte()
        var cuts: [Int] = []
        for _ in 0..<Int(splitSeed % 16) { cuts.append(input.choice(in: 0...300)) }
        check(Array(input.takeRest()), normalize: normalize, cuts: cuts)
        return 0
    }
}

private func check(_ body: [UInt8], normalize: Bool, cuts: [Int]) {
    let expected = reference(body, normalize: normalize)
    var reader = DotUnstuffer(bareLineEndings: normalize ? .normalize : .reject)
    var output: [UInt8] = []
    var runsReader = reader
    var runs = CheckedOutput()
    var offset = 0
    var consumed = 0
    var pieces = cuts.makeIterator()
    while offset < body.count {
        // The chosen sizes, then the rest in one piece.
        let size = min(pieces.next() ?? body.count, body.count - offset)
        let chunk = Array(body[offset..<offset + size])
        let wasComplete = reader.isComplete
        let taken = chunk.withUnsafeBytes { reader.consume($0, into: &output) }
        runs.lastEnd = 0
        let runsTaken = chunk.withUnsafeBytes { runsReader.consume($0, into: &runs) }
        require(runsTaken == taken, "the runs path consumed \(runsTaken), the array path \(taken)")
        require(taken >= 0 && taken <= chunk.count, "consumed \(taken) of \(chunk.count)")
        if wasComplete { require(taken == 0, "consumed \(taken) bytes after the end of the body") }
        if !reader.isComplete { require(taken == chunk.count, "stopped at \(taken) of \(chunk.count) before the end") }
        consumed += taken
        offset += size
    }
    // An empty read changes nothing.
    let empty: [UInt8] = []
    let before = output
    require(empty.withUnsafeBytes { reader.consume($0, into: &output) } == 0, "empty read consumed bytes")
    require(output == before, "empty read produced output")

    require(reader.isComplete == (expected.consumed != nil), "complete \(reader.isComplete), reference \(expected)")
    require(consumed == (expected.consumed ?? body.count), "consumed \(consumed), reference \(expected.consumed ?? -1)")
    require(output == expected.output, "output \(output) differs from reference \(expected.output)")
    require(reader.sawBareLineEnding == expected.sawBare, "sawBareLineEnding \(reader.sawBareLineEnding)")
    require(runs.bytes == output, "the runs path gave \(runs.bytes), the array path \(output)")
    require(runsReader.isComplete == reader.isComplete, "the runs path complete \(runsReader.isComplete)")
    if normalize || !reader.sawBareLineEnding {
        requireOnlyCRLF(output)
    }
}

/// Collects the body from runs and added octets, checking the protocol's promises.
private struct CheckedOutput: DotUnstufferOutput {
    var bytes: [UInt8] = []
    /// The end of the last run handed over in the current `consume` call.
    var lastEnd = 0

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        require(!range.isEmpty, "empty run \(range)")
        require(range.lowerBound >= 0 && range.upperBound <= input.count, "run \(range) outside \(input.count) bytes")
        require(range.lowerBound >= lastEnd, "run \(range) before or over the previous one ending at \(lastEnd)")
        lastEnd = range.upperBound
        bytes.append(contentsOf: input[range])
    }

    mutating func appendByte(_ byte: UInt8) {
        require(byte == .cr || byte == .lf, "added octet \(byte)")
        bytes.append(byte)
    }
}

/// Every CR in `bytes` is followed by LF and every LF preceded by CR.
private func requireOnlyCRLF(_ bytes: [UInt8]) {
    for (index, byte) in bytes.enumerated() {
        if byte == .cr { require(index + 1 < bytes.count && bytes[index + 1] == .lf, "bare CR in output at \(index)") }
        if byte == .lf { require(index > 0 && bytes[index - 1] == .cr, "bare LF in output at \(index)") }
    }
}

/// The reference: split the whole input into CRLF-ended lines. A line that is "." ends the body; otherwise one
/// leading dot is removed, bare CR and LF inside are reported (and made CRLF when normalizing) and the line is
/// output with its CRLF. An unfinished last line is output as far as it is known: its leading dot and a trailing
/// CR wait for the next byte.
private func reference(_ body: [UInt8], normalize: Bool) -> (output: [UInt8], consumed: Int?, sawBare: Bool) {
    var output: [UInt8] = []
    var sawBare = false
    func content(_ line: ArraySlice<UInt8>) {
        var line = line
        if line.first == .dot { line = line.dropFirst() }
        for byte in line {
            switch byte {
            case .cr:
                sawBare = true
                output += normalize ? [.cr, .lf] : [.cr]
            case .lf:
                sawBare = true
                output += normalize ? [.cr, .lf] : [.lf]
            default:
                output.append(byte)
            }
        }
    }
    var start = 0
    while true {
        guard let end = crlf(in: body, from: start) else {
            var last = body[start...]
            if last.last == .cr { last = last.dropLast() }
            content(last)
            return (output, nil, sawBare)
        }
        let line = body[start..<end]
        if line.elementsEqual([.dot]) { return (output, end + 2, sawBare) }
        content(line)
        output += [.cr, .lf]
        start = end + 2
    }
}

private func crlf(in bytes: [UInt8], from start: Int) -> Int? {
    var index = start
    while index + 1 < bytes.count {
        if bytes[index] == .cr && bytes[index + 1] == .lf { return index }
        index += 1
    }
    return nil
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
    fileprivate static let dot = UInt8(ascii: ".")
}
