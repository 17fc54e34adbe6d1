import Testing

@testable import SMTPCore

private let alice = Mailbox(localPart: "alice", domain: "a.test")
private func rcpt(_ local: String, _ domain: String = "b.test") -> Recipient {
    Recipient(path: .mailbox(Mailbox(localPart: local, domain: domain)))
}
private let ehloFull = Reply(
    250, nil, lines: ["mx.b.test", "PIPELINING", "SIZE 1000", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES", "DSN"])
private let ehloPlain = Reply(250, nil, lines: ["mx.b.test", "SIZE 1000"])
private let ok = Reply(250, .init(2, 0, 0), "OK")

/// A machine that has been greeted and has read `ehlo`, with no STARTTLS.
private func readyMachine(ehlo: Reply) -> ClientStateMachine {
    var machine = ClientStateMachine(heloName: "client.test", tlsPolicy: .never)
    #expect(machine.replyReceived(Reply(220, nil, "mx.b.test ESMTP")) == .send([.ehlo("client.test")]))
    #expect(machine.awaiting == .command)
    guard case .ready = machine.replyReceived(ehlo) else {
        Issue.record("not ready")
        return machine
    }
    return machine
}

private func transaction(_ recipients: [Recipient], size: Int = 100, eightBit: Bool = false) -> OutboundTransaction {
    OutboundTransaction(sender: .mailbox(alice), recipients: recipients, size: size, hasEightBitBody: eightBit)
}

@Test func greetsWithEHLOAndStartsTLS() {
    var machine = ClientStateMachine(heloName: "client.test", tlsPolicy: .opportunistic)
    #expect(machine.awaiting == .greeting)
    #expect(machine.replyReceived(Reply(220, nil, "hi")) == .send([.ehlo("client.test")]))
    #expect(machine.replyReceived(ehloFull) == .send([.startTLS]))
    #expect(machine.replyReceived(Reply(220, .init(2, 0, 0), "go")) == .startTLS)
    #expect(machine.tlsEstablished() == .send([.ehlo("client.test")]))
    #expect(machine.isTLS)
    #expect(machine.replyReceived(ehloFull) == .ready(ServerExtensions(ehloReply: ehloFull)))
}

@Test func opportunisticTLSGoesOnWhenRefusedOrAbsent() {
    var machine = ClientStateMachine(heloName: "c", tlsPolicy: .opportunistic)
    _ = machine.replyReceived(Reply(220, nil, "hi"))
    #expect(machine.replyReceived(ehloPlain) == .ready(ServerExtensions(ehloReply: ehloPlain)))
    var refused = ClientStateMachine(heloName: "c", tlsPolicy: .opportunistic)
    _ = refused.replyReceived(Reply(220, nil, "hi"))
    _ = refused.replyReceived(ehloFull)
    #expect(refused.replyReceived(Reply(454, .init(4, 7, 0), "no TLS now")) == .ready(refused.extensions))
}

@Test func requiredTLSFailsTemporarily() {
    var machine = ClientStateMachine(heloName: "c", tlsPolicy: .required)
    _ = machine.replyReceived(Reply(220, nil, "hi"))
    guard case .close(let reply?) = machine.replyReceived(ehloPlain) else {
        Issue.record("expected a close")
        return
    }
    #expect(reply.isTransientFailure)
}

@Test func fallsBackToHELO() {
    var machine = ClientStateMachine(heloName: "c", tlsPolicy: .opportunistic)
    _ = machine.replyReceived(Reply(220, nil, "hi"))
    #expect(machine.replyReceived(Reply(502, nil, "what")) == .send([.helo("c")]))
    #expect(machine.replyReceived(Reply(250, nil, "hello")) == .ready(ServerExtensions()))
}

@Test func refusedGreetingCloses() {
    var machine = ClientStateMachine(heloName: "c")
    #expect(machine.replyReceived(Reply(554, nil, "go away")) == .close(Reply(554, nil, "go away")))
    var busy = ClientStateMachine(heloName: "c")
    #expect(busy.replyReceived(Reply(421, nil, "busy")) == .close(Reply(421, nil, "busy")))
}

@Test func pipelinedTransactionWithMixedRecipients() {
    var machine = readyMachine(ehlo: ehloFull)
    let recipients = [rcpt("bob"), rcpt("nobody"), rcpt("carol")]
    let action = machine.startTransaction(transaction(recipients))
    #expect(
        action
            == .send([
                .mail(.mailbox(alice), parameters: ["SIZE=100"]), .rcpt(recipients[0].path, parameters: []),
                .rcpt(recipients[1].path, parameters: []), .rcpt(recipients[2].path, parameters: []), .data,
            ]))
    #expect(machine.awaiting == .mail)
    #expect(machine.replyReceived(ok) == .read)
    #expect(machine.awaiting == .rcpt)
    #expect(machine.replyReceived(ok) == .read)
    let unknown = Reply(550, .init(5, 1, 1), "no such user")
    #expect(machine.replyReceived(unknown) == .read)
    #expect(machine.replyReceived(Reply(451, .init(4, 3, 0), "later")) == .read)
    #expect(machine.awaiting == .dataInitiation)
    #expect(machine.replyReceived(Reply(354, nil, "go")) == .sendBody(discard: false))
    #expect(machine.bodySent() == .read)
    #expect(machine.awaiting == .dataTermination)
    let queued = Reply(250, .init(2, 0, 0), "queued as X")
    guard case .transactionFinished(let result) = machine.replyReceived(queued) else {
        Issue.record("not finished")
        return
    }
    #expect(result.recipients.map(\.reply) == [queued, unknown, Reply(451, .init(4, 3, 0), "later")])
    #expect(result.recipients.map(\.isDelivered) == [true, false, false])
    #expect(machine.isReady)
}

@Test func unpipelinedTransactionGoesStepByStep() {
    var machine = readyMachine(ehlo: ehloPlain)
    let recipients = [rcpt("bob"), rcpt("carol")]
    #expect(
        machine.startTransaction(transaction(recipients)) == .send([.mail(.mailbox(alice), parameters: ["SIZE=100"])]))
    #expect(machine.replyReceived(ok) == .send([.rcpt(recipients[0].path, parameters: [])]))
    #expect(machine.replyReceived(ok) == .send([.rcpt(recipients[1].path, parameters: [])]))
    #expect(machine.replyReceived(ok) == .send([.data]))
    #expect(machine.replyReceived(Reply(354, nil, "go")) == .sendBody(discard: false))
    #expect(machine.bodySent() == .read)
    let refused = Reply(554, .init(5, 7, 1), "spam")
    #expect(
        machine.replyReceived(refused)
            == .transactionFinished(TransactionResult(all: recipients, reply: refused, isLocal: false)))
}

