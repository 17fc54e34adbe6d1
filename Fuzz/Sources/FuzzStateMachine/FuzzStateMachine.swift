import FuzzSupport
import SMTPCore

/// Fuzzes `ServerStateMachine` with whole client sessions.
///
/// The front of the input is the byte stream a client sends, cut into lines by this driver (CRLF lines with the
/// machine's line limit, over-long lines thrown away, DATA bodies through `DotUnstuffer`, BDAT chunks by count),
/// so that every check can look at the machine line by line; the server's own framing, timing and end of input
/// are fuzzed by `FuzzConnection`, which drives `ServerConnection` as the handler does. STARTTLS is taken as a handshake that succeeds, after which the stream goes on. The
/// back of the input holds decisions: the session configuration, and the outcome of every backend call
/// (accept or refuse a sender or recipient, open, commit, each SASL step). When the decisions run out, the
/// configuration is the default one with AUTH offered, and the backend accepts everything.
///
/// A `ConnectionLimiter` runs alongside, as the handler runs it, with time advancing between lines by
/// fuzzer-chosen steps (a line is pipelined when the client sent it before the previous reply, also a decision).
///
/// Besides "never traps" (every `preconditionFailure` in the machine is reached only by misuse, which this
/// driver avoids), it checks that every reply is well-formed, and safety properties of the protocol: MAIL only
/// after HELO/EHLO (and AUTH when required), RCPT only inside a transaction and within the limit, a message
/// opened only with the accepted sender and recipients, committed only when complete, within the size limit and
/// without refused line endings, and acknowledged with 250 only when the backend committed it; AUTH only where
/// allowed; STARTTLS forgets the session; errors end the session at the limit; a hang-up is for a reason the
/// machine may give (an HTTP request line, early pipelining, too many errors or failed AUTHs).
@_cdecl("FuzzStateMachine_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        var driver = Driver(FuzzInput(bytes(data, size)))
        driver.run()
        return 0
    }
}

/// What the machine looked like before a line: the facts its next action must be consistent with.
private struct Snapshot {
    var greeting: (name: String, extended: Bool)?
    var transaction: ServerStateMachine.Transaction?
    var isAuthenticated: Bool
    var isTLS: Bool
    var awaitingAuthResponse: Bool
    var mayPipeline: Bool

    init(_ machine: ServerStateMachine) {
        mayPipeline = machine.mayPipeline
        greeting = machine.greeting
        transaction = machine.transaction
        isAuthenticated = machine.isAuthenticated
        isTLS = machine.isTLS
        awaitingAuthResponse = machine.awaitingAuthResponse
    }
}

private struct Driver {
    var input: FuzzInput
    var machine: ServerStateMachine
    var config: SessionConfiguration
    /// The client's bytes, and how far the server has read them.
    var stream: [UInt8]
    var position = 0
    var closed = false
    var discarding = false
    /// Before the current line or body.
    var snapshot: Snapshot
    /// What the backend was given for the message being received.
    var openedEnvelope: Envelope?
    var bodyComplete = false
    var bodySize = 0
    var sawBareLineEnding = false
    /// The size the last BDAT announced, and the total of the chunks of the transaction.
    var chunkTotal = 0
    var steps = 0
    var limiter: ConnectionLimiter
    /// The limiter's clock.
    var now = Duration.zero

    init(_ input: FuzzInput) {
        var input = input
        let (config, isTLS) = fuzzSessionConfiguration(&input)
        self.config = config
        machine = ServerStateMachine(configuration: config)
        machine.isTLS = isTLS
        limiter = ConnectionLimiter(
            limits: fuzzConnectionLimits(&input), maxMessageSize: config.maxMessageSize, now: .zero)
        limiter.greetingSent()
        // The session is what the front holds; the decisions are read from the back as they are needed, so they
        // are cut off here: the stream is what the front holds now, the decisions are what the back keeps.
        stream = []
        self.input = input
        snapshot = Snapshot(machine)
    }

    mutating func run() {
        requireWellFormed(machine.greetingReply)
        require(machine.greetingReply.code == 220, "greeting \(machine.greetingReply)")
        while !closed, steps < 10_000 {
            steps += 1
            guard readMore() else { return }
            checkState()
        }
    }

