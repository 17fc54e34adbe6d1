import Testing

@testable import SMTPCore

/// Feeds `input` to a fresh decoder in the pieces that `cuts` (increasing offsets) make, as reads from the network
/// would, and stops at the first piece it does not use up. Goes through the `[UInt8]` output.
private func decode(_ input: [UInt8], _ mode: DotUnstuffer.BareLineEndings, cuts: [Int]) -> DecodedBody {
    var decoder = DotUnstuffer(bareLineEndings: mode)
    var output: [UInt8] = []
    var consumed = 0
    for end in cuts + [input.count] where end > consumed {
        // A copy of each piece, so that reading past it would be caught by the address sanitizer.
        let piece = Array(input[consumed..<end])
        let used = piece.withUnsafeBytes { decoder.consume($0, into: &output) }
        consumed += used
        if used < piece.count { break }
    }
    return DecodedBody(
        output: output, consumed: consumed, isComplete: decoder.isComplete,
        sawBareLineEnding: decoder.sawBareLineEnding)
}

/// Records what the decoder hands over through `DotUnstufferOutput`, checking the promises the protocol makes.
private struct RecordingOutput: DotUnstufferOutput {
    var bytes: [UInt8] = []
    var runs = 0
    var lastRunEnd = 0
    var valid = true

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        if range.isEmpty || range.lowerBound < lastRunEnd || range.upperBound > input.count { valid = false }
        lastRunEnd = range.upperBound
        runs += 1
        bytes += input[range]
    }

    mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }
}

/// The same through `RecordingOutput`.
private func decodeRecording(_ input: [UInt8], _ mode: DotUnstuffer.BareLineEndings, cuts: [Int]) -> DecodedBody? {
    var decoder = DotUnstuffer(bareLineEndings: mode)
    var output: [UInt8] = []
    var consumed = 0
    for end in cuts + [input.count] where end > consumed {
        let piece = Array(input[consumed..<end])
        var recording = RecordingOutput()
        let used = piece.withUnsafeBytes { decoder.consume($0, into: &recording) }
        guard recording.valid else { return nil }
        output += recording.bytes
        consumed += used
        if used < piece.count { break }
    }
    return DecodedBody(
        output: output, consumed: consumed, isComplete: decoder.isComplete,
        sawBareLineEnding: decoder.sawBareLineEnding)
}

/// Inputs with every kind of line boundary the decoder distinguishes.
private let cases: [String] = [
    "", ".", ".\r", ".\r\n", ".\r\nMAIL FROM:<a@b>\r\n", "\r\n.\r\n", "\r\n.\r\nQUIT\r\n", "a\r\n.\r\n",
    "Hello\r\nWorld\r\n.\r\nQUIT\r\n", "..\r\n.\r\n", "...\r\n.\r\n", ".a\r\n..b\r\n.\r\n",
    // Dots that are not at a line start are content.
    "a.b\r\na.\r\n a\r\n .\r\n.\r\n", "x...y\r\n\t.\r\n.\r\n",
    // Bare line endings, alone and next to dots and real line ends.
    "a\nb\r\n.\r\n", "a\rb\r\n.\r\n", "a\r\r\n.\r\n", "a\n\r\n.\r\n", "a\n.\n.\r\n.\r\n", "a\r.\r.\r\n.\r\n",
    "\n.\r\n.\r\n", "\r.\r\n.\r\n", ".\n.\r\n", ".\r.\r\n", ".\rx\r\n.\r\n", "a\r\n.\r\r\n.\r\n",
    "a\r\n.\rb\r\n.\r\n", "a\r\n.\nb\r\n.\r\n", "\r\r\r\n\n\n\r\n.\r\n", "a\r\n.\r", "a\r\n.", "a\r",
    // The end marker behind a bare line ending, and smuggling attempts.
    "body\r\r\n.\r\nQUIT\r\n", "body\n\r\n.\r\nQUIT\r\n", "x\n.\nMAIL FROM:<e@v>\r\n.\r\n",
    "x\r\n.\nDATA\r\n.\r\n", "x\r.\r\nRCPT\r\n.\r\n",
    // Lines longer than a word, so that line ends fall at every offset of the word-at-a-time search.
    "0123456789abcdef\r\n012345678\r\n0123456\n01234567\r01234567890\r\n..0123456789\r\n.\r\n",
    String(repeating: "abcdefg\r\n", count: 9) + ".\r\n",
]

