import Testing

@testable import SMTPCore

/// Paths accepted in MAIL FROM and RCPT TO, with the mailbox they name.
private let validPaths: [(path: String, localPart: String, domain: String)] = [
    ("<alice@example.com>", "alice", "example.com"),
    ("<Alice.Smith@Example.COM>", "Alice.Smith", "Example.COM"),
    ("<first.middle.last@sub.example.com>", "first.middle.last", "sub.example.com"),
    ("<user+tag@example.com>", "user+tag", "example.com"),
    ("<!#$%&'*+-/=?^_`{|}~@example.com>", "!#$%&'*+-/=?^_`{|}~", "example.com"),
    ("<a@localhost>", "a", "localhost"),
    ("<a@1>", "a", "1"),
    ("<a@123.example>", "a", "123.example"),
    ("<a@x-y--z.example>", "a", "x-y--z.example"),
    ("<0@0.0>", "0", "0.0"),
    // Quoted local parts (RFC 5321 §4.1.2 Quoted-string).
    ("<\"john doe\"@example.com>", "\"john doe\"", "example.com"),
    ("<\"a\\\"b\"@example.com>", "\"a\\\"b\"", "example.com"),
    ("<\"a\\\\b\"@example.com>", "\"a\\\\b\"", "example.com"),
    ("<\"a@b\"@example.com>", "\"a@b\"", "example.com"),
    ("<\"a..b.\"@example.com>", "\"a..b.\"", "example.com"),
    ("<\"<>,;:\"@example.com>", "\"<>,;:\"", "example.com"),
    ("<\"\"@example.com>", "\"\"", "example.com"),
    ("<\"\\ \"@example.com>", "\"\\ \"", "example.com"),
    // Address literals (RFC 5321 §4.1.3).
    ("<user@[127.0.0.1]>", "user", "[127.0.0.1]"),
    ("<user@[192.0.2.1]>", "user", "[192.0.2.1]"),
    ("<user@[IPv6:::1]>", "user", "[IPv6:::1]"),
    ("<user@[IPv6:2001:db8::1]>", "user", "[IPv6:2001:db8::1]"),
    ("<user@[IPv6:::ffff:192.0.2.1]>", "user", "[IPv6:::ffff:192.0.2.1]"),
    ("<postmaster@[127.0.0.1]>", "postmaster", "[127.0.0.1]"),
    // Source routes are accepted and ignored (RFC 5321 §4.1.1.3, appendix C).
    ("<@relay.example:user@example.com>", "user", "example.com"),
    ("<@a.example,@b.example:user@example.com>", "user", "example.com"),
    ("<@a.example,@b.example,@c.example:user@example.com>", "user", "example.com"),
    ("<@[192.0.2.1]:user@example.com>", "user", "example.com"),
    ("<@relay.example:user@[127.0.0.1]>", "user", "[127.0.0.1]"),
    // UTF-8 addresses (RFC 6531 §3.3).
    ("<\u{FC}ser@example.com>", "\u{FC}ser", "example.com"),
    ("<user@b\u{FC}cher.example>", "user", "b\u{FC}cher.example"),
    ("<\u{7528}\u{6237}@\u{4F8B}\u{5B50}.\u{5E7F}\u{544A}>", "\u{7528}\u{6237}", "\u{4F8B}\u{5B50}.\u{5E7F}\u{544A}"),
    (
        "<\u{418}\u{432}\u{430}\u{43D}@\u{43F}\u{440}\u{438}\u{43C}\u{435}\u{440}.\u{440}\u{444}>",
        "\u{418}\u{432}\u{430}\u{43D}", "\u{43F}\u{440}\u{438}\u{43C}\u{435}\u{440}.\u{440}\u{444}"
    ),
    ("<\"\u{FC} ser\"@example.com>", "\"\u{FC} ser\"", "example.com"),
    ("<\u{1F600}@example.com>", "\u{1F600}", "example.com"),
]

/// Paths that break the grammar in either MAIL FROM or RCPT TO.
private let invalidPaths: [String] = [
    "",
    "alice@example.com",
    "<alice@example.com",
    "alice@example.com>",
    "<<alice@example.com>>",
    "<alice>",
    "<alice@>",
    "<@example.com>",
    "<@>",
    "<alice@@example.com>",
    "<alice@b@example.com>",
    "<a..b@example.com>",
    "<.alice@example.com>",
    "<alice.@example.com>",
    "<al ice@example.com>",
    "<alice @example.com>",
    "<alice@ example.com>",
    "<alice@example.com >",
    "< alice@example.com>",
    "<a(b)@example.com>",
    "<a,b@example.com>",
    "<a[b]@example.com>",
    "<a\\b@example.com>",
    "<a\"b@example.com>",
    "<alice@example..com>",
    "<alice@.example.com>",
    "<alice@example.com.>",
    "<alice@-example.com>",
    "<alice@example-.com>",
    "<alice@sub.-example.com>",
    "<alice@exa_mple.com>",
    "<alice@exa+mple.com>",
    "<alice@example.com:25>",
    "<alice@[]>",
    "<alice@[127.0.0.1>",
    "<alice@127.0.0.1]>",
    "<alice@[127.0.0.1]x>",
    "<alice@[a[b]>",
    "<alice@[a\\]b]>",
    "<alice@[a b]>",
    "<alice@example.com[1]>",
    // Quoted strings.
    "<\"alice@example.com>",
    "<\"alice\"example.com>",
    "<\"alice\"x@example.com>",
    "<x\"alice\"@example.com>",
    "<\"a\\\u{E9}\"@example.com>",
    "<\"abc\\\">",
    // Source routes.
    "<@relay.example>",
    "<@relay.example:>",
    "<@relay.example,user@example.com>",
    "<@relay.example user@example.com>",
    "<@:user@example.com>",
    "<@,@b.example:user@example.com>",
    "<@relay.example,:user@example.com>",
    "<@-relay.example:user@example.com>",
    "<relay.example:user@example.com>",
    // The null path is only a reverse path; postmaster needs nothing around it.
    "<<>>",
    "<postmaster@>",
]

