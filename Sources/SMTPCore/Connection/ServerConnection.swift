/// One SMTP connection, server side, as a value. The driver hands it the client's bytes, the end of the client's
/// input, the passing of time and the answers to what it asked for; it returns what to do. It frames the byte
/// stream (command lines with their limits, DATA bodies, BDAT chunks), runs the session (`ServerStateMachine`)
/// and the connection's limits (`ConnectionLimiter`), and keeps every deadline. It does no I/O and reads no clock:
/// each method that needs the time takes it, as a duration since any monotonic origin.
///
/// The driver keeps the input buffer: `process` reads from the bytes not yet consumed and says how many it used,
/// so a body's octets can reach the store as slices of the network buffers, never copied here.
public struct ServerConnection: Sendable {
    public let settings: ConnectionSettings
    /// The session: its greeting, authentication, transaction.
    public internal(set) var machine: ServerStateMachine
    public internal(set) var limiter: ConnectionLimiter
    var state: State
    /// The octets of the message body so far, after dot-unstuffing.
    public internal(set) var bodySize = 0
    /// The message body as received, dot-stuffing and BDAT chunks included: credited back to the session byte
    /// limit when the message is accepted.
    var bodyWireBytes = 0
    /// The client shut down its sending side (TCP FIN, TLS close_notify): what it sent before is still answered
    /// in order, then the connection closes. Exim pipelines its last commands and half-closes.
    public private(set) var inputEnded = false
    /// The server is shutting down: close once no transaction is in flight.
    var draining = false
    /// Set by the driver: most of the server's connection places are taken, so idle clients get less time.
    public var underPressure = false
    /// A hang-up decided while a call was out: carried out with the call's answer, so that its reply (the 250 of
    /// a committed message, say) is not lost.
    var pendingClose: (replies: [Reply], reason: CloseReason)?
    /// The reply that follows the backend's `.reset` or `.abortMessage`.
    var replyAfterReset: Reply?
    /// What the outstanding `.openMessage` is for.
    var opening: Opening?
    var deadlines: Deadlines
    /// Since when the server keeps the client waiting outside a call (`serverBusyBegan(at:)`).
    var busySince: Duration?

    enum State: Sendable {
        /// The first line of a delayed greeting is out and the last goes at `lastLineAt`; input now breaks the
        /// rule (the limiter says so).
        case greeting(lastLineAt: Duration)
        case reading(Input)
        /// An action is out; input waits in the driver's buffer until the answer.
        case waiting(since: Duration)
        case closed
    }

    enum Input: Sendable {
        case command
        /// A command line grew past its limit: drop octets up to its CRLF.
        case discardingLine
        case data(DotUnstuffer)
        case chunk(remaining: Int, deliver: Bool, openRefusal: Reply?)
    }

    enum Opening: Sendable {
        case data
        case chunk(size: Int)
    }

    /// The times the connection keeps; `nextDeadline` is the earliest that applies.
    struct Deadlines: Sendable {
        /// When the client last sent something, or the server last finished something it asked for.
        var lastActivity: Duration
        let started: Duration
        /// When the current, still incomplete, command line began; nil between lines.
        var lineStarted: Duration?
        /// Whether HELO or EHLO ever succeeded (STARTTLS forgets the greeting, not this).
        var greeted = false
        /// After the session deadline passed while a call was out: close even if it never returns.
        var forceClose: Duration?
    }

    /// A connection that has just been accepted at `now`; call `start(at:)` next.
    public init(settings: ConnectionSettings, isTLS: Bool = false, at now: Duration) {
        self.settings = settings
        machine = ServerStateMachine(configuration: settings.session)
        machine.isTLS = isTLS
        limiter = ConnectionLimiter(limits: settings.limits, maxMessageSize: settings.server.maxMessageSize, now: now)
        state = .reading(.command)
        deadlines = Deadlines(lastActivity: now, started: now)
    }

    /// Whether the connection has closed (or decided to).
    public var isClosed: Bool { if case .closed = state { true } else { false } }
    /// Whether an action is waiting for its answer.
    public var isWaiting: Bool { if case .waiting = state { true } else { false } }
    /// Whether a message body is being read: the driver then waits for data, not commands.
    public var isReadingBody: Bool {
        switch state {
        case .reading(.data), .reading(.chunk): true
        default: false
        }
    }