@Suite("DotUnstuffer in pieces")
struct DotUnstufferChunkingTests {
    @Test("the reference agrees with the documented examples")
    func referenceSanity() {
        #expect(
            referenceDecode(".\r\n".bytes, .reject)
                == DecodedBody(output: [], consumed: 3, isComplete: true, sawBareLineEnding: false))
        #expect(referenceDecode("..x\r\n.\r\nQ".bytes, .reject).output == ".x\r\n".bytes)
        #expect(referenceDecode("a\nb\r\n.\r\n".bytes, .normalize).output == "a\r\nb\r\n".bytes)
    }

    @Test("every cut into two pieces gives what the reference gives", arguments: cases)
    func everyCut(input: String) {
        let bytes = input.bytes
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let expected = referenceDecode(bytes, mode)
            for cut in 0...bytes.count {
                #expect(decode(bytes, mode, cuts: [cut]) == expected, "cut at \(cut), \(mode)")
                #expect(decodeRecording(bytes, mode, cuts: [cut]) == expected, "cut at \(cut), \(mode), runs")
            }
        }
    }

    @Test("every cut into three pieces gives what the reference gives", arguments: cases.filter { $0.utf8.count <= 40 })
    func everyTwoCuts(input: String) {
        let bytes = input.bytes
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let expected = referenceDecode(bytes, mode)
            for first in 0...bytes.count {
                for second in first...bytes.count {
                    #expect(decode(bytes, mode, cuts: [first, second]) == expected, "cuts \(first), \(second)")
                }
            }
        }
    }

    @Test("byte by byte gives what the reference gives", arguments: cases)
    func byteByByte(input: String) {
        let bytes = input.bytes
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            #expect(decode(bytes, mode, cuts: Array(0...bytes.count)) == referenceDecode(bytes, mode))
        }
    }

    @Test("random inputs of CR, LF, dots and letters in random pieces give what the reference gives")
    func randomInputs() {
        var random = SplitMix(seed: 4)
        let alphabet = "\r\n.a".bytes
        for round in 0..<3000 {
            let length = Int(random.next() % 120)
            // Mostly letters in some rounds, so that long runs occur; mostly line-boundary octets in others.
            let letterBias = round % 2 == 0 ? 0 : 6
            let bytes = (0..<length).map { _ in
                let pick = Int(random.next() % UInt64(alphabet.count + letterBias))
                return pick < alphabet.count ? alphabet[pick] : UInt8(ascii: "b")
            }
            let cuts = randomCuts(count: bytes.count, &random)
            for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
                let expected = referenceDecode(bytes, mode)
                #expect(decode(bytes, mode, cuts: cuts) == expected, "\(bytes) cuts \(cuts) \(mode)")
                #expect(decodeRecording(bytes, mode, cuts: cuts) == expected, "\(bytes) cuts \(cuts) \(mode)")
            }
        }
    }

    @Test("a large body of 76-octet lines with stuffed dots, in random reads")
    func largeBody() {
        var random = SplitMix(seed: 76)
        var body: [UInt8] = []
        var expected: [UInt8] = []
        for line in 0..<2000 {
            var text = (0..<76).map { _ in UInt8(ascii: "A") + UInt8(random.next() % 26) }
            if line % 7 == 3 { text[0] = .dot }
            if line % 11 == 5 { text[40] = .dot }
            expected += text + [.cr, .lf]
            body += (text[0] == .dot ? [.dot] : []) + text + [.cr, .lf]
        }
        body += ".\r\nQUIT\r\n".bytes
        for _ in 0..<20 {
            let cuts = randomCuts(count: body.count, &random, maxPiece: 20_000)
            let outcome = decode(body, .reject, cuts: cuts)
            // Compared outside #expect, which would print both megabyte-sized arrays on failure.
            let same = outcome.output == expected
            #expect(same, "output differs; cuts \(cuts.prefix(8))…")
            #expect(outcome.isComplete && !outcome.sawBareLineEnding)
            #expect(outcome.consumed == body.count - "QUIT\r\n".utf8.count)
        }
    }

    @Test("CRLF . CRLF split across pieces at every point ends the body there")
    func endMarkerAcrossPieces() {
        let head = "Subject: x\r\n\r\nline one\r\nline two"
        let input = (head + "\r\n.\r\nQUIT\r\n").bytes
        let markerStart = head.utf8.count
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            for first in markerStart...(markerStart + 5) {
                for second in first...(markerStart + 5) {
                    let outcome = decode(input, mode, cuts: [first, second])
                    #expect(outcome.isComplete)
                    #expect(outcome.consumed == markerStart + 5)
                    #expect(outcome.output == (head + "\r\n").bytes)
                }
            }
        }
    }

    @Test("an unchanged read is handed over as one run, without the CR that ends it")
    func oneRunPerRead() {
        var decoder = DotUnstuffer()
        var recording = RecordingOutput()
        let first = "Subject: x\r\n\r\nno dots here\r\nat all\r".bytes
        _ = first.withUnsafeBytes { decoder.consume($0, into: &recording) }
        #expect(recording.runs == 1)
        #expect(recording.bytes == first.dropLast())

        recording = RecordingOutput()
        let second = "\nmore\r\n.\r\n".bytes
        let used = second.withUnsafeBytes { decoder.consume($0, into: &recording) }
        #expect(used == second.count)
        #expect(recording.bytes == "\r\nmore\r\n".bytes)
        #expect(recording.runs == 1)
    }

    @Test("a stuffed dot splits the read into two runs")
    func stuffedDotSplitsRun() {
        var decoder = DotUnstuffer()
        var recording = RecordingOutput()
        let input = "a\r\n..b\r\nc".bytes
        _ = input.withUnsafeBytes { decoder.consume($0, into: &recording) }
        #expect(recording.runs == 2)
        #expect(recording.bytes == "a\r\n.b\r\nc".bytes)
    }
}

/// Increasing cut offsets within `0...count`, pieces of 1 to `maxPiece` octets (sometimes empty ones).
private func randomCuts(count: Int, _ random: inout SplitMix, maxPiece: Int = 9) -> [Int] {
    var cuts: [Int] = []
    var offset = 0
    while offset < count {
        offset = min(count, offset + Int(random.next() % UInt64(maxPiece + 1)))
        cuts.append(offset)
    }
    return cuts
}

/// A seeded generator, so that a failure can be reproduced.
private struct SplitMix {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
