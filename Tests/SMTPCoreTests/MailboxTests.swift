import Testing

@testable import SMTPCore

@Suite("Mailbox and paths")
struct MailboxTests {
    @Test(
        "canonicalLocalPart undoes quoting",
        arguments: [
            ("alice", "alice"),
            ("\"alice\"", "alice"),
            ("\"john doe\"", "john doe"),
            ("\"a\\ b\"", "a b"),
            ("\"a\\\"b\"", "a\"b"),
            ("\"a\\\\b\"", "a\\b"),
            ("\"\"", ""),
            ("\"", "\""),
            ("a\"b\"", "a\"b\""),
            ("\"\u{FC}\\x\"", "\u{FC}x"),
        ])
    func canonicalLocalPart(localPart: String, canonical: String) {
        #expect(Mailbox(localPart: localPart, domain: "example.com").canonicalLocalPart == canonical)
    }

    @Test("description is local@domain, as written")
    func description() {
        #expect(Mailbox(localPart: "\"john doe\"", domain: "Example.COM").description == "\"john doe\"@Example.COM")
    }

    @Test(
        "isASCII",
        arguments: [
            ("alice", "example.com", true), ("\u{FC}ser", "example.com", false), ("user", "b\u{FC}cher.example", false),
            ("\"a b\"", "[127.0.0.1]", true), ("\u{7F}", "x", true),
        ])
    func isASCII(localPart: String, domain: String, expected: Bool) {
        #expect(Mailbox(localPart: localPart, domain: domain).isASCII == expected)
    }

    @Test("hasAddressLiteral")
    func hasAddressLiteral() {
        #expect(Mailbox(localPart: "a", domain: "[127.0.0.1]").hasAddressLiteral)
        #expect(Mailbox(localPart: "a", domain: "[IPv6:::1]").hasAddressLiteral)
        #expect(!Mailbox(localPart: "a", domain: "example.com").hasAddressLiteral)
    }

    @Test("reverse paths")
    func reversePath() {
        let mailbox = Mailbox(localPart: "alice", domain: "example.com")
        #expect(ReversePath.null.description == "<>")
        #expect(ReversePath.null.mailbox == nil)
        #expect(ReversePath.mailbox(mailbox).description == "<alice@example.com>")
        #expect(ReversePath.mailbox(mailbox).mailbox == mailbox)
    }

    @Test("forward paths")
    func forwardPath() {
        let mailbox = Mailbox(localPart: "bob", domain: "example.org")
        #expect(ForwardPath.postmaster.description == "<Postmaster>")
        #expect(ForwardPath.postmaster.mailbox == nil)
        #expect(ForwardPath.mailbox(mailbox).description == "<bob@example.org>")
        #expect(ForwardPath.mailbox(mailbox).mailbox == mailbox)
    }

    @Test("parsed paths print as they were written")
    func roundTrip() {
        for path in [
            "<alice@example.com>", "<\"john doe\"@example.com>", "<a@[IPv6:::1]>", "<\u{FC}@b\u{FC}cher.example>",
        ] {
            guard case .rcpt(let forward, _) = parsedCommand("RCPT TO:\(path)") else {
                Issue.record("\(path) refused")
                continue
            }
            #expect(forward.description == path)
        }
    }
}

@Suite("Recipient and Envelope")
struct EnvelopeTests {
    @Test("defaults")
    func defaults() {
        let recipient = Recipient(path: .postmaster)
        #expect(recipient.parameters == RcptParameters())
        let envelope = Envelope(sender: .null, recipients: [recipient], heloName: "c", protocolName: "ESMTP")
        #expect(envelope.parameters == MailParameters())
        #expect(envelope.recipients == [recipient])
    }

    @Test("the default session configuration")
    func defaultConfiguration() {
        let configuration = SessionConfiguration()
        #expect(configuration.hostname == "localhost")
        #expect(configuration.maxMessageSize == 25 * 1024 * 1024)
        #expect(configuration.maxRecipients >= 100)
        #expect(configuration.maxErrors == 10)
        #expect(configuration.vrfy == .authenticated)
        #expect(configuration.expn == .authenticated)
        #expect(configuration.bareLineEndings == .reject)
        #expect(configuration.chunking)
        #expect(configuration.dsn)
        #expect(configuration.smtpUTF8)
    }
}