@Test func everyRecipientRefusedSendsNoDataAndResets() {
    var machine = readyMachine(ehlo: ehloPlain)
    let recipients = [rcpt("nobody")]
    _ = machine.startTransaction(transaction(recipients))
    _ = machine.replyReceived(ok)
    let unknown = Reply(550, .init(5, 1, 1), "no")
    #expect(machine.replyReceived(unknown) == .send([.rset]))
    #expect(
        machine.replyReceived(ok)
            == .transactionFinished(TransactionResult(all: recipients, reply: unknown, isLocal: false)))
    #expect(machine.isReady)
}

@Test func refusedMailDecidesEveryRecipientAndDrainsPipelinedReplies() {
    var machine = readyMachine(ehlo: ehloFull)
    let recipients = [rcpt("bob"), rcpt("carol")]
    _ = machine.startTransaction(transaction(recipients))
    let refused = Reply(553, .init(5, 7, 1), "not your address")
    #expect(machine.replyReceived(refused) == .read)
    #expect(machine.replyReceived(Reply(503, nil, "need MAIL")) == .read)
    #expect(machine.replyReceived(Reply(503, nil, "need MAIL")) == .read)
    // A server that still says 354: only the terminator is sent.
    #expect(machine.replyReceived(Reply(354, nil, "go")) == .sendBody(discard: true))
    #expect(machine.bodySent() == .read)
    #expect(
        machine.replyReceived(Reply(554, nil, "no valid recipients"))
            == .transactionFinished(TransactionResult(all: recipients, reply: refused, isLocal: false)))
}

@Test func closingServerAbortsTheTransactionKeepingDecidedRecipients() {
    var machine = readyMachine(ehlo: ehloFull)
    let recipients = [rcpt("nobody"), rcpt("bob")]
    _ = machine.startTransaction(transaction(recipients))
    let unknown = Reply(550, .init(5, 1, 1), "no")
    #expect(machine.replyReceived(ok) == .read)
    #expect(machine.replyReceived(unknown) == .read)
    let closing = Reply(421, .init(4, 3, 2), "shutting down")
    #expect(
        machine.replyReceived(closing)
            == .transactionAborted(
                TransactionResult(recipients: [
                    RecipientResult(recipient: recipients[0], reply: unknown),
                    RecipientResult(recipient: recipients[1], reply: closing),
                ]), closing))
    #expect(!machine.isReady)
    // Whatever comes next is told the session is over, as a temporary failure.
    guard case .close(let reply?) = machine.startTransaction(transaction([rcpt("bob")])) else {
        return #expect(Bool(false))
    }
    #expect(reply.code == 421)
}

