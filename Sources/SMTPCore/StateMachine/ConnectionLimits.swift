/// Why the server closes a connection on its own initiative: a rule broken or a limit reached. The raw value
/// names it in logs and metrics.
public enum HangUpReason: String, Sendable, Hashable, CaseIterable {
    /// Protocol errors reached `SessionConfiguration.maxErrors`.
    case tooManyErrors = "too_many_errors"
    /// Connections open in all, or from this client, reached the server's limits.
    case tooManyConnections = "too_many_connections"
    /// Failed AUTH attempts reached `SessionConfiguration.maxAuthFailures`.
    case tooManyAuthFailures = "too_many_auth_failures"
    /// An HTTP request line where a command was expected (cross-protocol attacks such as ALPACA).
    case httpRequest = "http_request"
    /// Commands sent before the reply to the previous one by a client that was not offered PIPELINING.
    case earlyPipelining = "early_pipelining"
    /// Bytes before the greeting was complete (Postfix postscreen's "pregreet" test).
    case pregreet
    /// More commands per second than `ConnectionLimits.commandsPerSecond` allows.
    case commandRate = "command_rate"
    /// A message body arrived slower than `ConnectionLimits.minDataRate`.
    case dataRate = "data_rate"
    /// More bytes in one session than `ConnectionLimits.maxSessionBytes`.
    case sessionBytes = "session_bytes"
    /// The session lasted longer than its deadline.
    case sessionDeadline = "session_deadline"
}

/// Limits on a whole connection rather than on one command: how early a client may talk, how fast it may send
/// commands, how slowly it may send a message body and how much it may send in all.
public struct ConnectionLimits: Sendable, Hashable {
    /// How long the greeting is held back: the server sends the first line of a two-line 220 at once and the
    /// last line after this delay; a client that talks before the last line is hung up on. Zero disables it.
    public var greetingDelay: Duration
    /// Commands per second a session may sustain (a token bucket); zero disables the limit.
    public var commandsPerSecond: Int
    /// Commands a session may send at once above the sustained rate (the bucket's size).
    public var commandBurst: Int
    /// Octets per second a message body (DATA, or the BDAT chunks of one message) must average once its
    /// grace period is used up; zero disables the limit. Rates above 2^30 count as 2^30.
    public var minDataRate: Int
    /// Time a message body gets for free before `minDataRate` applies.
    public var minDataRateGrace: Duration
    /// Octets a session may send in all, commands and message bodies, not counting the bodies of messages it
    /// delivered: the limit is against floods of refused or endless data, and a relay that reuses its connection
    /// may carry any amount of accepted mail. Zero means no limit, nil means ten times the largest message (no
    /// limit when messages have none).
    public var maxSessionBytes: Int?

    public init(
        greetingDelay: Duration = .zero,
        commandsPerSecond: Int = 2000,
        commandBurst: Int = 4000,
        minDataRate: Int = 500,
        minDataRateGrace: Duration = .seconds(60),
        maxSessionBytes: Int? = nil
    ) {
        self.greetingDelay = greetingDelay
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.minDataRate = minDataRate
        self.minDataRateGrace = minDataRateGrace
        self.maxSessionBytes = maxSessionBytes
    }

    /// The byte limit in effect for sessions whose messages may be `maxMessageSize` octets (0: no limit).
    public func sessionByteLimit(maxMessageSize: Int) -> Int {
        if let maxSessionBytes { return maxSessionBytes }
        let (product, overflow) = maxMessageSize.multipliedReportingOverflow(by: 10)
        return overflow ? 0 : product
    }
}

/// The bookkeeping of `ConnectionLimits` for one connection, as a value. It reads no clock: the I/O layer passes
/// the time of each event (any monotonic clock, as a duration since its origin) and arms its own timers.
public struct ConnectionLimiter: Sendable {
    /// A broken limit: send the reply, if any, close, and log the reason.
    public struct Violation: Sendable, Hashable {
        public var reply: Reply?
        public var reason: HangUpReason

