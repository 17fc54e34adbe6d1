import FuzzSupport
import SMTPCore

/// Fuzzes `ServerConnection`, the sans-IO connection core that the server's NIO handler drives, exactly as the
/// handler drives it: the client's bytes arrive in reads of fuzzer-chosen sizes, time passes between events, the
/// client may end its input at any point, the server may drain or evict, and every call the core asks for is
/// answered by the back of the input (accept, refuse, SASL steps, commit or fail).
///
/// Besides "never traps": every reply is well-formed; `process` never consumes more than it was given and always
/// makes progress or stops; nothing happens after a close; while a call is out no input is read; a 250 with a
/// queue id follows only a commit the backend confirmed, and the message it acknowledges is the body the core
/// handed over, within the size limit; once the input has ended and no call is out the connection closes; a
/// deadline that has come is acted on or moved later, never left behind.
@_cdecl("FuzzConnection_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        var driver = ConnectionDriver(FuzzInput(bytes(data, size)))
        driver.run()
        return 0
    }
}

/// Collects the body the core hands over.
private struct Collector: DotUnstufferOutput {
    var bytes: [UInt8] = []

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        require(range.lowerBound >= 0 && range.upperBound <= input.count, "body range \(range) of \(input.count)")
        bytes += UnsafeRawBufferPointer(rebasing: input[range])
    }

    mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }
}

private struct ConnectionDriver {
    var input: FuzzInput
    var core: ServerConnection
    let session: SessionConfiguration
    /// Octets received and not yet consumed.
    var buffer: [UInt8] = []
    var received = 0
    var now = Duration.zero
    var closed = false
    var body = Collector()
    var open = false
    /// The id of the commit the backend just confirmed, whose 250 must come next.
    var confirmed: String?
    var commits = 0

    init(_ input: FuzzInput) {
        var input = input
        let (server, isTLS) = fuzzSessionConfiguration(&input)
        let listener: ListenerKind = [.smtp, .submission, .submissions][input.choice(3)]
        var timeouts = ConnectionTimeouts()
        if input.choiceBool() {
            timeouts = ConnectionTimeouts(
                command: .seconds(5), data: .seconds(10), session: .seconds(60), hello: .seconds(3),
                commandLine: .seconds(2), underPressure: .seconds(1))
        }
        var limits = fuzzConnectionLimits(&input)
        limits.greetingDelay = [.zero, .zero, .seconds(1)][input.choice(3)]
        let settings = ConnectionSettings(
            server: server, limits: limits, timeouts: timeouts, listener: listener, tlsAvailable: input.choiceBool(),
            authWithoutTLSOnLoopback: input.choiceBool(), clientIsLoopback: input.choiceBool())
        session = settings.session
        core = ServerConnection(settings: settings, isTLS: isTLS || listener == .submissions, at: .zero)
        core.underPressure = input.choice(4) == 0
        self.input = input
    }

    mutating func run() {
        handle(core.start(at: now))
        var steps = 0
        while !closed, steps < 5_000 {
            steps += 1
            switch input.choice(8) {
            case 0, 1, 2, 3:
                // A read of up to 1,500 octets; none left: the client ends its input.
                let read = Array(input.take(1 + input.choice(in: 0...1499)))
                if read.isEmpty {
                    endInput()
                } else {
                    receive(read)
                }
            case 4:
                now +=
                    [.milliseconds(1), .milliseconds(500), .seconds(3), .seconds(30), .seconds(700)][input.choice(5)]
                tick()
            case 5:
                endInput()
            case 6:
                if input.choice(16) == 0, let action = core.drain() { handle(action) }
                if input.choice(64) == 0, let action = core.closeNow(.evicted) { handle(action) }
                drive()
            default:
                core.underPressure.toggle()
                tick()
            }
            if input.isEmpty { endInput() }
        }
    }

    mutating func receive(_ bytes: [UInt8]) {
        received += bytes.count
        if let action = core.received(bytes.count, at: now) { handle(action) }
        require(
            core.limiter.sessionBytes == received || closed, "session bytes \(core.limiter.sessionBytes) of \(received)"
        )
        guard !closed else { return }
        buffer += bytes
        drive()
    }

    mutating func endInput() {
        core.endOfInput()
        drive()
        // With no call out, everything complete has been answered: the connection must be closed now.
        if !core.isWaiting, !closed, !isGreeting {
            require(false, "input ended, nothing pending, connection still open")
        }
        if isGreeting {
            now += .seconds(2)
            tick()
        }
    }

    var isGreeting: Bool { !closed && !core.isWaiting && core.settings.greetingDelay > .zero && !core.limiter.greeted }