    /// Client bytes come from the front of the input as the driver needs them, so that the decisions taken
    /// from the back so far are never read as client bytes.
    mutating func need(_ count: Int) -> Bool {
        while stream.count - position < count {
            guard let byte = input.takeByte() else { return false }
            stream.append(byte)
        }
        return true
    }

    /// Frames the next line; false when the client has sent nothing more that completes one.
    mutating func readMore() -> Bool {
        if discarding {
            // Throw away through the next CRLF.
            while true {
                guard need(2) else { return false }
                if stream[position] == .cr && stream[position + 1] == .lf {
                    position += 2
                    discarding = false
                    return true
                }
                position += 1
            }
        }
        _ = need(5)
        // Time passes between reads: nothing, a little, or a lot.
        now += [.zero, .milliseconds(1), .milliseconds(300), .seconds(5), .seconds(100)][input.choice(5)]
        if let violation = limiter.checkDataRate(at: now) { return hangUp(violation) }
        let limit = machine.lineLimit(forLineStarting: stream[position..<min(position + 5, stream.count)])
        require(limit >= CommandParser.maxLineLength, "line limit \(limit)")
        // The line and its CRLF must fit in `limit` bytes.
        var length = 0
        while true {
            guard need(length + 1) else { return false }
            let byte = stream[position + length]
            length += 1
            if byte == .lf, length >= 2, stream[position + length - 2] == .cr { break }
            if length >= limit {
                // Like the handler: everything through the next CRLF, counted from the line's start, goes.
                if let violation = received(length) ?? limiter.command(at: now) { return hangUp(violation) }
                discarding = true
                perform(machine.lineTooLong(), after: "line too long")
                return true
            }
        }
        let line = Array(stream[position..<position + length - 2])
        position += length
        if let violation = received(length) ?? limiter.command(at: now) { return hangUp(violation) }
        snapshot = Snapshot(machine)
        // Whether the client sent more before this line's reply: only when it has sent more at all.
        let pipelined = input.choiceBool() && need(1)
        let action = machine.receive(line: line, pipelined: pipelined)
        check(action, for: line, pipelined: pipelined)
        perform(action, after: String(decoding: line, as: UTF8.self))
        return true
    }

    /// Counts bytes read with the limiter.
    mutating func received(_ count: Int) -> ConnectionLimiter.Violation? {
        let before = limiter.sessionBytes
        let violation = limiter.received(count, at: now)
        require(limiter.sessionBytes >= before, "session bytes went down")
        return violation
    }

    /// A limit broken: the session ends.
    mutating func hangUp(_ violation: ConnectionLimiter.Violation) -> Bool {
        if let reply = violation.reply {
            requireWellFormed(reply)
            require(reply.code >= 400, "limit reply \(reply)")
        }
        let limiterReasons: [HangUpReason] = [.pregreet, .commandRate, .dataRate, .sessionBytes]
        require(limiterReasons.contains(violation.reason), "limiter hang-up for \(violation.reason)")
        if violation.reason == .sessionBytes, limiter.maxSessionBytes > 0 {
            require(limiter.chargedBytes > limiter.maxSessionBytes, "session bytes hang-up under the limit")
        }
        closed = true
        return false
    }

    // MARK: Actions

