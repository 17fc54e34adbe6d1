import Testing

@testable import SMTPCore

/// Cross-protocol requests, early pipelining and the connection limits: the rules that end a session.
@Suite("Hostile clients")
struct HostileClientTests {
    private func machine(
        rejectEarlyPipelining: Bool = true, authWithoutTLS: Bool = false, startTLS: Bool = false
    ) -> ServerStateMachine {
        ServerStateMachine(
            configuration: SessionConfiguration(
                hostname: "mx.example", startTLS: startTLS, authMechanisms: authWithoutTLS ? ["PLAIN"] : [],
                authWithoutTLS: authWithoutTLS, rejectEarlyPipelining: rejectEarlyPipelining))
    }

    // MARK: HTTP on the SMTP port (ALPACA)

    @Test(
        "an HTTP request line closes the connection without a reply",
        arguments: [
            "GET / HTTP/1.1", "POST /upload HTTP/1.1", "HEAD / HTTP/1.0", "PUT /x HTTP/1.1", "DELETE /x HTTP/1.1",
            "OPTIONS * HTTP/1.1", "CONNECT example.com:443 HTTP/1.1", "TRACE / HTTP/1.1", "PATCH /x HTTP/1.1",
            "get /", "POST /", "PROPFIND /dav HTTP/1.1", "x HTTP/1.0",
        ])
    func httpRequest(line: String) {
        var m = machine()
        #expect(m.receive(line: line.bytes) == .hangUp([], reason: .httpRequest))
        var later = machine()
        _ = later.receive(line: "EHLO client.example".bytes)
        #expect(later.receive(line: line.bytes) == .hangUp([], reason: .httpRequest), "after EHLO")
    }

    @Test(
        "SMTP lines that merely mention HTTP are commands",
        arguments: ["GET", "GETS / x", "NOOP HTTP/1.1", "HELP GET", "VRFY HTTP/1.1", "GETHTTP/1"])
    func notHTTP(line: String) {
        var m = machine()
        #expect(m.receive(line: line.bytes).replies?.first?.code != nil, "\(line) is answered")
        #expect(!m.receive(line: line.bytes).closes)
    }

    @Test("an address containing HTTP/1. is an address")
    func httpInAddress() {
        var m = machine()
        _ = m.receive(line: "EHLO client.example".bytes)
        guard case .checkSender = m.receive(line: "MAIL FROM:<HTTP/1.1@example.com>".bytes) else {
            Issue.record("MAIL with HTTP/1.1 in the local part was not checked as a sender")
            return
        }
    }

    // MARK: Pipelining before PIPELINING was offered

    @Test("EHLO with more input behind it is refused with 554 5.5.0 and closes")
    func pipelinedEHLO() {
        var m = machine()
        let action = m.receive(line: "EHLO client.example".bytes, pipelined: true)
        #expect(action == .hangUp([.earlyPipelining], reason: .earlyPipelining))
        #expect(Reply.earlyPipelining.codes == "554 5.5.0")
    }

    @Test("any command before EHLO with more input behind it is refused", arguments: ["NOOP", "HELO x", "RSET", "FOO"])
    func pipelinedBeforeGreeting(line: String) {
        var m = machine()
        #expect(m.receive(line: line.bytes, pipelined: true) == .hangUp([.earlyPipelining], reason: .earlyPipelining))
    }

    @Test("a HELO session may never pipeline")
    func pipelinedAfterHELO() {
        var m = machine()
        #expect(m.receive(line: "HELO client.example".bytes).singleReply?.code == 250)
        #expect(m.receive(line: "MAIL FROM:<a@b.example>".bytes, pipelined: true).closes)
    }

    @Test("after the EHLO reply pipelining is allowed")
    func pipeliningAfterEHLO() {
        var m = machine()
        #expect(m.receive(line: "EHLO client.example".bytes).singleReply?.code == 250)
        guard case .checkSender = m.receive(line: "MAIL FROM:<a@b.example>".bytes, pipelined: true) else {
            Issue.record("pipelined MAIL after EHLO was refused")
            return
        }
        #expect(m.senderChecked(nil) == .reply(.senderOK))
        guard case .checkRecipient = m.receive(line: "RCPT TO:<c@d.example>".bytes, pipelined: true) else {
            Issue.record("pipelined RCPT after EHLO was refused")
            return
        }
    }

    @Test("the same lines without input behind them are answered normally")
    func notPipelined() {
        var m = machine()
        #expect(m.receive(line: "NOOP".bytes) == .reply(.ok))
        #expect(m.receive(line: "HELO client.example".bytes).singleReply?.code == 250)
        #expect(m.receive(line: "NOOP".bytes) == .reply(.ok))
    }

    @Test("QUIT with input behind it still says goodbye")
    func pipelinedQuit() {
        var m = machine()
        #expect(m.receive(line: "QUIT".bytes, pipelined: true) == .send([.bye], close: true))
    }