@Suite("AddressParser, through CommandParser")
struct AddressParserTests {
    @Test("valid paths in MAIL FROM", arguments: validPaths)
    func validSender(path: String, localPart: String, domain: String) {
        #expect(senderMailbox(path) == Mailbox(localPart: localPart, domain: domain))
    }

    @Test("valid paths in RCPT TO", arguments: validPaths)
    func validRecipient(path: String, localPart: String, domain: String) {
        #expect(
            parsedCommand("RCPT TO:\(path)")
                == .rcpt(.mailbox(Mailbox(localPart: localPart, domain: domain)), RcptParameters()))
    }

    @Test("invalid paths in MAIL FROM are 501 5.1.7", arguments: invalidPaths)
    func invalidSender(path: String) {
        let reply = refusal("MAIL FROM:\(path)")
        #expect(reply?.codes == "501 5.1.7")
        #expect(reply?.lines == ["Bad sender address syntax"])
    }

    @Test("invalid paths in RCPT TO are 501 5.1.3", arguments: invalidPaths + ["<>"])
    func invalidRecipient(path: String) {
        let reply = refusal("RCPT TO:\(path)")
        #expect(reply?.codes == "501 5.1.3")
        #expect(reply?.lines == ["Bad recipient address syntax"])
    }

    @Test("<> is the null sender")
    func nullSender() {
        #expect(parsedCommand("MAIL FROM:<>") == .mail(.null, MailParameters()))
        #expect(parsedCommand("MAIL FROM: <> BODY=7BIT") == .mail(.null, MailParameters(body: .sevenBit)))
    }

    @Test(
        "<Postmaster> without a domain is the special recipient, in any case",
        arguments: ["<postmaster>", "<Postmaster>", "<POSTMASTER>", "<PostMaster>"])
    func postmaster(path: String) {
        #expect(parsedCommand("RCPT TO:\(path)") == .rcpt(.postmaster, RcptParameters()))
        #expect(
            parsedCommand("RCPT TO:\(path) NOTIFY=FAILURE")
                == .rcpt(.postmaster, RcptParameters(notify: DSNNotify(failure: true))))
    }

    @Test("postmaster with a domain is an ordinary mailbox")
    func postmasterWithDomain() {
        #expect(
            parsedCommand("RCPT TO:<Postmaster@example.com>")
                == .rcpt(.mailbox(Mailbox(localPart: "Postmaster", domain: "example.com")), RcptParameters()))
        #expect(
            parsedCommand("RCPT TO:<postmasters@example.com>")
                == .rcpt(.mailbox(Mailbox(localPart: "postmasters", domain: "example.com")), RcptParameters()))
    }

    @Test("<postmaster> is not a sender")
    func postmasterIsNoSender() {
        #expect(refusal("MAIL FROM:<postmaster>")?.codes == "501 5.1.7")
    }

    @Test("the local part may have 64 octets but not 65")
    func localPartLength() {
        let longest = String(repeating: "a", count: 64)
        #expect(senderMailbox("<\(longest)@example.com>")?.localPart == longest)
        #expect(refusal("MAIL FROM:<\(longest)a@example.com>") == Reply(501, .init(5, 1, 7), "Sender address too long"))
        #expect(
            refusal("RCPT TO:<\(longest)a@example.com>") == Reply(501, .init(5, 1, 3), "Recipient address too long"))
    }

    @Test("the quotes of a quoted local part count toward its 64 octets")
    func quotedLocalPartLength() {
        let inner = String(repeating: "q", count: 62)
        #expect(senderMailbox("<\"\(inner)\"@example.com>")?.localPart == "\"\(inner)\"")
        #expect(refusal("MAIL FROM:<\"\(inner)q\"@example.com>")?.lines == ["Sender address too long"])
    }

    @Test("UTF-8 local parts are measured in octets")
    func utf8LocalPartLength() {
        // 32 two-octet characters are 64 octets; 33 are 66.
        let fits = String(repeating: "\u{FC}", count: 32)
        #expect(senderMailbox("<\(fits)@example.com>")?.localPart == fits)
        #expect(refusal("MAIL FROM:<\(fits)\u{FC}@example.com>")?.lines == ["Sender address too long"])
    }

    @Test("a path may hold 256 octets between its angle brackets but not 257")
    func pathLength() {
        let local = String(repeating: "a", count: 64)
        let fits = "\(local)@\(domain(length: 191))"
        #expect(fits.utf8.count == 256)
        #expect(senderMailbox("<\(fits)>")?.domain == domain(length: 191))
        #expect(parsedCommand("RCPT TO:<\(fits)>") != nil)

        let tooLong = "\(local)@\(domain(length: 192))"
        #expect(refusal("MAIL FROM:<\(tooLong)>")?.lines == ["Sender address too long"])
        #expect(refusal("RCPT TO:<\(tooLong)>")?.lines == ["Recipient address too long"])
    }

    @Test("a domain over 255 octets is too long")
    func domainLength() {
        #expect(refusal("MAIL FROM:<a@\(domain(length: 256))>")?.lines == ["Sender address too long"])
        #expect(refusal("RCPT TO:<a@\(domain(length: 300))>")?.lines == ["Recipient address too long"])
        #expect(refusal("RCPT TO:<a@\(domain(length: 300))>")?.codes == "501 5.1.3")
    }

    @Test("a source route counts toward the path length")
    func sourceRouteLength() {
        let route = "@\(domain(length: 200)):"
        #expect(refusal("MAIL FROM:<\(route)user@\(domain(length: 60))>")?.lines == ["Sender address too long"])
        #expect(senderMailbox("<\(route)user@\(domain(length: 40))>")?.localPart == "user")
    }

    @Test("an over-long domain in a source route is too long")
    func sourceRouteDomainTooLong() {
        #expect(refusal("MAIL FROM:<@\(domain(length: 256)):a@b>")?.lines == ["Sender address too long"])
    }

    @Test(
        "bytes that are not UTF-8 are refused in local parts and domains",
        arguments: [
            [0xFF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xC0, 0xAF],
        ] as [[UInt8]])
    func invalidUTF8(sequence: [UInt8]) {
        let inLocalPart = Array("MAIL FROM:<a".utf8) + sequence + Array("b@example.com>".utf8)
        #expect(refusal(inLocalPart)?.codes == "501 5.1.7")
        let inDomain = Array("RCPT TO:<a@ex".utf8) + sequence + Array("ample.com>".utf8)
        #expect(refusal(inDomain)?.codes == "501 5.1.3")
        let inQuotes = Array("RCPT TO:<\"a".utf8) + sequence + Array("\"@example.com>".utf8)
        #expect(refusal(inQuotes)?.codes == "501 5.1.3")
    }

    @Test("the parser keeps the local part verbatim and Mailbox undoes the quoting")
    func quotedLocalPartIsKept() {
        let mailbox = senderMailbox("<\"john\\ \\\"jd\\\" doe\"@example.com>")
        #expect(mailbox?.localPart == "\"john\\ \\\"jd\\\" doe\"")
        #expect(mailbox?.canonicalLocalPart == "john \"jd\" doe")
    }

    @Test("address literals are recognised")
    func addressLiteral() {
        #expect(senderMailbox("<a@[127.0.0.1]>")?.hasAddressLiteral == true)
        #expect(senderMailbox("<a@[IPv6:::1]>")?.hasAddressLiteral == true)
        #expect(senderMailbox("<a@example.com>")?.hasAddressLiteral == false)
    }
}