        public init(_ reply: Reply?, _ reason: HangUpReason) {
            self.reply = reply
            self.reason = reason
        }
    }

    public let limits: ConnectionLimits
    /// The effective session byte limit (0: none).
    public let maxSessionBytes: Int

    /// False until the last line of the greeting has been sent; any input before that is a violation.
    public private(set) var greeted = false
    /// Octets received in this session.
    public private(set) var sessionBytes = 0
    /// Octets that count against `maxSessionBytes`: all received, less the bodies of accepted messages.
    public private(set) var chargedBytes = 0
    /// The token bucket as a "theoretical arrival time" (GCRA): the bucket is full when it is in the past.
    private var commandClock: Duration
    /// The message body being received, if one is.
    private var body: Body?

    private struct Body: Sendable {
        /// When the body started, moved later by the time the server itself kept the client waiting.
        var start: Duration
        var bytes = 0
    }

    public init(limits: ConnectionLimits, maxMessageSize: Int, now: Duration) {
        self.limits = limits
        self.maxSessionBytes = limits.sessionByteLimit(maxMessageSize: maxMessageSize)
        self.commandClock = now
    }

    /// The last line of the greeting is on its way: input is allowed from now on.
    public mutating func greetingSent() {
        greeted = true
    }

    /// Whether a message body is being timed.
    public var isTimingBody: Bool { body != nil }

    /// `count` octets arrived from the client.
    public mutating func received(_ count: Int, at now: Duration) -> Violation? {
        guard count > 0 else { return nil }
        guard greeted else { return Violation(.pregreet, .pregreet) }
        sessionBytes = Self.add(sessionBytes, count)
        chargedBytes = Self.add(chargedBytes, count)
        if maxSessionBytes > 0, chargedBytes > maxSessionBytes {
            return Violation(.sessionBytesExceeded, .sessionBytes)
        }
        if let body { self.body?.bytes = Self.add(body.bytes, count) }
        return checkDataRate(at: now)
    }

    /// A message of `octets` octets as received (its body as the client sent it) was accepted: they no longer
    /// count against `maxSessionBytes`.
    public mutating func messageAccepted(octets: Int) {
        chargedBytes -= min(max(octets, 0), chargedBytes)
    }

    /// A command line (or a line too long to be one) is about to be handled.
    public mutating func command(at now: Duration) -> Violation? {
        guard limits.commandsPerSecond > 0 else { return nil }
        let interval = Duration.seconds(1) / limits.commandsPerSecond
        let tolerance = interval * max(limits.commandBurst - 1, 0)
        let arrival = max(commandClock, now)
        if arrival - now > tolerance { return Violation(.tooManyCommands, .commandRate) }
        commandClock = arrival + interval
        return nil
    }

    /// Tells the limiter whether a message body is being received now (DATA content, or a BDAT transaction
    /// between its first chunk and its last). A body starts its clock when this first says so.
    public mutating func receivingBody(_ receiving: Bool, at now: Duration) {
        if receiving, body == nil { body = Body(start: now) }
        if !receiving { body = nil }
    }

    /// The server kept the client waiting for `duration` (a backend call): that time does not count against the
    /// client's data rate.
    public mutating func serverPaused(for duration: Duration) {
        body?.start += duration
    }

    /// When the body in progress falls below the minimum rate unless more of it arrives; nil when no body is
    /// timed or the limit is off.
    public var dataRateDeadline: Duration? {
        guard let body, limits.minDataRate > 0 else { return nil }
        let rate = min(limits.minDataRate, 1 << 30)
        let earned = Duration.seconds(body.bytes / rate) + .nanoseconds((body.bytes % rate) * 1_000_000_000 / rate)
        return body.start + limits.minDataRateGrace + earned
    }

    /// Whether the body in progress is below the minimum rate at `now`.
    public func checkDataRate(at now: Duration) -> Violation? {
        guard let deadline = dataRateDeadline, now >= deadline else { return nil }
        return Violation(.dataRateTooLow, .dataRate)
    }

    private static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}
