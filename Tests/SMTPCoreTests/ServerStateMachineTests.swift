import Testing

@testable import SMTPCore

private let alice = Mailbox(localPart: "alice", domain: "example.com")
private let bob = Mailbox(localPart: "bob", domain: "example.org")
private let carol = Mailbox(localPart: "carol", domain: "example.org")

/// Drives a `ServerStateMachine` the way the I/O layer does.
private struct Session {
    var machine: ServerStateMachine

    init(_ configuration: SessionConfiguration) {
        machine = ServerStateMachine(configuration: configuration)
    }

    init(
        maxMessageSize: Int = 25 * 1024 * 1024, maxRecipients: Int = 100, maxErrors: Int = 10,
        vrfy: LookupPolicy = .disabled, expn: LookupPolicy = .disabled,
        bareLineEndings: DotUnstuffer.BareLineEndings = .reject, chunking: Bool = true, dsn: Bool = true,
        smtpUTF8: Bool = true
    ) {
        self.init(
            SessionConfiguration(
                hostname: "mx.example", maxMessageSize: maxMessageSize, maxRecipients: maxRecipients,
                maxErrors: maxErrors, vrfy: vrfy, expn: expn, bareLineEndings: bareLineEndings, chunking: chunking,
                dsn: dsn, smtpUTF8: smtpUTF8))
    }

    mutating func receive(_ line: String) -> Action {
        machine.receive(line: line.bytes)
    }

    /// Sends a line and lets the backend accept whatever it is asked about.
    mutating func accept(_ line: String) -> Action {
        let action = receive(line)
        switch action {
        case .checkSender: return machine.senderChecked(nil)
        case .checkRecipient(let recipient): return machine.recipientChecked(recipient, refusal: nil)
        default: return action
        }
    }

    /// EHLO, MAIL and RCPT, all accepted.
    mutating func begin(
        ehlo: String = "EHLO client.example", mail: String = "MAIL FROM:<alice@example.com>",
        rcpts: [String] = ["RCPT TO:<bob@example.org>"]
    ) {
        #expect(accept(ehlo).singleReply?.code == 250)
        #expect(accept(mail) == .reply(.senderOK))
        for rcpt in rcpts {
            #expect(accept(rcpt) == .reply(.recipientOK))
        }
    }

    /// DATA and the backend's consent; the body may come.
    mutating func openData() {
        guard case .openMessage = receive("DATA") else {
            Issue.record("DATA did not open a message")
            return
        }
        #expect(machine.messageOpened(refusal: nil) == .reply(.startMailInput))
    }
}

private let queued = Reply(250, .init(2, 0, 0), "OK queued as 4F2A9C")

@Suite("ServerStateMachine")
struct ServerStateMachineTests {
    // MARK: Greeting and EHLO

    @Test("the greeting is 220 with the hostname")
    func greeting() {
        let session = Session()
        #expect(session.machine.greetingReply == Reply(220, nil, "mx.example ESMTP Swallow ready"))
        #expect(session.machine.greeting == nil)
        #expect(session.machine.transaction == nil)
        #expect(session.machine.errorCount == 0)
    }

    @Test("the full happy path through DATA")
    func happyPath() {
        var session = Session()
        let ehlo = session.receive("EHLO client.example")
        #expect(ehlo.singleReply?.code == 250)
        #expect(session.machine.greeting?.name == "client.example")
        #expect(session.machine.greeting?.extended == true)

        #expect(
            session.receive("MAIL FROM:<alice@example.com> SIZE=1000")
                == .checkSender(.mailbox(alice), MailParameters(size: 1000)))
        #expect(session.machine.senderChecked(nil) == .reply(.senderOK))
        #expect(session.machine.transaction?.sender == .mailbox(alice))

        let recipient = Recipient(path: .mailbox(bob))
        #expect(session.receive("RCPT TO:<bob@example.org>") == .checkRecipient(recipient))
        #expect(session.machine.recipientChecked(recipient, refusal: nil) == .reply(.recipientOK))
        #expect(session.machine.transaction?.recipients == [recipient])

        let expected = Envelope(
            sender: .mailbox(alice), parameters: MailParameters(size: 1000), recipients: [recipient],
            heloName: "client.example", protocolName: "ESMTP")
        #expect(session.receive("DATA") == .openMessage(expected))
        #expect(session.machine.messageOpened(refusal: nil) == .send([.startMailInput], close: false))
        #expect(Reply.startMailInput.code == 354)
        #expect(session.machine.dataReceived(size: 1000, sawBareLineEnding: false) == .commit)
        #expect(session.machine.messageCommitted(queued) == .reply(queued))
        #expect(session.machine.transaction == nil)