@Suite("AddressParser, directly")
struct AddressParserDirectTests {
    @Test("a mailbox stops at the first byte that cannot continue it")
    func mailboxStops() throws {
        var scanner = ByteScanner(Array("alice@example.com> rest".utf8))
        let mailbox = try AddressParser.parseMailbox(&scanner)
        #expect(mailbox == Mailbox(localPart: "alice", domain: "example.com"))
        #expect(scanner.peek == UInt8(ascii: ">"))
    }

    @Test("the reverse path leaves the parameters for the parameter parser")
    func reversePathStops() throws {
        var scanner = ByteScanner(Array("<> SIZE=1".utf8))
        #expect(try AddressParser.parseReversePath(&scanner) == .null)
        #expect(Array(scanner.rest) == Array(" SIZE=1".utf8))
    }

    @Test("the limits are those of RFC 5321 §4.5.3.1")
    func limits() {
        #expect(AddressParser.maxLocalPartLength == 64)
        #expect(AddressParser.maxDomainLength == 255)
        #expect(AddressParser.maxPathLength == 256)
    }

    @Test("parse failures distinguish syntax from length")
    func failures() {
        var bad = ByteScanner(Array("<a b@c>".utf8))
        #expect(throws: AddressParser.Failure.syntax) { try AddressParser.parseForwardPath(&bad) }
        var long = ByteScanner(Array("<\(String(repeating: "x", count: 65))@c>".utf8))
        #expect(throws: AddressParser.Failure.tooLong) { try AddressParser.parseForwardPath(&long) }
    }
}
