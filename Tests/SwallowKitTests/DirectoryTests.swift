import SMTPCore
import Testing

@testable import SwallowKit

@Suite struct DirectoryTests {
    let directory = Directory(
        domains: [
            DomainConfiguration(
                name: "example.test", mailboxes: ["alice", "bob"],
                aliases: ["team": ["alice", "bob"], "all": ["team", "carol@other.test"]]),
            DomainConfiguration(name: "other.test", mailboxes: ["carol", "alice"]),
        ],
        catchAll: false)

    func rcpt(_ local: String, _ domain: String) -> Directory.Resolution {
        directory.resolve(.mailbox(Mailbox(localPart: local, domain: domain)))
    }

    func box(_ local: String, _ domain: String) -> Directory.MailboxAddress {
        .init(localPart: local, domain: domain)
    }

    @Test func resolvesMailboxesAliasesAndRefusesTheRest() {
        #expect(rcpt("alice", "example.test") == .deliver([box("alice", "example.test")]))
        #expect(rcpt("ALICE", "Example.TEST") == .deliver([box("alice", "example.test")]))
        #expect(rcpt("team", "example.test") == .deliver([box("alice", "example.test"), box("bob", "example.test")]))
        #expect(
            rcpt("all", "example.test")
                == .deliver([box("alice", "example.test"), box("bob", "example.test"), box("carol", "other.test")]))
        #expect(rcpt("zed", "example.test") == .unknownUser)
        #expect(rcpt("alice", "gmail.example") == .notLocal)
        #expect(rcpt("alice", "[127.0.0.1]") == .notLocal)
    }

    @Test func postmasterIsAlwaysAccepted() {
        #expect(directory.resolve(.postmaster) == .deliver([box("postmaster", "example.test")]))
        #expect(rcpt("Postmaster", "other.test") == .deliver([box("postmaster", "other.test")]))
    }

    @Test func catchAllWithoutDomainsAcceptsEveryone() {
        let open = Directory(domains: [], catchAll: true, fallbackDomain: "mx.test")
        #expect(open.resolve(.mailbox(Mailbox(localPart: "x", domain: "any.test"))) == .deliver([box("x", "any.test")]))
        #expect(open.resolve(.postmaster) == .deliver([box("postmaster", "mx.test")]))
    }

    @Test func verifyAndExpand() {
        #expect(directory.verify("bob") == Reply(250, .init(2, 1, 5), "<bob@example.test>"))
        #expect(directory.verify("Bob <bob@example.test>").code == 250)
        #expect(directory.verify("zed").code == 550)
        let ambiguous = directory.verify("alice")
        #expect(ambiguous.code == 553)
        #expect(ambiguous.enhancedCode == .init(5, 1, 4))
        #expect(
            directory.expand("team")
                == Reply(250, .init(2, 1, 5), lines: ["<alice@example.test>", "<bob@example.test>"]))
        #expect(directory.expand("nolist").code == 550)
    }

    @Test(arguments: [
        ("alice", "alice"), ("../etc", "%2E.%2Fetc"), ("a/b", "a%2Fb"), (".hidden", "%2Ehidden"), ("jörg", "jörg"),
        ("x y", "x%20y"),
    ])
    func mailboxPathsStayInsideTheMailDirectory(local: String, component: String) {
        #expect(MailboxPath.component(local) == component)
        let path = MailboxPath.path(for: box(local, "example.test"), under: "/data/mail")
        #expect(path == "/data/mail/example.test/\(component)")
    }
}
