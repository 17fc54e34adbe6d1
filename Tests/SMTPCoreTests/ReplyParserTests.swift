import Testing

@testable import SMTPCore

/// Parses `wire` fed in pieces of `chunk` octets and returns the replies, or the error.
private func parse(_ wire: String, chunk: Int = .max, parser: ReplyParser = ReplyParser()) -> Result<
    [Reply], ReplySyntaxError
> {
    var parser = parser
    var replies: [Reply] = []
    let bytes = Array(wire.utf8)
    var index = 0
    do {
        repeat {
            let end = min(bytes.count, index + max(1, min(chunk, bytes.count - index)))
            parser.append(bytes[index..<end])
            index = end
            while let reply = try parser.next() { replies.append(reply) }
        } while index < bytes.count
    } catch {
        return .failure(error)
    }
    return .success(replies)
}

private let fixtures: [(wire: String, replies: [Reply])] = [
    ("220 mx.example ESMTP\r\n", [Reply(220, nil, "mx.example ESMTP")]),
    ("250 2.1.0 Sender OK\r\n", [Reply(250, .init(2, 1, 0), "Sender OK")]),
    ("550 5.1.1 No such user\r\n", [Reply(550, .init(5, 1, 1), "No such user")]),
    // The enhanced code's class must match the reply's: otherwise it is text.
    ("550 2.1.1 odd\r\n", [Reply(550, nil, "2.1.1 odd")]),
    ("250\r\n", [Reply(250, nil, "")]),
    ("250 \r\n", [Reply(250, nil, "")]),
    ("250 2.0.0\r\n", [Reply(250, .init(2, 0, 0), "")]),
    ("354 Go ahead\n", [Reply(354, nil, "Go ahead")]),
    ("334 VXNlcm5hbWU6\r\n", [Reply(334, nil, "VXNlcm5hbWU6")]),
    (
        "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
        [Reply(250, nil, lines: ["mx.example Hello", "PIPELINING", "SIZE 1000", "8BITMIME"])]
    ),
    (
        "451-4.3.0 first\r\n451 4.3.0 second\r\n",
        [Reply(451, .init(4, 3, 0), lines: ["first", "second"])]
    ),
    (
        "250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n",
        [Reply(250, .init(2, 1, 0), "OK"), Reply(250, .init(2, 1, 5), "OK"), Reply(354, nil, "go")]
    ),
    ("250 2.0.0 caf\u{E9}\r\n", [Reply(250, .init(2, 0, 0), "caf\u{E9}")]),
    ("250 5.999.999x\r\n", [Reply(250, nil, "5.999.999x")]),
    ("421 4.4.2 bye\r\n", [Reply(421, .init(4, 4, 2), "bye")]),
]

@Test(arguments: fixtures.indices)
func parsesReplies(_ index: Int) throws {
    let fixture = fixtures[index]
    for chunk in [1, 2, 7, Int.max] {
        #expect(try parse(fixture.wire, chunk: chunk).get() == fixture.replies, "chunk \(chunk)")
    }
}

private let malformed: [(wire: String, error: ReplySyntaxError)] = [
    ("hello\r\n", .malformedLine("hello")),
    ("25\r\n", .malformedLine("25")),
    ("199 x\r\n", .malformedLine("199 x")),
    ("600 x\r\n", .malformedLine("600 x")),
    ("260 x\r\n", .malformedLine("260 x")),
    ("250x\r\n", .malformedLine("250x")),
    ("\r\n", .malformedLine("")),
    ("250-a\r\n251 b\r\n", .inconsistentCode(expected: 250, found: 251)),
]

@Test(arguments: malformed.indices)
func refusesMalformedLines(_ index: Int) {
    #expect(throws: malformed[index].error) { try parse(malformed[index].wire).get() }
}

@Test func boundsLineLength() throws {
    let parser = ReplyParser(maximumLineLength: 64, maximumLines: 4)
    #expect(throws: ReplySyntaxError.lineTooLong(limit: 64)) {
        try parse("250 " + String(repeating: "a", count: 100) + "\r\n", parser: parser).get()
    }
    // Unterminated: refused as soon as it passes the limit, not when the line ends.
    var unterminated = parser
    unterminated.append(Array(repeating: UInt8(ascii: "a"), count: 65))
    #expect(throws: ReplySyntaxError.lineTooLong(limit: 64)) { try unterminated.next() }
    #expect(try parse("250 " + String(repeating: "a", count: 58) + "\r\n", parser: parser).get().count == 1)
}

@Test func boundsLineCount() throws {
    let parser = ReplyParser(maximumLineLength: 64, maximumLines: 4)
    #expect(throws: ReplySyntaxError.tooManyLines(limit: 4)) {
        try parse(String(repeating: "250-x\r\n", count: 10) + "250 x\r\n", parser: parser).get()
    }
    #expect(try parse(String(repeating: "250-x\r\n", count: 3) + "250 x\r\n", parser: parser).get().count == 1)
}

@Test func reportsBufferedBytes() throws {
    var parser = ReplyParser()
    parser.append(Array("220 go ahead\r\n250-inj".utf8))
    #expect(try parser.next() == Reply(220, nil, "go ahead"))
    #expect(try parser.next() == nil)
    #expect(parser.hasBufferedBytes)
    var clean = ReplyParser()
    clean.append(Array("220 go ahead\r\n".utf8))
    _ = try clean.next()
    #expect(!clean.hasBufferedBytes)
}

/// What the server writes, the client reads back unchanged.
@Test func roundTripsServerReplies() throws {
    let replies: [Reply] = [
        .ok, .recipientOK, .startMailInput, .noSuchUser, .tooManyErrors, .authSucceeded, .relayDenied,
        Reply(250, nil, lines: ["mx Hello", "PIPELINING", "SIZE 100"]),
    ]
    let wire = replies.map(\.wireText).joined()
    #expect(try parse(wire, chunk: 3).get() == replies)
}