    @Test("the check can be turned off")
    func allowed() {
        var m = machine(rejectEarlyPipelining: false)
        #expect(m.receive(line: "EHLO client.example".bytes, pipelined: true).singleReply?.code == 250)
        var helo = machine(rejectEarlyPipelining: false)
        _ = helo.receive(line: "HELO client.example".bytes)
        #expect(!helo.receive(line: "NOOP".bytes, pipelined: true).closes)
    }

    @Test("an authenticated client may pipeline even in a HELO session")
    func authenticatedMayPipeline() {
        var m = machine(authWithoutTLS: true)
        _ = m.receive(line: "HELO client.example".bytes)
        guard case .authenticate = m.receive(line: "AUTH PLAIN AHUAcA==".bytes) else {
            Issue.record("AUTH did not start")
            return
        }
        #expect(m.authStepped(.success("u")) == .authenticated("u"))
        #expect(m.authenticationRecorded() == .reply(.authSucceeded))
        #expect(m.mayPipeline)
        guard case .checkSender = m.receive(line: "MAIL FROM:<a@b.example>".bytes, pipelined: true) else {
            Issue.record("pipelined MAIL of an authenticated client was refused")
            return
        }
    }

    @Test("a client that waited for EHLO before STARTTLS may pipeline the new EHLO inside TLS")
    func afterStartTLS() {
        var m = machine(startTLS: true)
        #expect(!m.mayPipeline)
        _ = m.receive(line: "EHLO client.example".bytes)
        #expect(m.mayPipeline)
        guard case .startTLS = m.receive(line: "STARTTLS".bytes) else {
            Issue.record("STARTTLS refused")
            return
        }
        #expect(m.greeting == nil)
        #expect(m.mayPipeline)
        #expect(m.receive(line: "EHLO client.example".bytes, pipelined: true).singleReply?.code == 250)
    }

    @Test("HELO after EHLO does not take back PIPELINING; HELO alone never offers it")
    func heloAfterEHLO() {
        var m = machine()
        _ = m.receive(line: "HELO client.example".bytes)
        #expect(!m.mayPipeline)
        _ = m.receive(line: "EHLO client.example".bytes)
        _ = m.receive(line: "HELO client.example".bytes)
        #expect(m.mayPipeline)
    }

    @Test("the delayed greeting is a two-line 220 ending with the usual line")
    func delayedGreeting() {
        let m = machine()
        #expect(m.delayedGreetingReply.wireText == "220-mx.example ESMTP\r\n220 mx.example ESMTP Swallow ready\r\n")
    }

    @Test("closing on too many errors gives its reason")
    func errorsReason() {
        var m = ServerStateMachine(configuration: SessionConfiguration(maxErrors: 1))
        #expect(m.receive(line: "FOO".bytes) == .hangUp([.unknownCommand, .tooManyErrors], reason: .tooManyErrors))
    }
}

@Suite("ConnectionLimiter")
struct ConnectionLimiterTests {
    private func limiter(_ limits: ConnectionLimits, maxMessageSize: Int = 1000) -> ConnectionLimiter {
        var limiter = ConnectionLimiter(limits: limits, maxMessageSize: maxMessageSize, now: .zero)
        limiter.greetingSent()
        return limiter
    }

    @Test("input before the greeting is a pregreet violation: 554 5.7.1")
    func pregreet() {
        var limiter = ConnectionLimiter(limits: ConnectionLimits(), maxMessageSize: 0, now: .zero)
        #expect(limiter.received(0, at: .zero) == nil)
        #expect(limiter.received(1, at: .seconds(1)) == .init(.pregreet, .pregreet))
        #expect(Reply.pregreet.codes == "554 5.7.1")
        limiter.greetingSent()
        #expect(limiter.received(100, at: .seconds(2)) == nil)
    }

