import NIOCore
import NIOSSL
import SMTPCore

/// An address to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var kind: ListenerKind

    public init(host: String, port: Int, kind: ListenerKind = .smtp) {
        self.host = host
        self.port = port
        self.kind = kind
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Settings of an `SMTPServer`. Every field has a safe default.
public struct SMTPServerConfiguration: Sendable {
    /// Where to listen; port 0 picks a free port (see `SMTPServer.listeningAddresses`).
    public var listen: [ListenAddress]
    /// Protocol settings: hostname, size limit, extensions, VRFY/EXPN policy.
    public var session: SessionConfiguration
    /// How long the server waits for the next command (RFC 5321 §4.5.3.2.7 asks for at least 5 minutes).
    public var commandTimeout: Duration
    /// How long the server waits for more message data (RFC 5321 §4.5.3.2.5–6).
    public var dataTimeout: Duration
    /// The longest a whole session may last.
    public var sessionTimeout: Duration
    /// From the connection to a successful HELO or EHLO.
    public var helloTimeout: Duration
    /// From the first octet of a command line to its CRLF.
    public var commandLineTimeout: Duration
    /// What the command, hello and command-line timeouts shrink to for clients that have not authenticated while
    /// three quarters of `maxConnections` are taken.
    public var pressureTimeout: Duration
    /// Limits on each connection: greeting delay, commands per second, minimum body data rate, bytes per session.
    public var limits: ConnectionLimits
    /// Connections open at once, in all. When all are taken, the one that has been idle longest without saying
    /// HELO or EHLO is closed (421 4.7.0) to make room; when there is none, the newcomer gets 421 4.7.0.
    public var maxConnections: Int
    /// Connections open at once from one client address; more get 421 4.7.0.
    public var maxConnectionsPerClient: Int
    /// On shutdown, how long transactions in flight may take before their connections are closed with 421.
    public var shutdownGracePeriod: Duration
    /// Prepend a `Received:` trace header to every message (RFC 5321 §4.4).
    public var addReceivedHeader: Bool
    /// The TLS context for a new connection (STARTTLS and implicit TLS); nil disables TLS. Called per connection,
    /// so a provider that reloads certificates takes effect for new connections.
    public var tls: (@Sendable () -> NIOSSLContext)?
    /// Checks credentials for AUTH; nil disables AUTH.
    public var authenticator: (any SMTPAuthenticator)?
    /// Allow AUTH without TLS from loopback addresses (development only).
    public var authWithoutTLSOnLoopback: Bool
    /// Failed authentications tolerated from one client address within `authThrottleWindow` before AUTH is
    /// refused (454 4.7.0) for that long.
    public var authFailuresPerClient: Int
    public var authThrottleWindow: Duration
    /// SASL steps (password hashing) running at once, on threads of their own off the event loops.
    public var authConcurrency: Int
    /// How long a SASL step may wait for its turn before AUTH fails with 454 4.7.0.
    public var authQueueTimeout: Duration
    /// Called with the bound addresses once every listener is bound and before the first connection is accepted
    /// (connections wait in the kernel's backlog until it returns); an error stops the server before it serves
    /// anyone. The daemon drops its root privileges here: it binds port 25 as root and reads no client byte as root.
    public var onListenersBound: (@Sendable ([SocketAddress]) throws -> Void)?

    public init(
        listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 2525)],
        session: SessionConfiguration = SessionConfiguration(),
        commandTimeout: Duration = .seconds(300),
        dataTimeout: Duration = .seconds(600),
        sessionTimeout: Duration = .seconds(3600),
        helloTimeout: Duration = .seconds(120),
        commandLineTimeout: Duration = .seconds(300),
        pressureTimeout: Duration = .seconds(10),
        limits: ConnectionLimits = ConnectionLimits(),
        maxConnections: Int = 500,
        maxConnectionsPerClient: Int = 100,
        shutdownGracePeriod: Duration = .seconds(10),
        addReceivedHeader: Bool = true,
        tls: (@Sendable () -> NIOSSLContext)? = nil,
        authenticator: (any SMTPAuthenticator)? = nil,
        authWithoutTLSOnLoopback: Bool = false,
        authFailuresPerClient: Int = 10,
        authThrottleWindow: Duration = .seconds(300),
        authConcurrency: Int = System.coreCount,
        authQueueTimeout: Duration = .seconds(10)
    ) {
        self.listen = listen
        self.session = session
        self.commandTimeout = commandTimeout
        self.dataTimeout = dataTimeout
        self.sessionTimeout = sessionTimeout
        self.helloTimeout = helloTimeout
        self.commandLineTimeout = commandLineTimeout
        self.pressureTimeout = pressureTimeout
        self.limits = limits
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.shutdownGracePeriod = shutdownGracePeriod
        self.addReceivedHeader = addReceivedHeader
        self.tls = tls
        self.authenticator = authenticator
        self.authWithoutTLSOnLoopback = authWithoutTLSOnLoopback
        self.authFailuresPerClient = authFailuresPerClient
        self.authThrottleWindow = authThrottleWindow
        self.authConcurrency = authConcurrency
        self.authQueueTimeout = authQueueTimeout
    }
}

extension Duration {
    var timeAmount: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
