import Testing

@testable import SMTPCore

/// Replies and exactly what goes on the wire for them.
private let renderings: [(reply: Reply, wire: String)] = [
    (Reply(250, nil, "OK"), "250 OK\r\n"),
    (Reply(250, .init(2, 0, 0), "OK"), "250 2.0.0 OK\r\n"),
    (Reply(220, nil, "mx.example ESMTP Swallow ready"), "220 mx.example ESMTP Swallow ready\r\n"),
    (Reply(550, .init(5, 1, 1), "No such user here"), "550 5.1.1 No such user here\r\n"),
    (
        Reply(250, nil, lines: ["mx.example Hello", "PIPELINING", "HELP"]),
        "250-mx.example Hello\r\n250-PIPELINING\r\n250 HELP\r\n"
    ),
    (
        Reply(214, .init(2, 0, 0), lines: ["first", "second"]),
        "214-2.0.0 first\r\n214 2.0.0 second\r\n"
    ),
    (Reply(250, nil, lines: []), "250 \r\n"),
    (Reply(250, .init(2, 0, 0), lines: []), "250 2.0.0\r\n"),
    (Reply(250, .init(2, 0, 0), ""), "250 2.0.0\r\n"),
    (Reply(250, nil, lines: ["a", ""]), "250-a\r\n250 \r\n"),
    (Reply(250, .init(2, 0, 0), lines: ["", "b"]), "250-2.0.0\r\n250 2.0.0 b\r\n"),
    (Reply(354, nil, "Start mail input; end with <CRLF>.<CRLF>"), "354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
    (Reply(250, nil, "caf\u{E9} \u{1F426}"), "250 caf\u{E9} \u{1F426}\r\n"),
]

/// Texts that try to end a reply line early and inject another.
private let injections: [String] = [
    "No such user\r\n250 OK",
    "No such user\n250 OK",
    "No such user\r250 OK",
    "\r\n",
    "a\r\n\r\nb",
    "trailing\r\n",
    "nul\u{0}byte",
    "tab\there",
    "del\u{7F}ete",
    "esc\u{1B}[31m",
    "\u{1}\u{2}\u{3}\u{1F}",
]

/// Every named reply with its code and enhanced code.
private let presets: [(reply: Reply, codes: String)] = [
    (.ok, "250 2.0.0"),
    (.senderOK, "250 2.1.0"),
    (.recipientOK, "250 2.1.5"),
    (.resetOK, "250 2.0.0"),
    (.startMailInput, "354 -"),
    (.bye, "221 2.0.0"),
    (.badSequence, "503 5.5.1"),
    (.needHelo, "503 5.5.1"),
    (.needMail, "503 5.5.1"),
    (.nestedMail, "503 5.5.1"),
    (.needRecipient, "503 5.5.1"),
    (.unknownCommand, "500 5.5.2"),
    (.lineTooLong, "500 5.5.2"),
    (.notImplemented, "502 5.5.1"),
    (.localError, "451 4.3.0"),
    (.insufficientStorage, "452 4.3.1"),
    (.tooManyRecipients, "452 4.5.3"),
    (.messageTooBig, "552 5.3.4"),
    (.badLineEndings, "550 5.6.0"),
    (.nonASCIIAddress, "553 5.6.7"),
    (.noSuchUser, "550 5.1.1"),
    (.relayDenied, "550 5.7.1"),
    (.cannotVerify, "252 2.5.0"),
    (.expnDisabled, "502 5.5.1"),
    (.turnRefused, "530 5.7.0"),
    (.tooManyErrors, "421 4.7.0"),
    (.timeout, "421 4.4.2"),
    (.shuttingDown, "421 4.3.2"),
    (.tooManyConnections, "421 4.7.0"),
]

@Suite("Reply")
struct ReplyTests {
    @Test("wire text", arguments: renderings)
    func wireText(reply: Reply, wire: String) {
        #expect(reply.wireText == wire)
    }

    @Test("CR, LF and other control characters in a text line cannot inject a line", arguments: injections)
    func noInjection(text: String) {
        for reply in [
            Reply(550, .init(5, 1, 1), text), Reply(550, nil, text),
            Reply(250, nil, lines: ["first", text, "last"]),
        ] {
            let wire = reply.wireText
            let lines = wire.utf8.split(separator: .lf, omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == reply.lines.count, "\(wire.debugDescription)")
            for line in lines {
                #expect(line.last == .cr)
                // The only control character on a wire line is the CR of its CRLF.
                #expect(!line.dropLast().contains { $0 < 0x20 || $0 == 0x7F }, "\(wire.debugDescription)")
                #expect(line.starts(with: "\(reply.code)".utf8))
            }
            #expect(wire.hasSuffix("\r\n"))
        }
    }

    @Test("control characters become spaces")
    func controlCharactersBecomeSpaces() {
        #expect(Reply(550, .init(5, 1, 1), "a\r\nb").wireText == "550 5.1.1 a  b\r\n")
        #expect(Reply(550, nil, "x\u{0}y\u{7F}z").wireText == "550 x y z\r\n")
        #expect(Reply(250, nil, lines: ["a\nb", "c"]).wireText == "250-a b\r\n250 c\r\n")
    }

    @Test("the lines keep their text; only the wire form is cleaned")
    func linesKeepText() {
        #expect(Reply(550, nil, "a\r\nb").lines == ["a\r\nb"])
    }

    @Test("every line of a multi-line reply carries the code and the enhanced code")
    func multiLineCodes() {
        let reply = Reply(451, .init(4, 3, 0), lines: (1...5).map { "line \($0)" })
        let wireLines = reply.wireText.split(separator: "\r\n")
        #expect(wireLines.count == 5)
        for (index, line) in wireLines.enumerated() {
            let separator = index == 4 ? " " : "-"
            #expect(line == "451\(separator)4.3.0 line \(index + 1)")
        }
    }

    @Test("an empty list of lines is one empty line")
    func emptyLines() {
        #expect(Reply(250, nil, lines: []).lines == [""])
    }

    @Test(
        "classification by code",
        arguments: [
            (211, true, false, false), (220, true, false, false), (250, true, false, false),
            (354, true, false, false), (399, true, false, false), (421, false, true, false),
            (451, false, true, false), (499, false, true, false), (500, false, false, true),
            (554, false, false, true), (599, false, false, true),
        ])
    func classification(code: Int, positive: Bool, transient: Bool, permanent: Bool) {
        let reply = Reply(code, nil, "text")
        #expect(reply.isPositive == positive)
        #expect(reply.isTransientFailure == transient)
        #expect(reply.isPermanentFailure == permanent)
    }

    @Test("description")
    func description() {
        #expect(Reply(250, .init(2, 0, 0), "OK").description == "250 2.0.0 OK")
        #expect(Reply(220, nil, "ready").description == "220 ready")
        #expect(Reply(250, nil, lines: ["a", "b"]).description == "250-a\r\n250 b\r\n")
    }

    @Test("a reply is an error that carries itself")
    func replyIsError() {
        func refuse() throws(Reply) { throw Reply.noSuchUser }
        #expect(throws: Reply.noSuchUser) { try refuse() }
        do {
            try refuse()
        } catch {
            #expect(error.code == 550)
        }
    }

    @Test("replies compare by code, enhanced code and lines")
    func equality() {
        #expect(Reply(250, nil, "OK") == Reply(250, nil, lines: ["OK"]))
        #expect(Reply(250, nil, "OK") != Reply(250, .init(2, 0, 0), "OK"))
        #expect(Reply(250, nil, "OK") != Reply(251, nil, "OK"))
        #expect(Reply(250, nil, "OK") != Reply(250, nil, "Ok"))
    }

    @Test("a code outside 200...599 is a programming error")
    func codeOutOfRange() async {
        await #expect(processExitsWith: .failure) { _ = Reply(199, nil, "x") }
        await #expect(processExitsWith: .failure) { _ = Reply(600, nil, "x") }
    }

    @Test("named replies have the codes of RFC 5321 and RFC 3463", arguments: presets)
    func preset(reply: Reply, codes: String) {
        #expect(reply.codes == codes)
    }

    @Test("the enhanced code's class matches the reply code's first digit", arguments: presets.map(\.reply))
    func presetClassesAgree(reply: Reply) {
        if let enhancedCode = reply.enhancedCode {
            #expect(enhancedCode.statusClass == reply.code / 100)
        } else {
            #expect(reply.code == 354)
        }
        #expect(reply.lines.count == 1)
        #expect(!reply.lines[0].isEmpty)
        #expect(reply.wireText.utf8.count <= 512)
    }
}

@Suite("EnhancedStatusCode")
struct EnhancedStatusCodeTests {
    @Test("renders as class.subject.detail")
    func description() {
        #expect(EnhancedStatusCode(2, 0, 0).description == "2.0.0")
        #expect(EnhancedStatusCode(5, 1, 10).description == "5.1.10")
        #expect(EnhancedStatusCode(4, 7, 0).description == "4.7.0")
    }

    @Test("fields")
    func fields() {
        let code = EnhancedStatusCode(5, 6, 7)
        #expect(code.statusClass == 5)
        #expect(code.subject == 6)
        #expect(code.detail == 7)
        #expect(code == EnhancedStatusCode(5, 6, 7))
        #expect(code != EnhancedStatusCode(5, 6, 0))
    }
}