    @Test("a burst of commands is allowed, then the sustained rate; more is 421 4.7.0")
    func commandRate() {
        var limiter = limiter(ConnectionLimits(commandsPerSecond: 10, commandBurst: 5))
        for _ in 0..<5 { #expect(limiter.command(at: .zero) == nil) }
        #expect(limiter.command(at: .zero) == .init(.tooManyCommands, .commandRate))
        #expect(Reply.tooManyCommands.codes == "421 4.7.0")
        // One token comes back every 100 ms.
        #expect(limiter.command(at: .milliseconds(100)) == nil)
        #expect(limiter.command(at: .milliseconds(100)) != nil)
    }

    @Test("commands at the sustained rate never run out, and a rested bucket is full again")
    func sustainedRate() {
        var limiter = limiter(ConnectionLimits(commandsPerSecond: 10, commandBurst: 5))
        for i in 0..<1000 { #expect(limiter.command(at: .milliseconds(100 * i)) == nil) }
        let later = Duration.seconds(1000)
        for _ in 0..<5 { #expect(limiter.command(at: later) == nil) }
        #expect(limiter.command(at: later) != nil)
    }

    @Test("a rate of zero is no limit")
    func noCommandLimit() {
        var limiter = limiter(ConnectionLimits(commandsPerSecond: 0, commandBurst: 1))
        for _ in 0..<10_000 { #expect(limiter.command(at: .zero) == nil) }
    }

    @Test("bytes beyond the session limit are 421 4.7.0")
    func sessionBytes() {
        var limiter = limiter(ConnectionLimits(maxSessionBytes: 100))
        #expect(limiter.received(60, at: .zero) == nil)
        #expect(limiter.received(40, at: .zero) == nil)
        #expect(limiter.received(1, at: .zero) == .init(.sessionBytesExceeded, .sessionBytes))
        #expect(Reply.sessionBytesExceeded.codes == "421 4.7.0")
    }

    @Test("the bodies of accepted messages do not count against the session limit; refused ones do")
    func acceptedBodiesAreNotCharged() {
        var limiter = limiter(ConnectionLimits(maxSessionBytes: 1000))
        for _ in 0..<50 {
            #expect(limiter.received(90, at: .zero) == nil)
            limiter.messageAccepted(octets: 85)
        }
        #expect(limiter.sessionBytes == 4500)
        #expect(limiter.chargedBytes == 250)
        // Credit never goes below zero, nor covers bytes yet to come.
        limiter.messageAccepted(octets: 1_000_000)
        #expect(limiter.chargedBytes == 0)
        #expect(limiter.received(1000, at: .zero) == nil)
        #expect(limiter.received(1, at: .zero) == .init(.sessionBytesExceeded, .sessionBytes))
    }

    @Test("the session byte limit defaults to ten messages; zero is none")
    func sessionByteDefault() {
        #expect(ConnectionLimits().sessionByteLimit(maxMessageSize: 1000) == 10_000)
        #expect(ConnectionLimits().sessionByteLimit(maxMessageSize: 0) == 0)
        #expect(ConnectionLimits().sessionByteLimit(maxMessageSize: .max) == 0)
        #expect(ConnectionLimits(maxSessionBytes: 0).sessionByteLimit(maxMessageSize: 1000) == 0)
        var unlimited = limiter(ConnectionLimits(maxSessionBytes: 0))
        #expect(unlimited.received(.max, at: .zero) == nil)
        #expect(unlimited.received(.max, at: .zero) == nil)
    }

    @Test("a body below the minimum rate after its grace period is 421 4.4.2")
    func dataRate() {
        var limiter = limiter(ConnectionLimits(minDataRate: 100, minDataRateGrace: .seconds(2)))
        #expect(limiter.dataRateDeadline == nil)
        limiter.receivingBody(true, at: .seconds(10))
        #expect(limiter.dataRateDeadline == .seconds(12))
        #expect(limiter.received(10, at: .seconds(11)) == nil)
        #expect(limiter.dataRateDeadline == .milliseconds(12_100))
        #expect(limiter.checkDataRate(at: .seconds(12)) == nil)
        #expect(limiter.checkDataRate(at: .milliseconds(12_100)) == .init(.dataRateTooLow, .dataRate))
        #expect(Reply.dataRateTooLow.codes == "421 4.4.2")
        // More data moves the deadline: 1000 octets buy 10 s.
        #expect(limiter.received(1000, at: .milliseconds(12_050)) == nil)
        #expect(limiter.dataRateDeadline == .milliseconds(22_100))
        // A slow backend is not the client's fault.
        limiter.serverPaused(for: .seconds(5))
        #expect(limiter.dataRateDeadline == .milliseconds(27_100))
        #expect(limiter.received(1, at: .seconds(28)) == .init(.dataRateTooLow, .dataRate))
    }

    @Test("a trickle is caught, a steady body is not")
    func trickleAndSteady() {
        var trickle = limiter(ConnectionLimits(minDataRate: 500, minDataRateGrace: .seconds(10)))
        trickle.receivingBody(true, at: .zero)
        var caughtAt: Int?
        for second in 1...100 where caughtAt == nil {
            if trickle.received(1, at: .seconds(second)) != nil { caughtAt = second }
        }
        #expect(caughtAt == 11)

        var steady = limiter(ConnectionLimits(minDataRate: 500, minDataRateGrace: .seconds(10)), maxMessageSize: 0)
        steady.receivingBody(true, at: .zero)
        for tenth in 1...1000 { #expect(steady.received(60, at: .milliseconds(100 * tenth)) == nil) }
    }

    @Test("only a body is timed, each body afresh, and a rate of zero is no limit")
    func bodyPhases() {
        var limiter = limiter(ConnectionLimits(minDataRate: 100, minDataRateGrace: .seconds(1)))
        #expect(limiter.received(10, at: .seconds(100)) == nil)
        limiter.receivingBody(true, at: .seconds(100))
        limiter.receivingBody(true, at: .seconds(101))  // still the same body
        #expect(limiter.dataRateDeadline == .seconds(101))
        limiter.receivingBody(false, at: .seconds(101))
        #expect(limiter.dataRateDeadline == nil)
        #expect(limiter.checkDataRate(at: .seconds(500)) == nil)
        limiter.receivingBody(true, at: .seconds(500))
        #expect(limiter.dataRateDeadline == .seconds(501))

        var off = self.limiter(ConnectionLimits(minDataRate: 0))
        off.receivingBody(true, at: .zero)
        #expect(off.dataRateDeadline == nil)
        #expect(off.received(1, at: .seconds(10_000)) == nil)
    }
}
