import SMTPCore

/// An address to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
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
    /// Connections open at once, in all; more get 421 4.7.0.
    public var maxConnections: Int
    /// Connections open at once from one client address; more get 421 4.7.0.
    public var maxConnectionsPerClient: Int
    /// On shutdown, how long transactions in flight may take before their connections are closed with 421.
    public var shutdownGracePeriod: Duration
    /// Prepend a `Received:` trace header to every message (RFC 5321 §4.4).
    public var addReceivedHeader: Bool

    public init(
        listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 2525)],
        session: SessionConfiguration = SessionConfiguration(),
        commandTimeout: Duration = .seconds(300),
        dataTimeout: Duration = .seconds(600),
        sessionTimeout: Duration = .seconds(3600),
        maxConnections: Int = 500,
        maxConnectionsPerClient: Int = 100,
        shutdownGracePeriod: Duration = .seconds(10),
        addReceivedHeader: Bool = true
    ) {
        self.listen = listen
        self.session = session
        self.commandTimeout = commandTimeout
        self.dataTimeout = dataTimeout
        self.sessionTimeout = sessionTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.shutdownGracePeriod = shutdownGracePeriod
        self.addReceivedHeader = addReceivedHeader
    }
}

extension Duration {
    var timeAmount: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