@Test func refusesWhatTheServerCannotTake() {
    let recipients = [rcpt("bob")]
    var plain = readyMachine(ehlo: ehloPlain)
    guard case .transactionFinished(let eightBit) = plain.startTransaction(transaction(recipients, eightBit: true))
    else { return #expect(Bool(false)) }
    #expect(eightBit.recipients[0].reply.enhancedCode == .init(5, 6, 3))
    #expect(eightBit.recipients[0].isLocal && eightBit.recipients[0].isPermanentFailure)

    guard case .transactionFinished(let utf8) = plain.startTransaction(transaction([rcpt("b\u{F6}b")])) else {
        return #expect(Bool(false))
    }
    #expect(utf8.recipients[0].reply.enhancedCode == .init(5, 6, 7))

    var utf8Headers = transaction(recipients)
    utf8Headers.smtpUTF8 = true
    guard case .transactionFinished(let headers) = plain.startTransaction(utf8Headers) else {
        return #expect(Bool(false))
    }
    #expect(headers.recipients[0].reply.enhancedCode == .init(5, 6, 7))

    guard case .transactionFinished(let big) = plain.startTransaction(transaction(recipients, size: 1001)) else {
        return #expect(Bool(false))
    }
    #expect(big.recipients[0].reply.enhancedCode == .init(5, 3, 4))
    #expect(plain.isReady)

    guard case .transactionFinished(let evil) = plain.startTransaction(transaction([rcpt("x", "b.test>\r\nDATA")]))
    else { return #expect(Bool(false)) }
    #expect(evil.recipients[0].reply.isPermanentFailure)
}

@Test func sendsEightBitAndDSNParametersWhenOffered() {
    var machine = readyMachine(ehlo: ehloFull)
    var recipient = rcpt("bob")
    recipient.parameters = RcptParameters(
        notify: DSNNotify(success: true, failure: true),
        originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob+x@b.test"))
    var message = transaction([recipient], eightBit: true)
    message.envelopeID = "id 1"
    message.dsnReturn = .headers
    #expect(
        machine.startTransaction(message)
            == .send([
                .mail(.mailbox(alice), parameters: ["SIZE=100", "BODY=8BITMIME", "RET=HDRS", "ENVID=id+201"]),
                .rcpt(recipient.path, parameters: ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2Bx@b.test"]), .data,
            ]))
    // Without DSN the parameters stay home (RFC 3461 §5.2).
    var plain = readyMachine(ehlo: Reply(250, nil, lines: ["mx", "8BITMIME"]))
    #expect(
        plain.startTransaction(message)
            == .send([.mail(.mailbox(alice), parameters: ["BODY=8BITMIME"])]))
}

@Test func authenticatesWithChallenges() {
    var machine = readyMachine(ehlo: ehloFull)
    #expect(
        machine.authenticate(mechanism: "LOGIN", initialResponse: nil)
            == .send([.auth(mechanism: "LOGIN", initialResponse: nil)]))
    #expect(machine.replyReceived(Reply(334, nil, "VXNlcm5hbWU6")) == .authChallenge(Array("Username:".utf8)))
    #expect(machine.authRespond(Array("alice".utf8)) == .send([.authResponse(Array("alice".utf8))]))
    #expect(machine.replyReceived(Reply(334, nil, "UGFzc3dvcmQ6")) == .authChallenge(Array("Password:".utf8)))
    _ = machine.authRespond(Array("pw".utf8))
    #expect(machine.replyReceived(.authSucceeded) == .authFinished(.authSucceeded))
    #expect(machine.isReady)
    // A garbled challenge is cancelled; the server's 501 ends the exchange.
    _ = machine.authenticate(mechanism: "PLAIN", initialResponse: nil)
    #expect(machine.replyReceived(Reply(334, nil, "!!!")) == .send([.authCancel]))
    #expect(machine.replyReceived(.authCancelled) == .authFinished(.authCancelled))
}

@Test func resetAndQuit() {
    var machine = readyMachine(ehlo: ehloFull)
    #expect(machine.reset() == .send([.rset]))
    #expect(machine.replyReceived(ok) == .ready(machine.extensions))
    #expect(machine.quit() == .send([.quit]))
    #expect(machine.replyReceived(.bye) == .close(nil))
}

@Test func requestsOutOfSequenceClose() {
    var machine = ClientStateMachine(heloName: "c")
    guard case .close(let reply?) = machine.startTransaction(transaction([rcpt("bob")])) else {
        return #expect(Bool(false))
    }
    #expect(reply.code == 503)
    var ready = readyMachine(ehlo: ehloFull)
    guard case .close = ready.replyReceived(Reply(421, nil, "idle too long")) else { return #expect(Bool(false)) }
}