    // MARK: Greeting

    /// The greeting: the whole 220, or with a greeting delay its first line (the last comes from
    /// `timeElapsed(at:)`).
    public mutating func start(at now: Duration) -> ConnectionAction {
        let delay = settings.greetingDelay
        guard delay > .zero else {
            limiter.greetingSent()
            return .send([machine.greetingReply])
        }
        state = .greeting(lastLineAt: now + delay)
        return .write(Self.greetingHalves(machine.delayedGreetingReply).first)
    }

    static func greetingHalves(_ reply: Reply) -> (first: String, last: String) {
        let text = reply.wireText
        let end = text.firstRange(of: "\r\n")!.upperBound
        return (String(text[..<end]), String(text[end...]))
    }

    // MARK: Input

    /// `count` octets arrived from the client (call before `process`, once per read).
    public mutating func received(_ count: Int, at now: Duration) -> ConnectionAction? {
        guard !isClosed, pendingClose == nil else { return nil }
        // Input read ahead while a call is out is timed as of the call's start: the server, not the client, is
        // slow then (the answer credits the pause to the data rate).
        var time = busySince ?? now
        if case .waiting(let since) = state { time = since }
        deadlines.lastActivity = max(deadlines.lastActivity, now)
        if let violation = limiter.received(count, at: time) { return hangUp(violation) }
        return nil
    }

    /// The client ended its input. Call `process` next: it answers what is complete, then closes.
    public mutating func endOfInput() {
        inputEnded = true
    }

    /// What `process` did: how many octets of the input it used, and what to do, if anything. With no action
    /// the connection needs more input (or an answer).
    public struct Step: Sendable {
        public var consumed: Int
        public var action: ConnectionAction?
        /// Set when the step read a command line (not a line of an AUTH exchange): its verb, nil when unknown.
        public var command: Verb??

        init(_ consumed: Int, _ action: ConnectionAction?, command: Verb?? = nil) {
            self.consumed = consumed
            self.action = action
            self.command = command
        }
    }

    /// Reads one unit of `input` (the client's octets not yet consumed): a command line, or a run of a message
    /// body, whose octets go to `body` (as ranges of `input`). Carry out the action, if any, drop the consumed
    /// octets and call again; stop when nothing was consumed and there is no action (more input is needed), or
    /// while an action waits for its answer.
    public mutating func process<Body: DotUnstufferOutput>(
        _ input: UnsafeRawBufferPointer, body: inout Body, at now: Duration
    ) -> Step {
        guard case .reading(let mode) = state, pendingClose == nil else { return Step(0, nil) }
        switch mode {
        case .command:
            if draining, machine.transaction == nil { return Step(0, close([.shuttingDown], .shuttingDown)) }
            return command(input, at: now)
        case .discardingLine:
            if let length = Self.lineLength(in: input, searchingAtMost: input.count) {
                state = .reading(.command)
                deadlines.lineStarted = nil
                return Step(length, nil)
            }
            // Keep a trailing CR: its LF may be in the next read.
            let keep = input.last == .cr ? 1 : 0
            return Step(input.count - keep, inputEnded ? close([], .endOfInput) : nil)
        case .data(var reader):
            if input.isEmpty { return Step(0, inputEnded ? close([], .endOfInput) : nil) }
            var counted = LimitedOutput(base: body, limit: settings.server.maxMessageSize, delivered: bodySize)
            let consumed = reader.consume(input, into: &counted)
            body = counted.base
            bodySize = counted.delivered
            bodyWireBytes += consumed
            guard reader.isComplete else {
                state = .reading(.data(reader))
                return Step(consumed, nil)
            }
            state = .reading(.command)
            return Step(
                consumed,
                perform(machine.dataReceived(size: bodySize, sawBareLineEnding: reader.sawBareLineEnding), at: now))
        case .chunk(let remaining, let deliver, let openRefusal):
            if remaining == 0 {
                state = .reading(.command)
                return Step(0, perform(machine.chunkReceived(openRefusal: openRefusal), at: now))
            }
            if input.isEmpty { return Step(0, inputEnded ? close([], .endOfInput) : nil) }
            let count = min(remaining, input.count)
            if deliver { body.appendInput(0..<count, of: input) }
            bodyWireBytes += count
            state = .reading(.chunk(remaining: remaining - count, deliver: deliver, openRefusal: openRefusal))
            return Step(count, nil)
        }
    }