        // A second transaction on the same session.
        #expect(session.receive("MAIL FROM:<>") == .checkSender(.null, MailParameters()))
        #expect(session.machine.senderChecked(nil) == .reply(.senderOK))
        #expect(session.receive("QUIT") == .send([.bye], close: true))
        #expect(session.machine.errorCount == 0)
    }

    @Test("HELO starts a plain session")
    func helo() {
        var session = Session()
        #expect(session.receive("HELO client.example") == .reply(Reply(250, nil, "mx.example Hello client.example")))
        #expect(session.machine.greeting?.extended == false)
        #expect(session.machine.protocolName == "SMTP")
        session.begin(ehlo: "HELO client.example")
        guard case .openMessage(let envelope) = session.receive("DATA") else {
            Issue.record("no openMessage")
            return
        }
        #expect(envelope.protocolName == "SMTP")
        #expect(envelope.heloName == "client.example")
    }

    @Test("EHLO lists the extensions")
    func ehloKeywords() {
        var session = Session()
        let reply = session.receive("EHLO client.example").singleReply
        #expect(reply?.code == 250)
        #expect(reply?.enhancedCode == nil)
        #expect(
            reply?.lines == [
                "mx.example Hello client.example", "PIPELINING", "SIZE 26214400", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "DSN", "HELP",
            ])
        #expect(
            reply?.wireText
                == "250-mx.example Hello client.example\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n"
                + "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 HELP\r\n"
        )
    }

    @Test(
        "EHLO follows the configuration",
        arguments: [
            (SessionConfiguration(maxMessageSize: 0), ["SIZE"], ["SIZE 0"]),
            (SessionConfiguration(maxMessageSize: 1000), ["SIZE 1000"], ["SIZE"]),
            (SessionConfiguration(smtpUTF8: false), ["8BITMIME"], ["SMTPUTF8"]),
            (SessionConfiguration(chunking: false), ["DSN"], ["CHUNKING", "BINARYMIME"]),
            (SessionConfiguration(dsn: false), ["CHUNKING"], ["DSN"]),
            (SessionConfiguration(vrfy: .enabled), ["VRFY"], ["EXPN"]),
            (SessionConfiguration(expn: .enabled), ["EXPN"], ["VRFY"]),
            (
                SessionConfiguration(), ["PIPELINING", "ENHANCEDSTATUSCODES", "HELP"],
                ["VRFY", "EXPN", "STARTTLS", "AUTH"]
            ),
        ])
    func ehloConfiguration(configuration: SessionConfiguration, present: [String], absent: [String]) {
        var session = Session(configuration)
        let lines = session.receive("EHLO client.example").singleReply?.lines ?? []
        #expect(lines.first == "localhost Hello client.example")
        for keyword in present { #expect(lines.contains(keyword), "\(keyword) missing") }
        for keyword in absent { #expect(!lines.contains(keyword), "\(keyword) present") }
    }

    @Test("a second EHLO is allowed and replaces the name")
    func secondEhlo() {
        var session = Session()
        _ = session.receive("HELO first.example")
        _ = session.receive("EHLO second.example")
        #expect(session.machine.greeting?.name == "second.example")
        #expect(session.machine.greeting?.extended == true)
    }

    // MARK: Sequencing

    @Test(
        "commands out of sequence are 503 5.5.1",
        arguments: [
            ([], "MAIL FROM:<alice@example.com>", Reply.needHelo),
            ([], "MAIL FROM:<>", Reply.needHelo),
            ([], "MAIL", Reply.needHelo),
            ([], "RCPT TO:<bob@example.org>", Reply.needMail),
            ([], "DATA", Reply.needMail),
            (["EHLO c"], "RCPT TO:<bob@example.org>", Reply.needMail),
            (["EHLO c"], "RCPT", Reply.needMail),
            (["EHLO c"], "DATA", Reply.needMail),
            (["HELO c"], "DATA", Reply.needMail),
            (["EHLO c", "MAIL FROM:<a@b>"], "DATA", Reply.needRecipient),
            (["EHLO c", "MAIL FROM:<a@b>"], "MAIL FROM:<c@d>", Reply.nestedMail),
            (["EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>"], "MAIL FROM:<e@f>", Reply.nestedMail),
            (["EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>"], "MAIL FROM:<>", Reply.nestedMail),
            (["EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RSET"], "DATA", Reply.needMail),
            (["EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "EHLO c"], "RCPT TO:<c@d>", Reply.needMail),
        ] as [([String], String, Reply)])
    func outOfSequence(before: [String], line: String, expected: Reply) {
        var session = Session()
        for earlier in before { _ = session.accept(earlier) }
        let errors = session.machine.errorCount
        let action = session.receive(line)
        #expect(action == .reply(expected))
        #expect(expected.codes == "503 5.5.1")
        #expect(session.machine.errorCount == errors + 1)
    }

    @Test(
        "these commands need no greeting",
        arguments: [
            ("NOOP", Action.reply(.ok)), ("RSET", .reply(.resetOK)), ("VRFY bob", .reply(.cannotVerify)),
            ("QUIT", .send([.bye], close: true)),
        ])
    func noGreetingNeeded(line: String, expected: Action) {
        var session = Session()
        #expect(session.receive(line) == expected)
        #expect(session.machine.errorCount == 0)
    }

    @Test("a sender refused by the backend leaves no transaction")
    func senderRefused() {
        var session = Session()
        _ = session.receive("EHLO client.example")
        _ = session.receive("MAIL FROM:<alice@example.com>")
        #expect(session.machine.senderChecked(.relayDenied) == .reply(.relayDenied))
        #expect(session.machine.transaction == nil)
        #expect(session.receive("RCPT TO:<bob@example.org>") == .reply(.needMail))
        #expect(session.accept("MAIL FROM:<alice@example.com>") == .reply(.senderOK))
    }

    @Test("a recipient refused by the backend is not added")
    func recipientRefused() {
        var session = Session()
        session.begin(rcpts: [])
        guard case .checkRecipient(let recipient) = session.receive("RCPT TO:<nobody@example.org>") else {
            Issue.record("no checkRecipient")
            return
        }
        #expect(session.machine.recipientChecked(recipient, refusal: .noSuchUser) == .reply(.noSuchUser))
        #expect(session.machine.transaction?.recipients == [])
        #expect(session.receive("DATA") == .reply(.needRecipient))
        #expect(session.accept("RCPT TO:<bob@example.org>") == .reply(.recipientOK))
        #expect(session.machine.transaction?.recipients.count == 1)
    }

    @Test("several recipients are kept in order, <Postmaster> included")
    func severalRecipients() {
        var session = Session()
        session.begin(rcpts: [
            "RCPT TO:<bob@example.org>", "RCPT TO:<Postmaster>", "RCPT TO:<carol@example.org> NOTIFY=NEVER",
        ])
        #expect(
            session.machine.transaction?.recipients == [
                Recipient(path: .mailbox(bob)), Recipient(path: .postmaster),
                Recipient(path: .mailbox(carol), parameters: RcptParameters(notify: DSNNotify(never: true))),
            ])
    }

    // MARK: Resetting

    @Test("RSET abandons the transaction")
    func rset() {
        var session = Session()
        session.begin()
        #expect(session.receive("RSET") == .reset(then: .resetOK))
        #expect(session.machine.transaction == nil)
        #expect(session.receive("RSET") == .reply(.resetOK))
        #expect(session.accept("MAIL FROM:<alice@example.com>") == .reply(.senderOK))
    }

    @Test("RSET keeps the greeting")
    func rsetKeepsGreeting() {
        var session = Session()
        session.begin()
        _ = session.receive("RSET")
        #expect(session.machine.greeting?.name == "client.example")
    }

    @Test("EHLO and HELO abandon the transaction", arguments: ["EHLO again.example", "HELO again.example"])
    func ehloResets(line: String) {
        var session = Session()
        session.begin()
        guard case .reset(let reply) = session.receive(line) else {
            Issue.record("\(line) did not reset")
            return
        }
        #expect(reply.code == 250)
        #expect(reply.lines[0] == "mx.example Hello again.example")
        #expect(session.machine.transaction == nil)
    }

    // MARK: Sizes

    @Test("a declared SIZE over the limit is 552 5.3.4")
    func declaredSizeTooBig() {
        var session = Session(maxMessageSize: 1000)
        _ = session.receive("EHLO client.example")
        #expect(session.receive("MAIL FROM:<alice@example.com> SIZE=1001") == .reply(.messageTooBig))
        #expect(Reply.messageTooBig.codes == "552 5.3.4")
        #expect(session.machine.transaction == nil)
        #expect(session.receive("MAIL FROM:<alice@example.com> SIZE=99999999999999999999") == .reply(.messageTooBig))
        #expect(
            session.receive("MAIL FROM:<alice@example.com> SIZE=1000")
                == .checkSender(.mailbox(alice), MailParameters(size: 1000)))
    }

    @Test("without a limit any SIZE is accepted")
    func noSizeLimit() {
        var session = Session(maxMessageSize: 0)
        _ = session.receive("EHLO client.example")
        #expect(
            session.receive("MAIL FROM:<alice@example.com> SIZE=99999999999999999999")
                == .checkSender(.mailbox(alice), MailParameters(size: Int.max)))
        _ = session.machine.senderChecked(nil)
        _ = session.accept("RCPT TO:<bob@example.org>")
        session.openData()
        #expect(session.machine.dataReceived(size: Int.max, sawBareLineEnding: false) == .commit)
    }

    @Test("a body over the limit is aborted with 552 5.3.4")
    func bodyTooBig() {
        var session = Session(maxMessageSize: 1000)
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 1001, sawBareLineEnding: false) == .abortMessage(.messageTooBig))
        #expect(session.machine.transaction == nil)
        #expect(session.accept("MAIL FROM:<alice@example.com>") == .reply(.senderOK))
    }

    @Test("a body of exactly the limit is committed")
    func bodyAtLimit() {
        var session = Session(maxMessageSize: 1000)
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 1000, sawBareLineEnding: false) == .commit)
    }

    // MARK: Line endings

    @Test("bare line endings abort the message under .reject")
    func bareLineEndingsRejected() {
        var session = Session(bareLineEndings: .reject)
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 10, sawBareLineEnding: true) == .abortMessage(.badLineEndings))
        #expect(Reply.badLineEndings.codes == "550 5.6.0")
        #expect(session.machine.transaction == nil)
    }

    @Test("bare line endings are committed under .normalize")
    func bareLineEndingsNormalized() {
        var session = Session(bareLineEndings: .normalize)
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 10, sawBareLineEnding: true) == .commit)
        #expect(session.machine.messageCommitted(queued) == .reply(queued))
    }

    @Test("too big wins over bare line endings")
    func tooBigAndBare() {
        var session = Session(maxMessageSize: 10)
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 11, sawBareLineEnding: true) == .abortMessage(.messageTooBig))
    }

    // MARK: The backend and the body

    @Test("a message the backend will not open is refused and the transaction reset")
    func openRefused() {
        var session = Session()
        session.begin()
        guard case .openMessage = session.receive("DATA") else {
            Issue.record("no openMessage")
            return
        }
        #expect(session.machine.messageOpened(refusal: .insufficientStorage) == .reset(then: .insufficientStorage))
        #expect(session.machine.transaction == nil)
        #expect(session.receive("DATA") == .reply(.needMail))
    }

    @Test("a failed commit ends the transaction with the backend's reply")
    func commitFailed() {
        var session = Session()
        session.begin()
        session.openData()
        #expect(session.machine.dataReceived(size: 5, sawBareLineEnding: false) == .commit)
        #expect(session.machine.messageCommitted(.localError) == .reply(.localError))
        #expect(session.machine.transaction == nil)
        #expect(session.machine.errorCount == 0)
    }

    // MARK: Limits

    @Test("more recipients than allowed are 452 4.5.3")
    func tooManyRecipients() {
        var session = Session(maxRecipients: 2)
        session.begin(rcpts: ["RCPT TO:<bob@example.org>", "RCPT TO:<carol@example.org>"])
        #expect(session.receive("RCPT TO:<dave@example.org>") == .reply(.tooManyRecipients))
        #expect(Reply.tooManyRecipients.codes == "452 4.5.3")
        #expect(session.machine.transaction?.recipients.count == 2)
        #expect(session.receive("RCPT TO:<Postmaster>") == .reply(.tooManyRecipients))
        // The transaction goes on with the recipients it has.
        guard case .openMessage(let envelope) = session.receive("DATA") else {
            Issue.record("no openMessage")
            return
        }
        #expect(envelope.recipients.count == 2)
    }

    @Test("the default recipient limit is at least the 100 of RFC 5321")
    func defaultRecipientLimit() {
        var session = Session()
        session.begin(rcpts: (1...100).map { "RCPT TO:<user\($0)@example.org>" })
        #expect(session.machine.transaction?.recipients.count == 100)
        #expect(session.receive("RCPT TO:<user101@example.org>") == .reply(.tooManyRecipients))
    }

    @Test("the error limit sends 421 4.7.0 and closes")
    func errorLimit() {
        var session = Session(maxErrors: 3)
        #expect(session.receive("FOO") == .reply(.unknownCommand))
        #expect(session.receive("EHLO") == .reply(Reply(501, .init(5, 5, 4), "Syntax: EHLO hostname")))
        #expect(session.machine.errorCount == 2)
        let last = session.receive("DATA")
        #expect(last == .hangUp([.needMail, .tooManyErrors], reason: .tooManyErrors))
        #expect(last.closes)
        #expect(Reply.tooManyErrors.codes == "421 4.7.0")
        #expect(session.machine.errorCount == 3)
    }

    @Test(
        "every kind of protocol error counts toward the limit",
        arguments: [
            "FOO", "MAIL FROM:<a@b>", "EHLO", "HELO a b", "NOOP\u{0}", "DATA", "RCPT TO:<a@b>", "EXPN staff", "TURN",
            "STARTTLS", "AUTH PLAIN", "BDAT x",
        ])
    func errorsCount(line: String) {
        var session = Session(maxErrors: 1)
        let action = session.receive(line)
        #expect(action.closes, "\(line)")
        #expect(action.replies?.count == 2)
        #expect(action.replies?.last == .tooManyErrors)
    }

    @Test("a line too long is 500 5.5.2 and counts as an error")
    func lineTooLong() {
        var session = Session(maxErrors: 2)
        #expect(session.machine.lineTooLong() == .reply(.lineTooLong))
        #expect(Reply.lineTooLong.codes == "500 5.5.2")
        #expect(
            session.machine.lineTooLong() == .hangUp([.lineTooLong, .tooManyErrors], reason: .tooManyErrors))
    }

    @Test("refusals that are not protocol errors do not count")
    func notErrors() {
        var session = Session(maxMessageSize: 10, maxErrors: 1)
        session.begin()
        #expect(session.receive("VRFY bob").singleReply == .cannotVerify)
        #expect(session.receive("NOOP").singleReply == .ok)
        #expect(session.receive("HELP").singleReply?.code == 214)
        #expect(session.receive("RCPT TO:<b\u{F6}b@example.org>") == .reply(.nonASCIIAddress))
        session.openData()
        #expect(session.machine.dataReceived(size: 11, sawBareLineEnding: false) == .abortMessage(.messageTooBig))
        #expect(session.receive("MAIL FROM:<alice@example.com> SIZE=11") == .reply(.messageTooBig))
        #expect(session.machine.errorCount == 0)
    }

    @Test("with maxErrors 0 there is no error limit")
    func noErrorLimit() {
        var session = Session(maxErrors: 0)
        for _ in 0..<200 {
            #expect(session.receive("FOO") == .reply(.unknownCommand))
        }
        #expect(session.machine.errorCount == 200)
    }

    // MARK: SMTPUTF8

    @Test(
        "a non-ASCII sender needs SMTPUTF8: 553 5.6.7",
        arguments: ["<\u{FC}ser@example.com>", "<user@b\u{FC}cher.example>", "<\"\u{FC} ser\"@example.com>"])
    func nonASCIISender(path: String) {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(session.receive("MAIL FROM:\(path)") == .reply(.nonASCIIAddress))
        #expect(Reply.nonASCIIAddress.codes == "553 5.6.7")
        guard case .checkSender(let sender, let parameters) = session.receive("MAIL FROM:\(path) SMTPUTF8") else {
            Issue.record("SMTPUTF8 sender not accepted")
            return
        }
        #expect(sender.mailbox?.isASCII == false)
        #expect(parameters.smtpUTF8)
    }

    @Test("a non-ASCII recipient needs SMTPUTF8 on MAIL: 553 5.6.7")
    func nonASCIIRecipient() {
        var plain = Session()
        plain.begin(rcpts: [])
        #expect(plain.receive("RCPT TO:<b\u{F6}b@example.org>") == .reply(.nonASCIIAddress))
        #expect(plain.receive("RCPT TO:<bob@\u{E9}xample.org>") == .reply(.nonASCIIAddress))

        var utf8 = Session()
        utf8.begin(mail: "MAIL FROM:<alice@example.com> SMTPUTF8", rcpts: ["RCPT TO:<b\u{F6}b@\u{E9}xample.org>"])
        #expect(utf8.machine.transaction?.recipients.first?.path.mailbox?.isASCII == false)
    }

    @Test("SMTPUTF8 is refused as unknown when it is not offered")
    func smtpUTF8NotOffered() {
        var session = Session(smtpUTF8: false)
        _ = session.receive("EHLO client.example")
        #expect(session.receive("MAIL FROM:<alice@example.com> SMTPUTF8") == .reply(ParameterParser.unknownParameter))
        #expect(session.receive("MAIL FROM:<\u{FC}ser@example.com>") == .reply(.nonASCIIAddress))
        #expect(session.machine.errorCount == 1)
    }

    // MARK: DSN and BODY parameters

    @Test(
        "DSN parameters are refused when DSN is not offered",
        arguments: [
            "MAIL FROM:<alice@example.com> RET=FULL", "MAIL FROM:<alice@example.com> ENVID=x",
            "RCPT TO:<bob@example.org> NOTIFY=NEVER", "RCPT TO:<bob@example.org> ORCPT=rfc822;bob@example.org",
        ])
    func dsnNotOffered(line: String) {
        var session = Session(dsn: false)
        _ = session.receive("EHLO client.example")
        if line.hasPrefix("RCPT") { _ = session.accept("MAIL FROM:<alice@example.com>") }
        #expect(session.receive(line) == .reply(ParameterParser.unknownParameter))
        #expect(session.machine.errorCount == 1)
    }

    @Test("DSN parameters reach the backend when DSN is offered")
    func dsnOffered() {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(
            session.receive("MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159")
                == .checkSender(.mailbox(alice), MailParameters(dsnReturn: .headers, envelopeID: "QQ314159")))
        _ = session.machine.senderChecked(nil)
        let recipient = Recipient(
            path: .mailbox(bob),
            parameters: RcptParameters(
                notify: DSNNotify(success: true, failure: true),
                originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob@example.org")))
        #expect(
            session.receive("RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org")
                == .checkRecipient(recipient))
    }

    @Test("BODY=BINARYMIME is refused when CHUNKING is not offered")
    func binaryMIMENotOffered() {
        var session = Session(chunking: false)
        _ = session.receive("EHLO client.example")
        #expect(
            session.receive("MAIL FROM:<alice@example.com> BODY=BINARYMIME") == .reply(ParameterParser.unknownParameter)
        )
        #expect(
            session.receive("MAIL FROM:<alice@example.com> BODY=8BITMIME")
                == .checkSender(.mailbox(alice), MailParameters(body: .eightBitMIME)))
    }

    @Test("BODY=BINARYMIME cannot use DATA")
    func binaryMIMEWithData() {
        var session = Session()
        session.begin(mail: "MAIL FROM:<alice@example.com> BODY=BINARYMIME")
        #expect(session.receive("DATA") == .reply(Reply(503, .init(5, 5, 1), "BODY=BINARYMIME requires BDAT")))
        #expect(session.machine.transaction != nil)
    }

    // MARK: VRFY, EXPN, TURN, HELP, NOOP, QUIT

    @Test("VRFY disabled answers 252 without asking")
    func vrfyDisabled() {
        var session = Session()
        #expect(session.receive("VRFY bob") == .reply(.cannotVerify))
        #expect(Reply.cannotVerify.codes == "252 2.5.0")
    }

    @Test("VRFY enabled asks the backend")
    func vrfyEnabled() {
        var session = Session(vrfy: .enabled)
        #expect(session.receive("VRFY bob") == .lookup(.verify, "bob"))
        let answer = Reply(250, .init(2, 1, 5), "Bob <bob@example.org>")
        #expect(session.machine.lookupAnswered(answer) == .reply(answer))
        #expect(session.receive("VRFY") == .reply(Reply(501, .init(5, 5, 4), "Syntax: VRFY <name or address>")))
    }

    @Test("EXPN disabled is 502")
    func expnDisabled() {
        var session = Session()
        #expect(session.receive("EXPN staff") == .reply(.expnDisabled))
        #expect(Reply.expnDisabled.codes == "502 5.5.1")
        #expect(session.machine.errorCount == 1)
    }

    @Test("EXPN enabled asks the backend")
    func expnEnabled() {
        var session = Session(expn: .enabled)
        #expect(session.receive("EXPN staff") == .lookup(.expand, "staff"))
        let answer = Reply(250, .init(2, 1, 5), lines: ["<bob@example.org>", "<carol@example.org>"])
        #expect(session.machine.lookupAnswered(answer) == .reply(answer))
    }

    @Test("VRFY and EXPN do not disturb a transaction")
    func lookupsKeepTransaction() {
        var session = Session(vrfy: .enabled, expn: .enabled)
        session.begin()
        _ = session.receive("VRFY bob")
        _ = session.machine.lookupAnswered(.cannotVerify)
        _ = session.receive("EXPN staff")
        _ = session.machine.lookupAnswered(.expnDisabled)
        _ = session.receive("NOOP")
        _ = session.receive("HELP DATA")
        #expect(session.machine.transaction?.recipients.count == 1)
        #expect(session.receive("DATA") != .reply(.needMail))
    }

    @Test("TURN is 530 5.7.0")
    func turn() {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(session.receive("TURN") == .reply(.turnRefused))
        #expect(Reply.turnRefused.codes == "530 5.7.0")
    }

    @Test(
        "STARTTLS and AUTH are not implemented",
        arguments: ["STARTTLS", "AUTH PLAIN", "AUTH LOGIN", "AUTH", "STARTTLS x"])
    func notImplemented(line: String) {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(session.receive(line) == .reply(.notImplemented))
    }

    @Test("QUIT says goodbye and closes, even in a transaction")
    func quit() {
        var session = Session()
        #expect(session.receive("QUIT") == .send([.bye], close: true))
        #expect(Reply.bye.codes == "221 2.0.0")
        var busy = Session()
        busy.begin()
        #expect(busy.receive("quit") == .send([.bye], close: true))
    }

    @Test("QUIT with an argument is a syntax error")
    func quitWithArgument() {
        var session = Session()
        #expect(session.receive("QUIT now").singleReply?.codes == "501 5.5.4")
    }

    @Test("NOOP is 250")
    func noop() {
        var session = Session()
        #expect(session.receive("NOOP") == .reply(.ok))
        #expect(session.receive("NOOP whatever") == .reply(.ok))
    }

    @Test("HELP answers from HelpText", arguments: [nil, "MAIL", "bdat", "FOO"] as [String?])
    func help(topic: String?) {
        var session = Session()
        let line = topic.map { "HELP \($0)" } ?? "HELP"
        #expect(session.receive(line) == .reply(HelpText.reply(for: topic)))
    }

    // MARK: Refused lines

    @Test("unknown commands are 500 5.5.2", arguments: ["FOO", "", "MAILFROM:<a@b>", "XCLIENT NAME=x"])
    func unknown(line: String) {
        var session = Session()
        #expect(session.receive(line) == .reply(.unknownCommand))
    }

    @Test(
        "control characters are 500 5.5.2",
        arguments: ["NOOP\u{0}", "EHLO a\rb", "MAIL FROM:<a@b>\nDATA", "RSET\u{7F}"])
    func controlCharacters(line: String) {
        var session = Session()
        _ = session.receive("EHLO client.example")
        let reply = session.receive(line).singleReply
        #expect(reply?.codes == "500 5.5.2")
        #expect(reply?.lines == ["Invalid character (control, CR, LF or NUL) in command line"])
    }

    @Test(
        "syntax errors reach the client",
        arguments: [
            ("EHLO", "501 5.5.4"), ("MAIL FROM:<a@b", "501 5.1.7"), ("MAIL FROM:<a@b> FOO", "555 5.5.4"),
            ("MAIL FROM:<a@b> SIZE=x", "501 5.5.4"),
        ])
    func syntaxErrors(line: String, codes: String) {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(session.receive(line).singleReply?.codes == codes)
        #expect(session.machine.transaction == nil)
    }

    @Test("a bad recipient keeps the transaction")
    func badRecipientKeepsTransaction() {
        var session = Session()
        session.begin()
        #expect(session.receive("RCPT TO:<bad").singleReply?.codes == "501 5.1.3")
        #expect(session.machine.transaction?.recipients.count == 1)
    }

    // MARK: BDAT

    @Test("BDAT chunks, then LAST")
    func bdatChunks() {
        var session = Session()
        session.begin()
        guard case .receiveChunk(10, let open?, true) = session.receive("BDAT 10") else {
            Issue.record("first chunk does not open the message")
            return
        }
        #expect(open.sender == .mailbox(alice))
        #expect(open.recipients == [Recipient(path: .mailbox(bob))])
        #expect(open.protocolName == "ESMTP")
        #expect(session.machine.chunkReceived() == .reply(Reply(250, .init(2, 0, 0), "10 octets received")))

        #expect(session.receive("BDAT 5") == .receiveChunk(size: 5, open: nil, deliver: true))
        #expect(session.machine.chunkReceived() == .reply(Reply(250, .init(2, 0, 0), "15 octets received")))
        #expect(session.machine.transaction?.chunkedSize == 15)
        #expect(session.machine.transaction?.chunked == true)

        #expect(session.receive("BDAT 0 LAST") == .receiveChunk(size: 0, open: nil, deliver: true))
        #expect(session.machine.chunkReceived() == .commit)
        #expect(session.machine.messageCommitted(queued) == .reply(queued))
        #expect(session.machine.transaction == nil)
        #expect(session.machine.errorCount == 0)
    }

    @Test("a single BDAT LAST opens and commits")
    func bdatSingle() {
        var session = Session()
        session.begin()
        guard case .receiveChunk(100, .some, true) = session.receive("BDAT 100 LAST") else {
            Issue.record("BDAT LAST does not open the message")
            return
        }
        #expect(session.machine.chunkReceived() == .commit)
        #expect(session.machine.messageCommitted(queued) == .reply(queued))
    }

    @Test("BDAT without MAIL reads its octets and answers 503")
    func bdatWithoutMail() {
        var session = Session()
        _ = session.receive("EHLO client.example")
        #expect(session.receive("BDAT 100") == .receiveChunk(size: 100, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.needMail))
        #expect(session.receive("BDAT 50 LAST") == .receiveChunk(size: 50, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.needMail))
        #expect(session.machine.errorCount == 2)
        #expect(session.machine.transaction == nil)
    }

    @Test("BDAT before any greeting reads its octets and answers 503")
    func bdatBeforeGreeting() {
        var session = Session()
        #expect(session.receive("BDAT 7 LAST") == .receiveChunk(size: 7, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.needMail))
    }

    @Test("BDAT without RCPT reads its octets and answers 503")
    func bdatWithoutRecipient() {
        var session = Session()
        session.begin(rcpts: [])
        #expect(session.receive("BDAT 10 LAST") == .receiveChunk(size: 10, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.needRecipient))
        // The transaction survives; a recipient can still be added.
        #expect(session.accept("RCPT TO:<bob@example.org>") == .reply(.recipientOK))
    }

    @Test("BDAT over the size limit is read, refused, and the LAST chunk aborts")
    func bdatTooBig() {
        var session = Session(maxMessageSize: 100)
        session.begin()
        guard case .receiveChunk(60, .some, true) = session.receive("BDAT 60") else {
            Issue.record("first chunk refused")
            return
        }
        #expect(session.machine.chunkReceived() == .reply(Reply(250, .init(2, 0, 0), "60 octets received")))
        #expect(session.receive("BDAT 50") == .receiveChunk(size: 50, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.messageTooBig))
        #expect(session.receive("BDAT 1 LAST") == .receiveChunk(size: 1, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .abortMessage(.messageTooBig))
        #expect(session.machine.transaction == nil)
    }

    @Test("a first BDAT chunk over the limit never opens the message")
    func bdatFirstTooBig() {
        var session = Session(maxMessageSize: 100)
        session.begin()
        #expect(session.receive("BDAT 101 LAST") == .receiveChunk(size: 101, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .abortMessage(.messageTooBig))
    }

    @Test("BDAT of exactly the limit is accepted")
    func bdatAtLimit() {
        var session = Session(maxMessageSize: 100)
        session.begin()
        _ = session.receive("BDAT 40")
        _ = session.machine.chunkReceived()
        #expect(session.receive("BDAT 60 LAST") == .receiveChunk(size: 60, open: nil, deliver: true))
        #expect(session.machine.chunkReceived() == .commit)
    }

    @Test("BDAT sizes that overflow an Int saturate instead of trapping")
    func bdatOverflow() {
        let chunk = 999_999_999_999_999
        let chunks = Int.max / chunk + 2

        var limited = Session(maxMessageSize: 1000)
        limited.begin()
        _ = limited.receive("BDAT \(chunk)")
        #expect(limited.machine.chunkReceived() == .reply(.messageTooBig))

        var unlimited = Session(maxMessageSize: 0)
        unlimited.begin()
        let envelope = unlimited.openEnvelope
        for index in 0..<chunks {
            let action = unlimited.receive("BDAT \(chunk)")
            #expect(action == .receiveChunk(size: chunk, open: index == 0 ? envelope : nil, deliver: true))
            _ = unlimited.machine.chunkReceived()
        }
        #expect(unlimited.machine.transaction?.chunkedSize == Int.max)
        _ = unlimited.receive("BDAT 1 LAST")
        #expect(unlimited.machine.chunkReceived() == .commit)
    }

    @Test("DATA cannot follow BDAT, nor RCPT")
    func dataAfterBdat() {
        var session = Session()
        session.begin()
        _ = session.receive("BDAT 10")
        _ = session.machine.chunkReceived()
        #expect(session.receive("DATA") == .reply(Reply(503, .init(5, 5, 1), "DATA cannot follow BDAT")))
        #expect(session.receive("RCPT TO:<carol@example.org>") == .reply(.badSequence))
        #expect(session.receive("MAIL FROM:<alice@example.com>") == .reply(.nestedMail))
        #expect(session.machine.errorCount == 3)
        // The chunked transaction can still be finished.
        #expect(session.receive("BDAT 0 LAST") == .receiveChunk(size: 0, open: nil, deliver: true))
        #expect(session.machine.chunkReceived() == .commit)
    }

    @Test("BODY=BINARYMIME goes through BDAT")
    func binaryMIMEWithBdat() {
        var session = Session()
        session.begin(mail: "MAIL FROM:<alice@example.com> BODY=BINARYMIME")
        guard case .receiveChunk(3, let open?, true) = session.receive("BDAT 3 LAST") else {
            Issue.record("BDAT refused")
            return
        }
        #expect(open.parameters.body == .binaryMIME)
        #expect(session.machine.chunkReceived() == .commit)
    }

    @Test("BDAT is not implemented without CHUNKING")
    func bdatNotOffered() {
        var session = Session(chunking: false)
        session.begin()
        #expect(session.receive("BDAT 10 LAST") == .reply(.notImplemented))
        #expect(session.machine.transaction?.chunked == false)
    }

    @Test("a refused BDAT command line reads no octets")
    func bdatSyntaxError() {
        var session = Session()
        session.begin()
        #expect(session.receive("BDAT ten").singleReply?.codes == "501 5.5.4")
        #expect(session.machine.transaction?.chunked == false)
    }

    @Test("a backend that refuses to open a BDAT message refuses every chunk and aborts at LAST")
    func bdatOpenRefused() {
        var session = Session()
        session.begin()
        _ = session.receive("BDAT 10")
        #expect(session.machine.chunkReceived(openRefusal: .insufficientStorage) == .reply(.insufficientStorage))
        #expect(session.receive("BDAT 10") == .receiveChunk(size: 10, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.insufficientStorage))
        #expect(session.receive("BDAT 10 LAST") == .receiveChunk(size: 10, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .abortMessage(.insufficientStorage))
        #expect(session.machine.transaction == nil)
    }

    @Test("a backend that refuses to open a single BDAT LAST message aborts it")
    func bdatLastOpenRefused() {
        var session = Session()
        session.begin()
        _ = session.receive("BDAT 10 LAST")
        #expect(session.machine.chunkReceived(openRefusal: .relayDenied) == .abortMessage(.relayDenied))
        #expect(session.machine.transaction == nil)
    }

    @Test("RSET abandons a chunked transaction")
    func rsetAfterBdat() {
        var session = Session()
        session.begin()
        _ = session.receive("BDAT 10")
        _ = session.machine.chunkReceived()
        #expect(session.receive("RSET") == .reset(then: .resetOK))
        #expect(session.receive("BDAT 10 LAST") == .receiveChunk(size: 10, open: nil, deliver: false))
        #expect(session.machine.chunkReceived() == .reply(.needMail))
        // A new transaction may use DATA again.
        session.begin(ehlo: "EHLO client.example")
        session.openData()
    }

    // MARK: Protocol names

    @Test(
        "protocolName (RFC 3848, RFC 6531 §3.7.3)",
        arguments: [
            (nil, false, false, false, "SMTP"),
            ("HELO c", false, false, false, "SMTP"),
            ("HELO c", false, true, true, "SMTP"),
            ("EHLO c", false, false, false, "ESMTP"),
            ("EHLO c", false, true, false, "ESMTPS"),
            ("EHLO c", false, false, true, "ESMTPA"),
            ("EHLO c", false, true, true, "ESMTPSA"),
            ("EHLO c", true, false, false, "UTF8SMTP"),
            ("EHLO c", true, true, false, "UTF8SMTPS"),
            ("EHLO c", true, false, true, "UTF8SMTPA"),
            ("EHLO c", true, true, true, "UTF8SMTPSA"),
        ] as [(String?, Bool, Bool, Bool, String)])
    func protocolName(greeting: String?, smtpUTF8: Bool, tls: Bool, authenticated: Bool, expected: String) {
        var session = Session(
            SessionConfiguration(hostname: "mx.example", authMechanisms: ["PLAIN"], authWithoutTLS: true))
        session.machine.isTLS = tls
        if let greeting {
            _ = session.receive(greeting)
            if authenticated {
                #expect(
                    session.receive("AUTH PLAIN AHUAcA==")
                        == .authenticate(mechanism: "PLAIN", initialResponse: [0, 117, 0, 112]))
                #expect(session.machine.authStepped(.success("u")) == .authenticated("u"))
                #expect(session.machine.authenticationRecorded() == .reply(.authSucceeded))
            }
            _ = session.accept("MAIL FROM:<alice@example.com>\(smtpUTF8 ? " SMTPUTF8" : "")")
            _ = session.accept("RCPT TO:<bob@example.org>")
        }
        #expect(session.machine.protocolName == expected)
        if greeting != nil {
            guard case .openMessage(let envelope) = session.receive("DATA") else {
                Issue.record("no openMessage")
                return
            }
            #expect(envelope.protocolName == expected)
        }
    }

    @Test("UTF8SMTP lasts only for the SMTPUTF8 transaction")
    func utf8ProtocolPerTransaction() {
        var session = Session()
        session.begin(mail: "MAIL FROM:<alice@example.com> SMTPUTF8")
        #expect(session.machine.protocolName == "UTF8SMTP")
        _ = session.receive("RSET")
        #expect(session.machine.protocolName == "ESMTP")
    }

    // MARK: Preconditions

    @Test("a line while the sender is being checked is a programming error")
    func linePendingTraps() async {
        await #expect(processExitsWith: .failure) {
            var machine = ServerStateMachine(configuration: SessionConfiguration())
            _ = machine.receive(line: Array("EHLO a".utf8))
            _ = machine.receive(line: Array("MAIL FROM:<a@b>".utf8))
            _ = machine.receive(line: Array("NOOP".utf8))
        }
    }

    @Test("an answer nobody asked for is a programming error")
    func unexpectedAnswerTraps() async {
        await #expect(processExitsWith: .failure) {
            var machine = ServerStateMachine(configuration: SessionConfiguration())
            _ = machine.dataReceived(size: 0, sawBareLineEnding: false)
        }
    }
}

extension Session {
    /// The envelope the first BDAT chunk of `begin()` opens.
    fileprivate var openEnvelope: Envelope {
        Envelope(
            sender: .mailbox(alice), recipients: [Recipient(path: .mailbox(bob))], heloName: "client.example",
            protocolName: "ESMTP")
    }
}