    mutating func perform(_ action: Action, after context: @autoclosure () -> String) {
        switch action {
        case .send(let replies, let close):
            require(!replies.isEmpty, "empty send")
            for reply in replies { requireWellFormed(reply, context()) }
            if close {
                closed = true
                let last = replies.last!
                require(last.code == 221, "closing after \(last)")
            }
        case .hangUp(let replies, let reason):
            for reply in replies { requireWellFormed(reply, context()) }
            let machineReasons: [HangUpReason] = [.tooManyErrors, .tooManyAuthFailures, .httpRequest, .earlyPipelining]
            require(machineReasons.contains(reason), "the state machine hung up for \(reason)")
            switch reason {
            case .tooManyErrors:
                require(
                    config.maxErrors > 0 && machine.errorCount >= config.maxErrors,
                    "hung up after \(machine.errorCount) errors")
            case .tooManyAuthFailures:
                require(config.maxAuthFailures > 0 && machine.authFailures >= config.maxAuthFailures, "auth failures")
            case .httpRequest:
                require(replies.isEmpty, "an HTTP client got \(replies)")
            default:
                break
            }
            if let last = replies.last { require(last.code >= 400, "hang-up ending with \(last)") }
            closed = true
        case .checkSender(let path, let parameters):
            let refusal = refusalOrNil([.localError, .relayDenied, Reply(550, .init(5, 7, 1), "Sender refused")])
            let next = machine.senderChecked(refusal)
            if refusal == nil {
                require(next == .reply(.senderOK), "sender accepted, machine says \(next)")
                require(machine.transaction?.sender == path, "transaction sender")
                require(machine.transaction?.parameters == parameters, "transaction parameters")
                require(machine.transaction?.recipients.isEmpty == true, "new transaction has recipients")
                chunkTotal = 0
            } else {
                require(next == .reply(refusal!), "sender refused with \(refusal!), machine says \(next)")
                require(machine.transaction == nil, "refused sender left a transaction")
            }
            perform(next, after: context())
        case .checkRecipient(let recipient):
            let before = machine.transaction!.recipients
            let refusal = refusalOrNil([.noSuchUser, .relayDenied, .insufficientStorage, .localError])
            let next = machine.recipientChecked(recipient, refusal: refusal)
            let after = machine.transaction!.recipients
            require(after == (refusal == nil ? before + [recipient] : before), "recipients \(after)")
            require(after.count <= config.maxRecipients, "\(after.count) recipients, limit \(config.maxRecipients)")
            perform(next, after: context())
        case .lookup(let kind, _):
            let allowed = kind == .verify ? config.vrfy : config.expn
            require(
                allowed == .enabled || (allowed == .authenticated && machine.isAuthenticated),
                "lookup \(kind) with policy \(allowed)")
            let answers = [
                Reply(250, .init(2, 1, 5), "<alice@example.com>"), .noSuchUser,
                Reply(553, .init(5, 1, 4), "Ambiguous"), .localError,
            ]
            perform(machine.lookupAnswered(answers[input.choice(answers.count)]), after: context())
        case .reset(let reply):
            requireWellFormed(reply, context())
            require(machine.transaction == nil, "reset left a transaction")
        case .openMessage(let envelope):
            open(envelope)
            let refusal = refusalOrNil([.localError, .insufficientStorage, Reply(554, .init(5, 3, 0), "No")])
            let next = machine.messageOpened(refusal: refusal)
            if let refusal {
                require(next == .reset(then: refusal), "open refused, machine says \(next)")
                require(machine.transaction == nil, "refused open left a transaction")
                openedEnvelope = nil
                perform(next, after: context())
                return
            }
            require(next == .reply(.startMailInput), "DATA accepted, machine says \(next)")
            limiter.receivingBody(true, at: now)
            readBody()
            limiter.receivingBody(false, at: now)
        case .receiveChunk(let size, let open, let deliver):
            require(size >= 0, "chunk of \(size)")
            var openRefusal: Reply?
            if let open {
                require(deliver, "opening a message that is not delivered")
                self.open(open)
                openRefusal = refusalOrNil([.localError, .insufficientStorage])
            }
            if deliver {
                require(
                    machine.transaction.map { !$0.recipients.isEmpty } == true, "delivering a chunk without recipients")
                require(openedEnvelope != nil || open != nil, "delivering a chunk to no message")
                chunkTotal += size
            }
            // The chunk's octets, whatever they are, are read and not parsed.
            guard need(min(size, 1 << 20)), size <= 1 << 20 else {
                closed = true
                return
            }
            position += size
            if let violation = received(size) {
                _ = hangUp(violation)
                return
            }
            let next = machine.chunkReceived(openRefusal: openRefusal)
            if case .commit = next {
                require(openRefusal == nil, "committing a chunked message whose open was refused")
                bodySize = chunkTotal
                sawBareLineEnding = false
            }
            perform(next, after: context())
        case .commit:
            require(openedEnvelope != nil, "commit without an open message")
            require(bodyComplete || machine.transaction?.chunked == true, "commit before the end of the body")
            if config.maxMessageSize > 0 { require(bodySize <= config.maxMessageSize, "committing \(bodySize) octets") }
            if config.bareLineEndings == .reject { require(!sawBareLineEnding, "committing bare line endings") }
            let outcomes = [
                Reply(250, .init(2, 0, 0), "OK queued as FUZZ"), .localError, .insufficientStorage,
                Reply(554, .init(5, 6, 0), "Rejected by content filter"),
            ]
            let outcome = outcomes[input.choice(outcomes.count)]
            let next = machine.messageCommitted(outcome)
            // Nothing acknowledged that was not committed: the reply is exactly the backend's.
            require(next == .reply(outcome), "commit answered \(outcome), machine says \(next)")
            require(machine.transaction == nil, "transaction survives its commit")
            openedEnvelope = nil
            perform(next, after: context())
        case .abortMessage(let reply):
            requireWellFormed(reply, context())
            require(reply.code >= 400, "message aborted with \(reply)")
            require(machine.transaction == nil, "abort left a transaction")
            openedEnvelope = nil
        case .startTLS(let reply):
            require(reply.code == 220, "STARTTLS answered \(reply)")
            require(machine.isTLS && machine.greeting == nil && !machine.isAuthenticated, "STARTTLS kept the session")
            require(machine.transaction == nil, "STARTTLS inside a transaction")
        case .authenticate, .continueAuthentication:
            let steps: [AuthStep] = [
                .success("alice@example.com"), .challenge([]), .challenge(Array("Password:".utf8)),
                .failure(.badCredentials), .failure(.malformed), .failure(.throttled), .failure(.temporary),
                .challenge([0, 13, 10, 0xFF]),
            ]
            let step = steps[input.choice(steps.count)]
            let next = machine.authStepped(step)
            if case .challenge = step {
                guard case .send(let replies, close: false) = next, replies.count == 1, replies[0].code == 334 else {
                    require(false, "challenge answered with \(next)")
                    return
                }
                require(machine.awaitingAuthResponse, "334 sent but no response awaited")
            } else {
                require(!machine.awaitingAuthResponse, "response awaited after \(step)")
            }
            perform(next, after: context())
        case .authenticated(let user):
            let next = machine.authenticationRecorded()
            require(next == .reply(.authSucceeded), "authentication recorded, machine says \(next)")
            require(
                machine.authenticatedUser == user, "authenticated as \(String(describing: machine.authenticatedUser))")
            perform(next, after: context())
        }
    }

