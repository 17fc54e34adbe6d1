import Testing

@testable import SMTPCore

/// The result of running a `DotUnstuffer` over some input.
private typealias Outcome = DecodedBody

/// Feeds `input` to a fresh unstuffer in pieces of `pieceSizes` (cycled), stopping once it has left bytes unconsumed.
private func unstuff(
    _ input: [UInt8], _ mode: DotUnstuffer.BareLineEndings = .reject, pieceSizes: [Int]? = nil
) -> Outcome {
    var unstuffer = DotUnstuffer(bareLineEndings: mode)
    var output: [UInt8] = []
    var consumed = 0
    var piece = 0
    while consumed < input.count {
        let size = min(pieceSizes.map { $0[piece % $0.count] } ?? input.count, input.count - consumed)
        piece += 1
        let slice = Array(input[consumed..<(consumed + size)])
        let used = slice.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        consumed += used
        if used < size { break }
    }
    return Outcome(
        output: output, consumed: consumed, isComplete: unstuffer.isComplete,
        sawBareLineEnding: unstuffer.sawBareLineEnding)
}

private func unstuff(_ input: String, _ mode: DotUnstuffer.BareLineEndings = .reject, pieceSizes: [Int]? = nil)
    -> Outcome
{
    unstuff(input.bytes, mode, pieceSizes: pieceSizes)
}

/// Bodies in CRLF form and what the unstuffer delivers for them.
private let wellFormedBodies: [(input: String, output: String)] = [
    (".\r\n", ""),
    ("\r\n.\r\n", "\r\n"),
    ("Hello\r\n.\r\n", "Hello\r\n"),
    ("Subject: test\r\n\r\nHello\r\nWorld\r\n.\r\n", "Subject: test\r\n\r\nHello\r\nWorld\r\n"),
    ("..\r\n.\r\n", ".\r\n"),
    ("...\r\n.\r\n", "..\r\n"),
    ("..hidden\r\n.\r\n", ".hidden\r\n"),
    ("a\r\n..b\r\n.\r\n", "a\r\n.b\r\n"),
    ("a\r\n..\r\n.\r\n", "a\r\n.\r\n"),
    ("a\r\n...\r\n.\r\n", "a\r\n..\r\n"),
    // "If the first character is a period and there are other characters on the line, the first character is
    // deleted": a client that did not stuff loses the dot, as with every RFC 5321 server.
    (".a\r\n.\r\n", "a\r\n"),
    (". \r\n.\r\n", " \r\n"),
    ("a.b\r\n.\r\n", "a.b\r\n"),
    ("a.\r\n.\r\n", "a.\r\n"),
    ("a\r\n .\r\n.\r\n", "a\r\n .\r\n"),
    ("a\r\n\t.\r\n.\r\n", "a\r\n\t.\r\n"),
    ("\r\n\r\n\r\n.\r\n", "\r\n\r\n\r\n"),
    ("x\u{0}y\r\n.\r\n", "x\u{0}y\r\n"),
    ("caf\u{E9} \u{1F426}\r\n.\r\n", "caf\u{E9} \u{1F426}\r\n"),
]

/// Every way of writing something like an end marker with a bare CR or LF somewhere. None may end the body:
/// that is how SMTP smuggling (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766) works.
private let smugglingMarkers: [String] = [
    "\n.\n",
    "\n.\r\n",
    "\r.\r\n",
    "\r\n.\r",
    "\r\n.\n",
    "\r.\n",
    "\n.\r",
    "\r.\r",
    "\n.\r\r\n",
    "\r\n.\r\r\n",
    "\r\n.\n\r\n",
    "\r\n\n.\r\n",
    "\r\n\r.\r\n",
    "\r\n.\r\r\n\n",
    "\n\n.\n\n",
    "\r\r.\r\r",
    "\r\n.\u{0}\r\n",
    "\r\n. \r\n",
    "\r\n .\r\n",
    "\r\n\u{0}.\r\n",
    "\n..\n",
    "\r\n..\r\n",
]

/// The same markers at the very start of the body, where the CRLF of the DATA line counts as the line start.
private let smugglingMarkersAtStart: [String] = [
    ".\n",
    ".\r",
    ".\r\r\n",
    ".\n\r\n",
    "..\r\n",
    ". \r\n",
    "\n.\r\n",
    "\r.\r\n",
]

