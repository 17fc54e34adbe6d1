/// Deadlines: the greeting delay, idle and data timeouts, the minimum data rate, the session's length, and how
/// long a client may take to say HELO or to finish a command line.
extension ServerConnection {
    /// When `timeElapsed(at:)` must be called next; nil when nothing is timed.
    public var nextDeadline: Duration? {
        switch state {
        case .closed:
            return nil
        case .greeting(let lastLineAt):
            return min(lastLineAt, sessionDeadline)
        case .waiting:
            // Nothing but the session's own end runs while the server is busy.
            return deadlines.forceClose ?? sessionDeadline
        case .reading:
            var earliest = min(sessionDeadline, idleDeadline)
            if let rate = limiter.dataRateDeadline { earliest = min(earliest, rate) }
            if let hello = helloDeadline { earliest = min(earliest, hello) }
            if let line = lineDeadline { earliest = min(earliest, line) }
            return earliest
        }
    }

    /// Time passed: the greeting's last line, or a timeout. Call when `nextDeadline` has come (calling early is
    /// harmless).
    public mutating func timeElapsed(at now: Duration) -> ConnectionAction? {
        switch state {
        case .closed:
            return nil
        case .greeting(let lastLineAt):
            if now >= sessionDeadline { return close([.sessionExpired], .hangUp(.sessionDeadline)) }
            guard now >= lastLineAt else { return nil }
            limiter.greetingSent()
            state = .reading(.command)
            return .write(Self.greetingHalves(machine.delayedGreetingReply).last)
        case .waiting:
            if let force = deadlines.forceClose, now >= force {
                return close([.sessionExpired], .hangUp(.sessionDeadline))
            }
            if now >= sessionDeadline, deadlines.forceClose == nil {
                // The hang-up waits for the call in progress (a commit, say), but not for ever.
                deadlines.forceClose = now + .seconds(30)
                return hangUp([.sessionExpired], .hangUp(.sessionDeadline))
            }
            return nil
        case .reading:
            if now >= sessionDeadline { return hangUp([.sessionExpired], .hangUp(.sessionDeadline)) }
            if let violation = limiter.checkDataRate(at: now) { return hangUp(violation) }
            if now >= idleDeadline { return close([.timeout], .idleTimeout) }
            if let hello = helloDeadline, now >= hello { return close([.timeout], .idleTimeout) }
            if let line = lineDeadline, now >= line { return close([.timeout], .idleTimeout) }
            return nil
        }
    }

    /// Tells the limiter whether a body is being received now (DATA content, or a BDAT transaction from its first
    /// chunk to its last): call after each step, so the minimum data rate applies to bodies only.
    public mutating func syncBodyTiming(at now: Duration) {
        let receiving: Bool
        switch state {
        case .reading(.data), .reading(.chunk): receiving = true
        case .waiting: return
        default: receiving = machine.transaction?.chunked == true
        }
        limiter.receivingBody(receiving, at: now)
    }

    /// The server keeps the client waiting on its own account from `now` (a write of the body): input read
    /// meanwhile is timed as of now, and the wait counts neither against the client's data rate nor as its
    /// idleness once `serverBusyEnded(at:)` says it is over.
    public mutating func serverBusyBegan(at now: Duration) {
        busySince = now
    }

    public mutating func serverBusyEnded(at now: Duration) {
        guard let since = busySince else { return }
        busySince = nil
        limiter.serverPaused(for: now - since)
        deadlines.lastActivity = max(deadlines.lastActivity, now)
    }

    private var sessionDeadline: Duration { deadlines.started + settings.timeouts.session }

    /// Clients that have not authenticated get less time while the server is under pressure.
    private func shortened(_ timeout: Duration) -> Duration {
        underPressure && !machine.isAuthenticated ? min(timeout, settings.timeouts.underPressure) : timeout
    }

    private var idleDeadline: Duration {
        let timeout = isReadingBody ? settings.timeouts.data : shortened(settings.timeouts.command)
        return deadlines.lastActivity + timeout
    }

    private var helloDeadline: Duration? {
        guard !deadlines.greeted else { return nil }
        return deadlines.started + settings.greetingDelay + shortened(settings.timeouts.hello)
    }

    private var lineDeadline: Duration? {
        deadlines.lineStarted.map { $0 + shortened(settings.timeouts.commandLine) }
    }
}
