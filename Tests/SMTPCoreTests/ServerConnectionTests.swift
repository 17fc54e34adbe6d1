import SMTPCore
import Testing

/// Drives a `ServerConnection` as a driver does, answering every backend call with "yes".
private struct Harness {
    var connection: ServerConnection
    var buffer: [UInt8] = []
    var now = Duration.zero
    var sent: [String] = []
    var closed: CloseReason?
    var body: [UInt8] = []

    init(_ settings: ConnectionSettings = ConnectionSettings(server: SessionConfiguration(hostname: "mx.test"))) {
        connection = ServerConnection(settings: settings, at: .zero)
        handle(connection.start(at: .zero))
    }

    mutating func send(_ text: String) {
        let bytes = Array(text.utf8)
        if let action = connection.received(bytes.count, at: now) { return handle(action) }
        buffer += bytes
        drive()
    }

    mutating func endInput() {
        connection.endOfInput()
        drive()
    }

    mutating func advance(to time: Duration) {
        now = time
        if let deadline = connection.nextDeadline, deadline <= now, let action = connection.timeElapsed(at: now) {
            handle(action)
        }
    }

    mutating func drive() {
        while closed == nil {
            var output = Collected()
            let step = buffer.withUnsafeBytes { connection.process($0, body: &output, at: now) }
            body += output.bytes
            buffer.removeFirst(step.consumed)
            if let action = step.action { handle(action) } else if step.consumed == 0 { break }
        }
    }

    mutating func handle(_ action: ConnectionAction?) {
        guard let action else { return }
        switch action {
        case .send(let replies): sent += replies.map { "\($0.code)" }
        case .write(let text): sent.append(String(text.prefix(4)))
        case .close(let replies, let reason):
            sent += replies.map { "\($0.code)" }
            closed = reason
        case .checkSender: handle(connection.senderChecked(nil, at: now))
        case .checkRecipient(let recipient): handle(connection.recipientChecked(recipient, refusal: nil, at: now))
        case .openMessage: handle(connection.messageOpened(refusal: nil, at: now))
        case .commit: handle(connection.messageCommitted(.success("ID1"), at: now))
        case .reset, .abortMessage: handle(connection.resetDone(at: now))
        default: Issue.record("unexpected \(action)")
        }
    }
}

private struct Collected: DotUnstufferOutput {
    var bytes: [UInt8] = []
    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        bytes += UnsafeRawBufferPointer(rebasing: input[range])
    }
    mutating func appendByte(_ byte: UInt8) { bytes.append(byte) }
}

@Suite struct ServerConnectionTests {
    @Test func whatArrivedBeforeTheEndOfInputIsAnsweredThenTheConnectionCloses() {
        var harness = Harness()
        harness.send("EHLO c\r\n")
        harness.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n")
        harness.endInput()
        #expect(harness.sent == ["220", "250", "250", "250", "250", "221"])
        #expect(harness.closed == .quit)
        #expect(harness.body == Array("hello".utf8))
    }

    @Test func anIncompleteMessageAtTheEndOfInputIsDropped() {
        var harness = Harness()
        harness.send("EHLO c\r\n")
        harness.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        harness.send("Subject: x\r\n\r\nno end")
        harness.endInput()
        #expect(harness.sent == ["220", "250", "250", "250", "354"])
        #expect(harness.closed == .endOfInput)
    }

    @Test func aLineTrickledPastItsDeadlineIsCut() {
        var settings = ConnectionSettings(server: SessionConfiguration(hostname: "mx.test"))
        settings.timeouts.commandLine = .seconds(30)
        var harness = Harness(settings)
        harness.send("EHLO c\r\n")
        for second in 1...29 {
            harness.now = .seconds(second)
            harness.send("N")
            harness.advance(to: .seconds(second))
        }
        #expect(harness.closed == nil)
        harness.advance(to: .seconds(31))
        #expect(harness.closed == .idleTimeout)
        #expect(harness.sent.last == "421")
    }

    @Test func clientsThatNeverSayHelloGetLessTimeUnderPressure() {
        var harness = Harness()
        #expect(harness.connection.nextDeadline == .seconds(120))
        harness.connection.underPressure = true
        #expect(harness.connection.nextDeadline == .seconds(10))
        harness.advance(to: .seconds(10))
        #expect(harness.closed == .idleTimeout)
        var greeted = Harness()
        greeted.send("EHLO c\r\n")
        greeted.connection.underPressure = true
        // Once it has said EHLO only the (shortened) command timeout applies.
        #expect(greeted.connection.nextDeadline == .seconds(10))
    }

    @Test func evictionAnswers421AndCloses() {
        var harness = Harness()
        harness.handle(harness.connection.closeNow(.evicted))
        #expect(harness.sent == ["220", "421"])
        #expect(harness.closed == .evicted)
        #expect(harness.connection.closeNow(.evicted) == nil)
    }

    @Test func acceptedBodiesAreCreditedToTheSessionByteLimit() {
        var settings = ConnectionSettings(server: SessionConfiguration(hostname: "mx.test"))
        settings.limits.maxSessionBytes = 1000  // ten messages carry 2,538 octets, 488 of them commands
        var harness = Harness(settings)
        harness.send("EHLO c\r\n")
        for _ in 0..<10 {
            harness.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
            harness.send(String(repeating: "x", count: 200) + "\r\n.\r\n")
        }
        #expect(harness.closed == nil)
        #expect(harness.sent.filter { $0 == "250" }.count == 1 + 10 * 3)
    }
}
