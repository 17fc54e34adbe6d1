import Testing

@testable import SMTPCore

/// STARTTLS (RFC 3207) and AUTH (RFC 4954) in the state machine, without I/O.
@Suite("STARTTLS and AUTH")
struct AuthAndTLSStateTests {
    static let offered = SessionConfiguration(
        hostname: "mx.example", startTLS: true, authMechanisms: ["PLAIN", "LOGIN", "SCRAM-SHA-256"])

    func machine(_ configuration: SessionConfiguration = offered, tls: Bool = false) -> ServerStateMachine {
        var machine = ServerStateMachine(configuration: configuration)
        machine.isTLS = tls
        return machine
    }

    func ehloLines(_ machine: inout ServerStateMachine) -> [String] {
        guard case .send(let replies, false) = machine.receive(line: "EHLO c".bytes) else { return [] }
        return replies.first?.lines ?? []
    }

    @Test func plaintextEHLOOffersSTARTTLSButNotAUTH() {
        var m = machine()
        let lines = ehloLines(&m)
        #expect(lines.contains("STARTTLS"))
        #expect(!lines.contains { $0.hasPrefix("AUTH") })
    }

    @Test func startTLSResetsTheSessionAndIsOfferedOnlyOnce() {
        var m = machine()
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "STARTTLS".bytes) == .startTLS(.readyToStartTLS))
        #expect(m.isTLS)
        #expect(m.greeting == nil)
        #expect(m.receive(line: "MAIL FROM:<a@b.test>".bytes) == .reply(.needHelo))
        let lines = ehloLines(&m)
        #expect(!lines.contains("STARTTLS"))
        #expect(lines.contains("AUTH PLAIN LOGIN SCRAM-SHA-256"))
        #expect(m.receive(line: "STARTTLS".bytes) == .reply(.alreadyTLS))
    }

    @Test(arguments: [
        ("STARTTLS x", 501), ("STARTTLS", 503),
    ])
    func startTLSRefusals(line: String, code: Int) {
        var m = machine()
        if code == 501 { _ = m.receive(line: "EHLO c".bytes) }
        guard case .send(let replies, _) = m.receive(line: line.bytes) else {
            Issue.record("expected a reply")
            return
        }
        #expect(replies[0].code == code)
    }

    @Test func startTLSNotOfferedIs502() {
        var m = machine(SessionConfiguration(hostname: "mx.example"))
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "STARTTLS".bytes) == .reply(.notImplemented))
    }

    @Test func authOutsideTLSIs538() {
        var m = machine()
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "AUTH PLAIN".bytes) == .reply(.authNeedsTLS))
    }

    @Test func authSequencing() {
        var m = machine(tls: true)
        #expect(m.receive(line: "AUTH PLAIN".bytes) == .reply(.needHelo))
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "AUTH CRAM-MD5".bytes) == .reply(.authUnknownMechanism))
        #expect(m.receive(line: "AUTH PLAIN !!!!".bytes) == .reply(.authMalformed))
        #expect(
            m.receive(line: "MAIL FROM:<a@b.test>".bytes)
                == .checkSender(.mailbox(.init(localPart: "a", domain: "b.test")), .init()))
        _ = m.senderChecked(nil)
        #expect(m.receive(line: "AUTH PLAIN".bytes) == .reply(.authInTransaction))
    }

    @Test func plainWithChallengeThenSuccess() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "AUTH PLAIN".bytes) == .authenticate(mechanism: "PLAIN", initialResponse: nil))
        #expect(m.authStepped(.challenge([])) == .reply(Reply(334, nil, "")))
        #expect(m.awaitingAuthResponse)
        #expect(m.lineLimit(forLineStarting: "xxxx".bytes) == ServerStateMachine.authLineLength)
        #expect(m.receive(line: "AGEAYg==".bytes) == .continueAuthentication([0, 97, 0, 98]))
        #expect(m.authStepped(.success("a@b.test")) == .authenticated("a@b.test"))
        #expect(m.authenticationRecorded() == .reply(.authSucceeded))
        #expect(m.authenticatedUser == "a@b.test")
        #expect(m.protocolName == "ESMTPSA")
        #expect(m.receive(line: "AUTH PLAIN".bytes) == .reply(.authAlreadyDone))
    }

    @Test func emptyInitialResponseIsDistinctFromNone() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "AUTH PLAIN =".bytes) == .authenticate(mechanism: "PLAIN", initialResponse: []))
    }

    @Test func cancelAndMalformedResponses() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        _ = m.receive(line: "AUTH LOGIN".bytes)
        _ = m.authStepped(.challenge(Array("Username:".utf8)))
        #expect(m.receive(line: "*".bytes) == .reply(.authCancelled))
        #expect(!m.awaitingAuthResponse)
        _ = m.receive(line: "AUTH LOGIN".bytes)
        _ = m.authStepped(.challenge(Array("Username:".utf8)))
        #expect(m.receive(line: "not base64!".bytes) == .reply(.authMalformed))
    }

    @Test func thirdFailureCloses() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        for attempt in 1...3 {
            _ = m.receive(line: "AUTH PLAIN AGEAYg==".bytes)
            let action = m.authStepped(.failure(.badCredentials))
            if attempt < 3 {
                #expect(action == .reply(.authFailed))
            } else {
                guard case .hangUp(let replies, .tooManyAuthFailures) = action else {
                    Issue.record("expected close")
                    return
                }
                #expect(replies.map(\.code) == [535, 421])
                #expect(replies[1].enhancedCode == .init(4, 7, 0))
            }
        }
    }

    @Test func throttledIs454() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        _ = m.receive(line: "AUTH PLAIN AGEAYg==".bytes)
        #expect(m.authStepped(.failure(.throttled)) == .reply(.authThrottled))
    }

    @Test func submissionRequiresAuthBeforeMail() {
        var configuration = Self.offered
        configuration.requireAuth = true
        var m = machine(configuration, tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "MAIL FROM:<a@b.test>".bytes) == .reply(.authRequired))
    }

    @Test func lookupsAndTurnDependOnAuthentication() {
        var configuration = Self.offered
        configuration.vrfy = .authenticated
        configuration.expn = .authenticated
        var m = machine(configuration, tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        #expect(m.receive(line: "VRFY alice".bytes) == .reply(.cannotVerify))
        #expect(m.receive(line: "EXPN team".bytes) == .reply(.expnDisabled))
        #expect(m.receive(line: "TURN".bytes) == .reply(.turnRefused))
        _ = m.receive(line: "AUTH PLAIN AGEAYg==".bytes)
        _ = m.authStepped(.success("a@b.test"))
        _ = m.authenticationRecorded()
        #expect(m.receive(line: "VRFY alice".bytes) == .lookup(.verify, "alice"))
        #expect(m.receive(line: "EXPN team".bytes) == .lookup(.expand, "team"))
        #expect(m.receive(line: "TURN".bytes) == .reply(.turnNotAvailable))
    }

    @Test func authLinesMayBeLongerThanCommands() {
        let m = machine(tls: true)
        #expect(m.lineLimit(forLineStarting: "auth ".bytes) == 12288)
        #expect(m.lineLimit(forLineStarting: "MAIL ".bytes) == 512)
    }

    @Test func mailAuthParameterIsKept() {
        var m = machine(tls: true)
        _ = m.receive(line: "EHLO c".bytes)
        guard case .checkSender(_, let parameters) = m.receive(line: "MAIL FROM:<a@b.test> AUTH=<>".bytes) else {
            Issue.record("MAIL refused")
            return
        }
        #expect(parameters.auth == "<>")
    }

    @Test func mailAuthParameterNeedsAUTHOffered() {
        var m = machine(SessionConfiguration(hostname: "mx.example"))
        _ = m.receive(line: "EHLO c".bytes)
        guard case .send(let replies, false) = m.receive(line: "MAIL FROM:<a@b.test> AUTH=<>".bytes) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(replies[0].code == 555)
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64RFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(plain.utf8) == encoded)
        #expect(Base64.decode(encoded.utf8) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zm9v\n", "Zm=v", "Zm9v====", "*"])
    func base64RejectsNonCanonical(text: String) {
        #expect(Base64.decode(text.utf8) == nil)
    }
}
