/// How long a connection may take over each part of a session (RFC 5321 §4.5.3.2 for the first three).
public struct ConnectionTimeouts: Sendable, Hashable {
    /// Waiting for the next command (RFC 5321 §4.5.3.2.7 asks for at least 5 minutes).
    public var command: Duration
    /// Waiting for more message data (RFC 5321 §4.5.3.2.5–6).
    public var data: Duration
    /// A whole session.
    public var session: Duration
    /// From the connection (or the end of the greeting) to a successful HELO or EHLO. Senders say EHLO at once;
    /// connections that never do hold a place for nothing.
    public var hello: Duration
    /// From the first octet of a command line to its CRLF: a client that trickles a line a byte at a time keeps
    /// the command timeout from firing.
    public var commandLine: Duration
    /// What `command`, `hello` and `commandLine` shrink to for clients that have not authenticated while the
    /// server is under pressure (most of its connection places taken), as Postfix's postscreen does under stress.
    public var underPressure: Duration

    public init(
        command: Duration = .seconds(300), data: Duration = .seconds(600), session: Duration = .seconds(3600),
        hello: Duration = .seconds(120), commandLine: Duration = .seconds(300), underPressure: Duration = .seconds(10)
    ) {
        self.command = command
        self.data = data
        self.session = session
        self.hello = hello
        self.commandLine = commandLine
        self.underPressure = underPressure
    }
}

/// What one connection needs to know to run: the protocol settings, limits and timeouts of its server, what its
/// listener is for, and the facts about this connection that change what it may do.
public struct ConnectionSettings: Sendable {
    /// The server's protocol settings; `session` is what applies on this connection.
    public var server: SessionConfiguration
    public var limits: ConnectionLimits
    public var timeouts: ConnectionTimeouts
    public var listener: ListenerKind
    /// Whether the server has a certificate (STARTTLS can be offered).
    public var tlsAvailable: Bool
    /// Whether AUTH is allowed without TLS for clients on loopback (development).
    public var authWithoutTLSOnLoopback: Bool
    /// Whether the client connects from 127.0.0.0/8 or ::1.
    public var clientIsLoopback: Bool

    public init(
        server: SessionConfiguration, limits: ConnectionLimits = ConnectionLimits(),
        timeouts: ConnectionTimeouts = ConnectionTimeouts(), listener: ListenerKind = .smtp,
        tlsAvailable: Bool = false, authWithoutTLSOnLoopback: Bool = false, clientIsLoopback: Bool = false
    ) {
        self.server = server
        self.limits = limits
        self.timeouts = timeouts
        self.listener = listener
        self.tlsAvailable = tlsAvailable
        self.authWithoutTLSOnLoopback = authWithoutTLSOnLoopback
        self.clientIsLoopback = clientIsLoopback
    }

    /// The protocol settings on this listener: submission listeners require AUTH before MAIL (RFC 6409), implicit
    /// TLS has no STARTTLS, and AUTH in the clear only from loopback when allowed.
    public var session: SessionConfiguration {
        var session = server
        session.startTLS = tlsAvailable && listener != .submissions
        session.authWithoutTLS = authWithoutTLSOnLoopback && clientIsLoopback
        session.requireAuth = listener != .smtp
        return session
    }

    /// The greeting is held back on mail exchange listeners only: submission clients are known users.
    public var greetingDelay: Duration { listener == .smtp ? limits.greetingDelay : .zero }
}