    /// Feeds the buffered input until the core needs more.
    mutating func drive() {
        var idle = 0
        while !closed {
            let before = buffer.count
            let step = buffer.withUnsafeBytes { core.process($0, body: &body, at: now) }
            require(step.consumed >= 0 && step.consumed <= before, "consumed \(step.consumed) of \(before)")
            if core.isWaiting { require(step.consumed == 0 || step.action != nil, "read while waiting") }
            buffer.removeFirst(step.consumed)
            if let action = step.action {
                handle(action)
                idle = 0
            } else if step.consumed == 0 {
                break
            }
            idle += 1
            require(idle < 100_000, "no end to processing")
        }
        core.syncBodyTiming(at: now)
    }

    /// Time passed: act on the deadline if it has come.
    mutating func tick() {
        guard !closed, let deadline = core.nextDeadline else { return }
        guard now >= deadline else { return }
        if let action = core.timeElapsed(at: now) {
            handle(action)
            drive()
        } else {
            require(closed || core.nextDeadline.map { $0 > now } ?? true, "deadline \(deadline) passed and kept")
        }
    }

    mutating func handle(_ action: ConnectionAction) {
        require(!closed, "an action after the close: \(action)")
        if case .send(let replies) = action, confirmed == nil {
            for reply in replies { require(!reply.wireText.contains("OK: queued as"), "unconfirmed 250: \(reply)") }
        }
        switch action {
        case .send(let replies):
            require(!replies.isEmpty, "empty send")
            for reply in replies { requireWellFormed(reply) }
            if let id = confirmed {
                require(
                    replies[0].code == 250 && replies[0].wireText.contains(id), "commit confirmed, reply \(replies)")
                confirmed = nil
            }
        case .write(let text):
            require(text.hasPrefix("220"), "greeting half \(text)")
        case .close(let replies, let reason):
            for reply in replies { requireWellFormed(reply) }
            if let id = confirmed {
                require(
                    replies.first?.code == 250 && replies[0].wireText.contains(id), "confirmed commit lost on close")
                confirmed = nil
            }
            if case .quit = reason { require(replies.last?.code == 221, "QUIT answered \(replies)") }
            require(core.isClosed, "close action but the core is open")
            closed = true
        case .checkSender:
            answer(core.senderChecked(pick([nil, .relayDenied, .localError]), at: later()))
        case .checkRecipient(let recipient):
            answer(
                core.recipientChecked(recipient, refusal: pick([nil, .noSuchUser, .insufficientStorage]), at: later()))
        case .lookup:
            answer(core.lookupAnswered(pick([.cannotVerify, .noSuchUser])!, at: later()))
        case .reset, .abortMessage:
            body = Collector()
            open = false
            answer(core.resetDone(at: later()))
        case .openMessage(let envelope):
            require(!envelope.recipients.isEmpty, "message without recipients")
            body = Collector()
            let refusal = pick([nil, .localError, .insufficientStorage])
            open = refusal == nil
            answer(core.messageOpened(refusal: refusal, at: later()))
        case .commit:
            require(open, "commit without an open message")
            if session.maxMessageSize > 0 {
                require(core.bodySize <= session.maxMessageSize, "committing \(core.bodySize) octets")
            }
            require(body.bytes.count == core.bodySize, "handed over \(body.bytes.count), size \(core.bodySize)")
            open = false
            commits += 1
            if input.choice(4) == 0 {
                answer(core.messageCommitted(.failure(.localError), at: later()))
            } else {
                let id = "FUZZ\(commits)"
                confirmed = id
                answer(core.messageCommitted(.success(id), at: later()))
            }
        case .startTLS(let reply):
            require(reply.code == 220, "STARTTLS answered \(reply)")
            require(session.startTLS, "STARTTLS on a connection that does not offer it")
            // The driver throws away what the client sent before the handshake.
            buffer.removeAll()
        case .authenticate, .continueAuthentication:
            let steps: [AuthStep] = [
                .success("alice@example.com"), .challenge([]), .failure(.badCredentials), .failure(.malformed),
                .failure(.throttled), .failure(.temporary),
            ]
            answer(core.authStepped(steps[input.choice(steps.count)], at: later()))
        case .authenticated:
            answer(core.authenticationRecorded(at: later()))
        }
    }

    mutating func answer(_ action: ConnectionAction?) {
        require(!core.isWaiting || action != nil, "answered, still waiting, nothing to do")
        if let action { handle(action) }
        require(confirmed == nil || closed, "a confirmed commit got no 250")
    }

    /// Backend calls take a little time, sometimes a lot.
    mutating func later() -> Duration {
        now += [.zero, .milliseconds(5), .seconds(2)][input.choice(3)]
        return now
    }

    mutating func pick(_ replies: [Reply?]) -> Reply? {
        replies[input.choice(replies.count)]
    }
}
