import Testing

@testable import SMTPCore

private let alice = Mailbox(localPart: "alice", domain: "example.com")
private let bob = Mailbox(localPart: "bob", domain: "example.org")

/// Every command of RFC 5321 §4.1.1 and the extensions, in the forms a client may send.
private let validCommands: [(line: String, command: Command)] = [
    ("HELO client.example", .helo("client.example")),
    ("helo client.example", .helo("client.example")),
    ("HeLo client.example", .helo("client.example")),
    ("HELO  client.example", .helo("client.example")),
    ("HELO client.example ", .helo("client.example")),
    ("HELO [192.0.2.1]", .helo("[192.0.2.1]")),
    ("EHLO client.example", .ehlo("client.example")),
    ("ehlo client.example", .ehlo("client.example")),
    ("EHLO [IPv6:2001:db8::1]", .ehlo("[IPv6:2001:db8::1]")),
    ("EHLO localhost", .ehlo("localhost")),
    ("MAIL FROM:<alice@example.com>", .mail(.mailbox(alice), MailParameters())),
    ("mail from:<alice@example.com>", .mail(.mailbox(alice), MailParameters())),
    ("Mail From:<alice@example.com>", .mail(.mailbox(alice), MailParameters())),
    ("MAIL FROM: <alice@example.com>", .mail(.mailbox(alice), MailParameters())),
    ("MAIL  FROM:<alice@example.com>", .mail(.mailbox(alice), MailParameters())),
    ("MAIL FROM:<alice@example.com>  ", .mail(.mailbox(alice), MailParameters())),
    ("MAIL FROM:<>", .mail(.null, MailParameters())),
    ("MAIL FROM:<> SIZE=10", .mail(.null, MailParameters(size: 10))),
    ("RCPT TO:<bob@example.org>", .rcpt(.mailbox(bob), RcptParameters())),
    ("rcpt to:<bob@example.org>", .rcpt(.mailbox(bob), RcptParameters())),
    ("RCPT TO: <bob@example.org>", .rcpt(.mailbox(bob), RcptParameters())),
    ("RCPT TO:<Postmaster>", .rcpt(.postmaster, RcptParameters())),
    ("RCPT TO:<postmaster>", .rcpt(.postmaster, RcptParameters())),
    ("DATA", .data),
    ("data", .data),
    ("BDAT 100", .bdat(size: 100, last: false)),
    ("BDAT 0 LAST", .bdat(size: 0, last: true)),
    ("bdat 42 last", .bdat(size: 42, last: true)),
    ("BDAT 42  LAST ", .bdat(size: 42, last: true)),
    ("BDAT 007", .bdat(size: 7, last: false)),
    ("BDAT 999999999999999", .bdat(size: 999_999_999_999_999, last: false)),
    ("RSET", .rset),
    ("rset", .rset),
    ("NOOP", .noop),
    ("NOOP anything at all", .noop),
    ("QUIT", .quit),
    ("quit", .quit),
    ("HELP", .help(nil)),
    ("HELP MAIL", .help("MAIL")),
    ("help rcpt", .help("rcpt")),
    ("VRFY postmaster", .vrfy("postmaster")),
    ("VRFY John Smith", .vrfy("John Smith")),
    ("VRFY <bob@example.org>", .vrfy("<bob@example.org>")),
    ("EXPN staff", .expn("staff")),
    ("expn  staff", .expn("staff")),
    ("TURN", .turn),
    ("STARTTLS", .startTLS),
    ("starttls", .startTLS),
    ("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
    ("auth plain dGVzdAB0ZXN0AHRlc3Q=", .auth(mechanism: "PLAIN", initialResponse: "dGVzdAB0ZXN0AHRlc3Q=")),
]

/// Lines whose verb is known but whose arguments break the grammar: 501 5.5.4.
private let syntaxErrors: [String] = [
    "HELO",
    "HELO ",
    "EHLO",
    "EHLO   ",
    "EHLO client.example extra",
    "HELO a b",
    "EHLO caf\u{E9}.example",
    "MAIL",
    "MAIL FROM",
    "MAIL FROM<alice@example.com>",
    "MAIL TO:<alice@example.com>",
    "MAIL FROM:<alice@example.com>SIZE=1",
    "RCPT",
    "RCPT TO",
    "RCPT FROM:<bob@example.org>",
    "RCPT TO <bob@example.org>",
    "RCPT TO:<bob@example.org>NOTIFY=NEVER",
    "DATA now",
    "RSET please",
    "QUIT now",
    "TURN me",
    "STARTTLS now",
    "VRFY",
    "VRFY ",
    "EXPN",
    "EXPN   ",
    "BDAT",
    "BDAT ",
    "BDAT LAST",
    "BDAT -1",
    "BDAT +1",
    "BDAT 1.5",
    "BDAT 0x10",
    "BDAT 10 FIRST",
    "BDAT 10 LAST now",
    "BDAT 10 LASTLY",
    "BDAT 10 20",
    "BDAT 1234567890123456",
    "AUTH",
    "AUTH ",
]

/// Lines that are not commands Swallow knows: 500 5.5.2.
private let unknownCommands: [String] = [
    "",
    " ",
    "  EHLO client.example",
    "FOO",
    "HELOclient.example",
    "MAILFROM:<alice@example.com>",
    "MAIL:FROM:<alice@example.com>",
    "RCPTTO:<bob@example.org>",
    "DATA.",
    "SEND FROM:<alice@example.com>",
    "SOML FROM:<alice@example.com>",
    "SAML FROM:<alice@example.com>",
    "XCLIENT ADDR=192.0.2.1",
    "XEXCH50 1 2",
    "ETRN example.com",
    "ATRN",
    "STARTTLSX",
    "VERYLONGCOMMAND",
    "\u{415}HLO client.example",  // Cyrillic Е
    "GET / HTTP/1.1",
    "POST /mail HTTP/1.1",
]

/// Lines with a control character anywhere: 500 5.5.2, whatever the verb.
private let controlCharacterLines: [[UInt8]] = [
    Array("NOOP\u{0}".utf8),
    Array("EHLO client\u{0}.example".utf8),
    Array("\u{0}".utf8),
    Array("NOOP\r".utf8),
    Array("NOOP\n".utf8),
    Array("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>".utf8),
    Array("MAIL FROM:<alice@example.com>\nRCPT TO:<bob@example.org>".utf8),
    Array("MAIL FROM:<alice@exa\rmple.com>".utf8),
    Array("RCPT TO:<\"bob\u{0}\"@example.org>".utf8),
    Array("EHLO\tclient.example".utf8),
    Array("VRFY bob\u{7F}".utf8),
    Array("DATA\u{1B}[2J".utf8),
    Array("HELP\u{8}".utf8),
    [0x01],
    [0x7F],
]

@Suite("CommandParser")
struct CommandParserTests {
    @Test("parses every command", arguments: validCommands)
    func parsesCommand(line: String, command: Command) {
        #expect(CommandParser.parse(line.bytes) == .success(command))
    }

    @Test("argument syntax errors are 501 5.5.4", arguments: syntaxErrors)
    func syntaxError(line: String) {
        let reply = refusal(line)
        #expect(reply?.code == 501)
        #expect(reply?.enhancedCode == EnhancedStatusCode(5, 5, 4))
    }

    @Test("unknown commands are 500 5.5.2", arguments: unknownCommands)
    func unknownCommand(line: String) {
        #expect(refusal(line) == .unknownCommand)
        #expect(refusal(line)?.codes == "500 5.5.2")
    }

    @Test("control characters, CR, LF and NUL are 500 5.5.2", arguments: controlCharacterLines)
    func controlCharacter(line: [UInt8]) {
        let reply = refusal(line)
        #expect(reply?.codes == "500 5.5.2")
        #expect(reply?.lines.first?.contains("Invalid character") == true)
    }

    @Test("every byte below 0x20 and 0x7F is refused in a line", arguments: Array(0x00...0x1F) + [0x7F])
    func everyControlByte(byte: Int) {
        var line = Array("NOOP x".utf8)
        line.insert(UInt8(byte), at: 5)
        #expect(refusal(line)?.codes == "500 5.5.2")
    }

    @Test("the verb of a line is recognised case-insensitively", arguments: Verb.allCases)
    func verbOfLine(verb: Verb) {
        #expect(CommandParser.verb(of: verb.rawValue.bytes) == verb)
        #expect(CommandParser.verb(of: verb.rawValue.lowercased().bytes) == verb)
        #expect(CommandParser.verb(of: (verb.rawValue + " argument").bytes) == verb)
        #expect(CommandParser.verb(of: (verb.rawValue + "X").bytes) == nil)
    }

    @Test("lines that are no verb have none", arguments: ["", " DATA", "FOO", "MAILFROM:<a@b>", "STARTTLSS", "ÄHLO x"])
    func noVerb(line: String) {
        #expect(CommandParser.verb(of: line.bytes) == nil)
    }

    @Test("syntax replies name the expected form")
    func syntaxReplyTexts() {
        #expect(refusal("EHLO")?.lines == ["Syntax: EHLO hostname"])
        #expect(refusal("HELO")?.lines == ["Syntax: HELO hostname"])
        #expect(refusal("MAIL TO:<a@b>")?.lines == ["Syntax: MAIL FROM:<address> [parameters]"])
        #expect(refusal("RCPT FROM:<a@b>")?.lines == ["Syntax: RCPT TO:<address> [parameters]"])
        #expect(refusal("DATA x")?.lines == ["Syntax: DATA takes no arguments"])
        #expect(refusal("VRFY")?.lines == ["Syntax: VRFY <name or address>"])
        #expect(refusal("EXPN")?.lines == ["Syntax: EXPN <name or address>"])
        #expect(refusal("BDAT x")?.lines == ["Syntax: BDAT chunk-size [LAST]"])
    }

    @Test("the maximum line length is 512 octets with CRLF")
    func maxLineLength() {
        #expect(CommandParser.maxLineLength == 512)
    }

    @Test("VRFY and EXPN refuse arguments that are not UTF-8")
    func lookupNotUTF8() {
        #expect(refusal(Array("VRFY ".utf8) + [0xFF, 0xFE])?.codes == "501 5.5.4")
        #expect(refusal(Array("EXPN ".utf8) + [0xC3])?.codes == "501 5.5.4")
        #expect(parsedCommand("VRFY J\u{F6}rg") == .vrfy("J\u{F6}rg"))
    }

    @Test("HELO and EHLO refuse names that are not printable ASCII")
    func heloNotASCII() {
        #expect(refusal(Array("EHLO ".utf8) + [0xFF])?.codes == "501 5.5.4")
        #expect(refusal("HELO b\u{FC}cher.example")?.codes == "501 5.5.4")
    }

    @Test("MAIL and RCPT keep the parameters with the path")
    func commandWithParameters() {
        #expect(
            parsedCommand("MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME")
                == .mail(.mailbox(alice), MailParameters(size: 1000, body: .eightBitMIME)))
        #expect(
            parsedCommand("RCPT TO:<Postmaster> NOTIFY=NEVER")
                == .rcpt(.postmaster, RcptParameters(notify: DSNNotify(never: true))))
    }
}