    /// nil (accept) when the decisions are used up, otherwise one of `refusals` or nil.
    mutating func refusalOrNil(_ refusals: [Reply]) -> Reply? {
        let pick = input.choice(refusals.count + 1)
        return pick == 0 ? nil : refusals[pick - 1]
    }

    mutating func open(_ envelope: Envelope) {
        let transaction = machine.transaction
        require(transaction != nil, "opening a message outside a transaction")
        require(!envelope.recipients.isEmpty, "opening a message without recipients")
        require(envelope.recipients == transaction!.recipients, "envelope recipients differ from the transaction")
        require(envelope.sender == transaction!.sender, "envelope sender differs from the transaction")
        require(envelope.heloName == machine.greeting?.name, "envelope HELO name")
        require(envelope.protocolName == machine.protocolName, "envelope protocol")
        openedEnvelope = envelope
        bodyComplete = false
        bodySize = 0
        sawBareLineEnding = false
        let header = ReceivedHeader.render(
            envelope: envelope, clientAddress: "192.0.2.1", hostname: "mx.example", id: "FUZZ",
            date: "Sun, 29 Nov 2026 22:09:00 +0000", tls: machine.isTLS ? "TLSv1.3" : nil)
        require(!header.utf8.split(separator: .lf).dropFirst().contains { $0.first != 0x09 }, "Received header lines")
    }

    /// Reads a DATA body as the handler does, then reports it.
    mutating func readBody() {
        var reader = DotUnstuffer(bareLineEndings: config.bareLineEndings)
        var content: [UInt8] = []
        while !reader.isComplete {
            guard need(1) else {
                closed = true
                return
            }
            let available = Array(stream[position...])
            content.removeAll(keepingCapacity: true)
            let consumed = available.withUnsafeBytes { reader.consume($0, into: &content) }
            position += consumed
            bodySize += content.count
            now += [.zero, .milliseconds(10), .seconds(30)][input.choice(3)]
            if let violation = received(consumed) {
                _ = hangUp(violation)
                return
            }
        }
        bodyComplete = true
        sawBareLineEnding = reader.sawBareLineEnding
        let next = machine.dataReceived(size: bodySize, sawBareLineEnding: reader.sawBareLineEnding)
        perform(next, after: "end of DATA")
    }