@Suite("DotUnstuffer")
struct DotUnstufferTests {
    @Test("well-formed bodies", arguments: wellFormedBodies)
    func wellFormed(input: String, output: String) {
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let outcome = unstuff(input, mode)
            #expect(outcome.output == output.bytes)
            #expect(outcome.consumed == input.utf8.count)
            #expect(outcome.isComplete)
            #expect(!outcome.sawBareLineEnding)
        }
    }

    @Test("an empty body is just the end marker")
    func emptyBody() {
        #expect(unstuff(".\r\n") == Outcome(output: [], consumed: 3, isComplete: true, sawBareLineEnding: false))
    }

    @Test("a new unstuffer has seen nothing")
    func initialState() {
        let unstuffer = DotUnstuffer()
        #expect(!unstuffer.isComplete)
        #expect(!unstuffer.sawBareLineEnding)
    }

    @Test("empty input consumes nothing")
    func emptyInput() {
        var unstuffer = DotUnstuffer()
        var output: [UInt8] = []
        let used = [UInt8]().withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(used == 0)
        #expect(output.isEmpty)
        #expect(!unstuffer.isComplete)
    }

    @Test("bytes after the end marker are not consumed")
    func stopsAtEnd() {
        let body = "Hello\r\n.\r\n"
        let pipelined = body + "MAIL FROM:<next@example.com>\r\nRCPT TO:<x@example.com>\r\n"
        for pieceSizes in [nil, [1], [2], [3], [5], [7], [64]] as [[Int]?] {
            let outcome = unstuff(pipelined, pieceSizes: pieceSizes)
            #expect(outcome.isComplete)
            #expect(outcome.consumed == body.utf8.count)
            #expect(outcome.output == "Hello\r\n".bytes)
        }
    }

    @Test("after the end, consume takes nothing and writes nothing")
    func nothingAfterEnd() {
        var unstuffer = DotUnstuffer()
        var output: [UInt8] = []
        _ = ".\r\n".bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(unstuffer.isComplete)
        let used = "more\r\n.\r\n".bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(used == 0)
        #expect(output.isEmpty)
    }

    @Test("an end marker that is cut off is not the end")
    func incomplete() {
        for partial in ["Hello\r\n", "Hello\r\n.", "Hello\r\n.\r", "Hello\r", "Hello", "."] {
            let outcome = unstuff(partial)
            #expect(!outcome.isComplete, "\(partial.debugDescription)")
            #expect(outcome.consumed == partial.utf8.count)
        }
    }

    @Test("the body may be continued after any cut")
    func continuation() {
        var unstuffer = DotUnstuffer()
        var output: [UInt8] = []
        for piece in ["Hel", "lo\r", "\n.", ".x\r\n", ".", "\r", "\n", "ignored"] {
            _ = piece.bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        }
        #expect(unstuffer.isComplete)
        #expect(output == "Hello\r\n.x\r\n".bytes)
    }

    @Test("smuggling markers do not end the body", arguments: smugglingMarkers)
    func smuggling(marker: String) {
        let smuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
        let head = "From: a@example.com\r\n\r\nbody"
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            // Without a real end marker, everything is message content.
            let open = unstuff(head + marker + smuggled, mode)
            #expect(!open.isComplete, "\(marker.debugDescription) ended the body under \(mode)")
            #expect(open.consumed == (head + marker + smuggled).utf8.count)

            // The real end marker afterwards ends it, with the smuggled commands inside the message.
            let input = head + marker + smuggled + ".\r\n"
            let closed = unstuff(input, mode)
            #expect(closed.isComplete)
            #expect(closed.consumed == input.utf8.count)
            #expect(String(decoding: closed.output, as: UTF8.self).contains(smuggled))
        }
    }

    @Test("smuggling markers at the start of the body do not end it", arguments: smugglingMarkersAtStart)
    func smugglingAtStart(marker: String) {
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let outcome = unstuff(marker + "QUIT\r\n", mode)
            #expect(!outcome.isComplete, "\(marker.debugDescription) ended the body under \(mode)")
            #expect(outcome.consumed == (marker + "QUIT\r\n").utf8.count)
        }
    }

    @Test("only CRLF . CRLF ends the body: every marker of CR, LF and dot up to five octets")
    func exhaustiveMarkers() {
        // All strings over {CR, LF, "."} of length 1...5, placed mid-line after "x". The body ends exactly when
        // the string contains CRLF "." CRLF.
        let alphabet: [UInt8] = [.cr, .lf, .dot]
        var candidates: [[UInt8]] = [[]]
        for _ in 1...5 {
            candidates = candidates.flatMap { prefix in alphabet.map { prefix + [$0] } }
            for candidate in candidates {
                let input = Array("x".utf8) + candidate
                let endsAt = firstRange(of: [.cr, .lf, .dot, .cr, .lf], in: input)
                for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
                    let outcome = unstuff(input, mode)
                    #expect(outcome.isComplete == (endsAt != nil), "\(candidate) under \(mode)")
                    if let endsAt {
                        #expect(outcome.consumed == endsAt + 5)
                    }
                }
            }
        }
    }

    @Test(
        "a real end marker right after a bare CR or LF still ends the body",
        arguments: ["\r\r\n.\r\n", "\n\r\n.\r\n", "\r\n\r\r\n.\r\n"])
    func endAfterBareLineEnding(marker: String) {
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let outcome = unstuff("body" + marker + "QUIT\r\n", mode)
            #expect(outcome.isComplete)
            #expect(outcome.sawBareLineEnding)
            #expect(outcome.consumed == ("body" + marker).utf8.count)
        }
    }

    @Test("bare LF and bare CR are kept and flagged under .reject")
    func bareLineEndingsRejected() {
        let cases: [(String, String)] = [
            ("a\nb\r\n.\r\n", "a\nb\r\n"),
            ("a\rb\r\n.\r\n", "a\rb\r\n"),
            ("a\r\r\n.\r\n", "a\r\r\n"),
            ("a\n\r\n.\r\n", "a\n\r\n"),
            ("\n.\r\n.\r\n", "\n.\r\n"),
            // A dot at the start of a line followed by a bare line ending is a dot followed by other characters.
            ("a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n"),
            ("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n"),
        ]
        for (input, output) in cases {
            let outcome = unstuff(input, .reject)
            #expect(outcome.output == output.bytes, "\(input.debugDescription)")
            #expect(outcome.sawBareLineEnding, "\(input.debugDescription)")
            #expect(outcome.isComplete)
        }
    }

    @Test("bare LF and bare CR become CRLF under .normalize")
    func bareLineEndingsNormalized() {
        let cases: [(String, String)] = [
            ("a\nb\r\n.\r\n", "a\r\nb\r\n"),
            ("a\rb\r\n.\r\n", "a\r\nb\r\n"),
            ("a\r\r\n.\r\n", "a\r\n\r\n"),
            ("a\n\r\n.\r\n", "a\r\n\r\n"),
            ("a\n\nb\r\n.\r\n", "a\r\n\r\nb\r\n"),
            ("a\r\rb\r\n.\r\n", "a\r\n\r\nb\r\n"),
            ("\n.\r\n.\r\n", "\r\n.\r\n"),
            ("a\r\n.\nb\r\n.\r\n", "a\r\n\r\nb\r\n"),
            ("a\r\n.\rb\r\n.\r\n", "a\r\n\r\nb\r\n"),
        ]
        for (input, output) in cases {
            let outcome = unstuff(input, .normalize)
            #expect(outcome.output == output.bytes, "\(input.debugDescription)")
            #expect(outcome.sawBareLineEnding, "\(input.debugDescription)")
            #expect(outcome.isComplete)
        }
    }

    @Test("normalized output has no bare CR or LF")
    func normalizedOutputIsCRLF() {
        for marker in smugglingMarkers + smugglingMarkersAtStart {
            let outcome = unstuff("a" + marker + "b\r\n.\r\n", .normalize)
            #expect(outcome.isComplete)
            #expect(!hasBareLineEnding(outcome.output), "\(marker.debugDescription)")
        }
    }

    @Test("a bare line ending at the very end of a piece is judged by the next piece")
    func bareCRAcrossPieces() {
        var unstuffer = DotUnstuffer(bareLineEndings: .reject)
        var output: [UInt8] = []
        _ = "a\r".bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(!unstuffer.sawBareLineEnding)
        _ = "\nb".bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(!unstuffer.sawBareLineEnding)
        _ = "\rc".bytes.withUnsafeBytes { unstuffer.consume($0, into: &output) }
        #expect(unstuffer.sawBareLineEnding)
        #expect(output == "a\r\nb\rc".bytes)
    }

    @Test(
        "feeding byte by byte or in any pieces gives the same result as all at once",
        arguments: wellFormedBodies.map(\.input) + smugglingMarkers.map { "x" + $0 + "y\r\n.\r\nTAIL" }
            + smugglingMarkersAtStart.map { $0 + "y\r\n.\r\n" } + [
                "Subject: x\r\n\r\n..a\r\n.b\r\n\r\n..\r\n.\r\nQUIT\r\n", "a\rb\nc\r\r\n\n..\r.\r\n", "",
            ])
    func piecewise(input: String) {
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            let whole = unstuff(input, mode)
            for pieceSizes in [[1], [2], [3], [4], [5], [1, 2], [3, 1, 4, 1, 5], [7, 1], [1000]] {
                #expect(unstuff(input, mode, pieceSizes: pieceSizes) == whole, "pieces \(pieceSizes) \(mode)")
            }
        }
    }
}

private func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
}

private func hasBareLineEnding(_ bytes: [UInt8]) -> Bool {
    for (index, byte) in bytes.enumerated() {
        if byte == .cr, index + 1 >= bytes.count || bytes[index + 1] != .lf { return true }
        if byte == .lf, index == 0 || bytes[index - 1] != .cr { return true }
    }
    return false
}