    /// The next command line, ended by CRLF only: a bare LF stays inside the line, where the parser refuses it.
    private mutating func command(_ input: UnsafeRawBufferPointer, at now: Duration) -> Step {
        let limit = machine.lineLimit(forLineStarting: input.prefix(5))
        guard let length = Self.lineLength(in: input, searchingAtMost: limit) else {
            if input.count >= limit {
                // The line goes on until its CRLF, and so does its deadline.
                state = .reading(.discardingLine)
                if deadlines.lineStarted == nil { deadlines.lineStarted = now }
                return Step(0, commandAllowed(at: now) ?? perform(machine.lineTooLong(), at: now))
            }
            if inputEnded { return Step(0, close([], .endOfInput)) }
            if !input.isEmpty, deadlines.lineStarted == nil { deadlines.lineStarted = now }
            return Step(0, nil)
        }
        deadlines.lineStarted = nil
        if let refusal = commandAllowed(at: now) { return Step(length, refusal) }
        let line = Array(input[..<(length - 2)])
        // Input already there behind the line was sent without waiting for its reply.
        let pipelined = input.count > length
        let command: Verb?? = machine.awaitingAuthResponse ? nil : .some(CommandParser.verb(of: line))
        return Step(length, perform(machine.receive(line: line, pipelined: pipelined), at: now), command: command)
    }

    /// The command rate limit: nil when the command may be handled.
    private mutating func commandAllowed(at now: Duration) -> ConnectionAction? {
        guard let violation = limiter.command(at: now) else { return nil }
        return hangUp(violation)
    }

    /// The length of the first line, CRLF included, if it ends within the first `limit` octets.
    static func lineLength(in input: UnsafeRawBufferPointer, searchingAtMost limit: Int) -> Int? {
        let end = min(limit, input.count)
        var index = 0
        while index < end, let lf = input[index..<end].firstIndex(of: .lf) {
            if lf > 0, input[lf - 1] == .cr { return lf + 1 }
            index = lf + 1
        }
        return nil
    }

    // MARK: Shutdown

    /// The server is shutting down: the connection closes at once when idle, else once its transaction is over.
    public mutating func drain() -> ConnectionAction? {
        draining = true
        guard case .reading(.command) = state, machine.transaction == nil else { return nil }
        return close([.shuttingDown], .shuttingDown)
    }

    /// Close now: the shutdown grace period is over, or the server needs this place for another client.
    public mutating func closeNow(_ reason: CloseReason) -> ConnectionAction? {
        guard !isClosed else { return nil }
        switch reason {
        case .evicted: return close([.tooManyConnections], reason)
        default: return close([.shuttingDown], reason)
        }
    }

    // MARK: Closing

    mutating func close(_ replies: [Reply], _ reason: CloseReason) -> ConnectionAction {
        state = .closed
        return .close(after: replies, reason: reason)
    }

    /// Ends the connection for a broken rule or a limit; while an action is out, with its answer.
    mutating func hangUp(_ replies: [Reply], _ reason: CloseReason) -> ConnectionAction? {
        guard !isClosed else { return nil }
        if isWaiting {
            if pendingClose == nil { pendingClose = (replies, reason) }
            return nil
        }
        return close(replies, reason)
    }

    mutating func hangUp(_ violation: ConnectionLimiter.Violation) -> ConnectionAction? {
        hangUp(violation.reply.map { [$0] } ?? [], .hangUp(violation.reason))
    }
}

/// Hands the body to `base` while it is within the message size limit; past it the message will be refused, so
/// nothing more is kept. Counts every octet either way.
struct LimitedOutput<Base: DotUnstufferOutput>: DotUnstufferOutput {
    var base: Base
    let limit: Int
    var delivered: Int

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        delivered += range.count
        if limit == 0 || delivered <= limit { base.appendInput(range, of: input) }
    }

    mutating func appendByte(_ byte: UInt8) {
        delivered += 1
        if limit == 0 || delivered <= limit { base.appendByte(byte) }
    }
}
