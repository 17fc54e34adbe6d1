import Testing

@testable import SMTPCore

private let date = "Sun, 29 Nov 2026 22:09:00 +0000"
private let alice = Mailbox(localPart: "alice", domain: "example.com")
private let bob = Recipient(path: .mailbox(Mailbox(localPart: "bob", domain: "example.org")))
private let carol = Recipient(path: .mailbox(Mailbox(localPart: "carol", domain: "example.org")))

private func envelope(
    helo: String = "client.example", recipients: [Recipient] = [bob], protocolName: String = "ESMTP"
) -> Envelope {
    Envelope(sender: .mailbox(alice), recipients: recipients, heloName: helo, protocolName: protocolName)
}

private func render(_ envelope: Envelope, clientAddress: String = "192.0.2.1") -> String {
    ReceivedHeader.render(
        envelope: envelope, clientAddress: clientAddress, hostname: "mx.example", id: "4F2A9C", date: date)
}

@Suite("ReceivedHeader")
struct ReceivedHeaderTests {
    @Test("one recipient is named in a for clause")
    func oneRecipient() {
        #expect(
            render(envelope())
                == "Received: from client.example ([192.0.2.1])\r\n"
                + "\tby mx.example (Swallow) with ESMTP id 4F2A9C\r\n"
                + "\tfor <bob@example.org>;\r\n"
                + "\t\(date)\r\n")
    }

    @Test("several recipients are not disclosed")
    func severalRecipients() {
        let header = render(envelope(recipients: [bob, carol]))
        #expect(
            header
                == "Received: from client.example ([192.0.2.1])\r\n"
                + "\tby mx.example (Swallow) with ESMTP id 4F2A9C;\r\n"
                + "\t\(date)\r\n")
        #expect(!header.contains("bob"))
        #expect(!header.contains("carol"))
    }

    @Test("no recipients, no for clause")
    func noRecipients() {
        #expect(!render(envelope(recipients: [])).contains("for"))
    }

    @Test("the postmaster recipient")
    func postmaster() {
        #expect(render(envelope(recipients: [Recipient(path: .postmaster)])).contains("\tfor <Postmaster>;\r\n"))
    }

    @Test("an IPv6 client address", arguments: ["::1", "2001:db8::1"])
    func ipv6(address: String) {
        #expect(
            render(envelope(), clientAddress: address).hasPrefix("Received: from client.example ([\(address)])\r\n"))
    }

    @Test("the protocol keyword", arguments: ["SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "UTF8SMTP", "UTF8SMTPS"])
    func protocolName(name: String) {
        #expect(render(envelope(protocolName: name)).contains("\tby mx.example (Swallow) with \(name) id 4F2A9C"))
    }

    @Test(
        "the HELO name is cleaned of what could break the header",
        arguments: [
            ("client.example", "client.example"),
            ("[192.0.2.1]", "[192.0.2.1]"),
            ("", "unknown"),
            ("()", "unknown"),
            ("evil\r\nX-Injected: yes", "evilX-Injected:yes"),
            ("evil\nBcc: eve@example.net", "evilBcc:eve@example.net"),
            ("evil\rX: y", "evilX:y"),
            ("a(comment)b", "acommentb"),
            ("tab\there", "tabhere"),
            ("b\u{FC}cher.example", "bcher.example"),
            ("\u{1F426}", "unknown"),
        ])
    func heloCleaned(helo: String, shown: String) {
        let header = render(envelope(helo: helo))
        #expect(header.hasPrefix("Received: from \(shown) ([192.0.2.1])\r\n"))
    }

    @Test("the header is folded with CRLF and a tab, and has no bare CR or LF")
    func folding() {
        for helo in ["client.example", "a\r\nb", "x\ny", "p\rq"] {
            let header = render(envelope(helo: helo))
            #expect(header.hasSuffix("\r\n"))
            let lines = header.utf8.split(separator: .lf, omittingEmptySubsequences: false).dropLast()
            for (index, line) in lines.enumerated() {
                #expect(line.last == .cr)
                #expect(!line.dropLast().contains(.cr))
                if index > 0 { #expect(line.first == UInt8(ascii: "\t")) }
            }
        }
    }
}