    // MARK: Checks

    /// What the action answering `line` may be, given the machine before the line.
    func check(_ action: Action, for line: [UInt8], pipelined: Bool) {
        let before = snapshot
        let text = String(decoding: line, as: UTF8.self)
        switch action {
        case .checkSender(let path, let parameters):
            require(!before.awaitingAuthResponse, "MAIL during an AUTH exchange: \(text)")
            require(before.greeting != nil, "MAIL before HELO: \(text)")
            require(before.transaction == nil, "nested MAIL: \(text)")
            require(!config.requireAuth || before.isAuthenticated, "MAIL without the required AUTH")
            if let mailbox = path.mailbox, !mailbox.isASCII { require(parameters.smtpUTF8, "non-ASCII sender") }
            if parameters.smtpUTF8 { require(config.smtpUTF8, "SMTPUTF8 not offered") }
            if parameters.body == .binaryMIME { require(config.chunking, "BINARYMIME not offered") }
            if let size = parameters.size, config.maxMessageSize > 0 {
                require(size <= config.maxMessageSize, "SIZE=\(size) accepted over the limit")
            }
        case .checkRecipient(let recipient):
            guard let transaction = before.transaction else {
                require(false, "RCPT outside a transaction: \(text)")
                return
            }
            require(!transaction.chunked, "RCPT after BDAT")
            require(transaction.recipients.count < config.maxRecipients, "RCPT over the limit")
            if let mailbox = recipient.path.mailbox, !mailbox.isASCII {
                require(transaction.parameters.smtpUTF8, "non-ASCII recipient without SMTPUTF8")
            }
        case .openMessage:
            require(before.transaction?.chunked == false, "DATA after BDAT")
            require(before.transaction?.parameters.body != .binaryMIME, "DATA with BINARYMIME")
        case .receiveChunk:
            require(config.chunking, "BDAT not offered")
        case .authenticate(let mechanism, _):
            require(!before.awaitingAuthResponse, "AUTH inside AUTH")
            require(config.authMechanisms.contains(mechanism), "AUTH \(mechanism) not offered")
            require(before.greeting != nil, "AUTH before EHLO")
            require(!before.isAuthenticated, "second AUTH")
            require(before.transaction == nil, "AUTH in a transaction")
            require(before.isTLS || config.authWithoutTLS, "AUTH in the clear")
        case .continueAuthentication:
            require(before.awaitingAuthResponse, "AUTH response outside an exchange")
        case .startTLS:
            require(config.startTLS && !before.isTLS, "STARTTLS not offered")
            require(before.greeting != nil && before.transaction == nil, "STARTTLS out of sequence")
        case .send(let replies, _):
            if before.awaitingAuthResponse {
                require(replies[0].code >= 500, "AUTH response answered with \(replies)")
            }
        case .hangUp(_, reason: .earlyPipelining):
            require(pipelined && config.rejectEarlyPipelining, "early pipelining hang-up without pipelining")
            require(!before.mayPipeline, "early pipelining hang-up for a client that may pipeline")
            require(CommandParser.verb(of: line) != .quit, "early pipelining hang-up for QUIT")
        case .hangUp(_, reason: .httpRequest):
            require(CommandParser.isHTTPRequest(line), "HTTP hang-up for \(text)")
        default:
            break
        }
    }

    /// Facts that hold between any two steps.
    mutating func checkState() {
        if machine.transaction == nil { openedEnvelope = nil }
        if let transaction = machine.transaction {
            require(machine.greeting != nil, "transaction without HELO")
            require(!config.requireAuth || machine.isAuthenticated, "transaction without the required AUTH")
            require(transaction.recipients.count <= config.maxRecipients, "too many recipients kept")
            require(transaction.chunkedSize >= 0, "chunked size \(transaction.chunkedSize)")
        }
        if config.maxErrors > 0 { require(machine.errorCount <= config.maxErrors, "error count \(machine.errorCount)") }
        if config.maxAuthFailures > 0 {
            require(machine.authFailures <= config.maxAuthFailures, "auth failures \(machine.authFailures)")
        }
        if machine.isAuthenticated { require(!machine.awaitingAuthResponse, "AUTH exchange after success") }
        _ = machine.protocolName
    }
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
}
