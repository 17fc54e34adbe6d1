import SMTPCore
import SMTPServer
import SwallowTLS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything the `swallow` daemon can be told, with the defaults it runs with when told nothing: listen on
/// 127.0.0.1:2525, accept mail for any recipient (catch-all), keep it under `./swallow-data`, relay nothing.
public struct SwallowConfiguration: Sendable {
    public var hostname: String = SwallowConfiguration.systemHostname()
    /// Mail exchange listeners (STARTTLS and AUTH offered), submission listeners (AUTH required) and
    /// implicit-TLS submission listeners, each `kind` set accordingly.
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 2525)]
    public var dataDirectory: String = "./swallow-data"

    public var maxMessageSize: Int = 25 * 1024 * 1024
    public var maxRecipients: Int = 100
    public var maxErrors: Int = 10
    /// nil: sized at start from the file descriptor limit and memory (`ConnectionCapacity`).
    public var maxConnections: Int?
    public var maxConnectionsPerClient: Int = 100
    /// Seconds the last line of the greeting is held back on mail exchange listeners; 0 = none.
    public var greetingDelay: Double = 0
    /// Commands per second a session may sustain, and in a burst; 0 = no limit.
    public var commandsPerSecond = 2000
    public var commandBurst = 4000
    /// Octets per second a message body must average after `minDataRateGrace` seconds; 0 = no limit.
    public var minDataRate = 500
    public var minDataRateGrace: Double = 60
    /// Octets per session; nil: ten times `maxMessageSize` (no limit when that is 0); 0 = no limit.
    public var maxSessionBytes: Int?
    /// Hang up on clients that send commands before the reply when PIPELINING was not offered to them.
    public var rejectEarlyPipelining = true

    /// Seconds.
    public var commandTimeout: Int = 300
    public var dataTimeout: Int = 600
    public var sessionTimeout: Int = 3600
    /// From the connection to a successful HELO or EHLO; from a command line's first octet to its CRLF; and what
    /// command, hello and line timeouts shrink to for clients that have not authenticated under pressure.
    public var helloTimeout: Int = 120
    public var commandLineTimeout: Int = 300
    public var pressureTimeout: Int = 10
    public var shutdownGrace: Int = 10

    public var vrfy: LookupPolicy = .authenticated
    public var expn: LookupPolicy = .authenticated
    public var bareLineEndings: DotUnstuffer.BareLineEndings = .reject
    /// Accept any recipient and create its mailbox on first delivery. When not set: on if no domain is configured.
    public var catchAll: Bool?
    public var domains: [DomainConfiguration] = []
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    /// `log_format`: text lines (default) or one JSON object per line.
    public var logFormat: LogFormat = .text
    /// `[storage] journal`: small messages are made durable by the acceptance journal, many per sync.
    public var journal = true
    /// `[storage] checkpoint_interval`, seconds: how often the journal's messages are synced in their Maildirs.
    public var checkpointInterval: Double = 0.2

    /// Certificates (PEM); the first is the default, the others are chosen by SNI. Empty: a self-signed
    /// certificate is made in `<data dir>/tls` on first start, so STARTTLS works out of the box.
    public var certificates: [CertificateFiles] = []

    /// Where the users and their SCRAM credentials live; default `<data dir>/users`.
    public var usersFile: String?
    public var authMechanisms: [String] = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    /// Allow AUTH without TLS from 127.0.0.0/8 and ::1 (development only).
    public var authPlaintextOnLoopback = false
    public var maxAuthFailures = 3
    public var authFailuresPerClient = 10
    /// Failed logins to one account (from anywhere) before it is locked for the throttle window.
    public var authFailuresPerAccount = 20
    /// Seconds.
    public var authThrottleWindow = 300
    /// Addresses an authenticated user may use as sender besides its own: `user → [address or "@domain"]`.
    public var allowedSenders: [String: [String]] = [:]

    /// `[delivery]`: the outbound queue's resolver, retries, timeouts and optional smarthost.
    public var delivery = DeliverySettings()

    /// `[http] listen`: the HTTP service (`/metrics`, `/healthz`, `/readyz`); nil: none. On, at 127.0.0.1:8025, when
    /// Swallow runs without a configuration file; a file turns it on with an `[http]` section.
    public var httpListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8025)
    /// Whether `httpListen` is the default of a run without configuration: a taken port is then a warning, not the
    /// end of the daemon.
    public var httpListenIsDefault = true

    /// `user`, `group`: the account to serve as when started as root (see `PrivilegePlan`); group default: the
    /// user's primary group.
    public var user: String?
    public var group: String?
    /// `allow_root`: serve as root on addresses beyond loopback (refused otherwise when `user` is not set).
    public var allowRoot = false

    public init() {}

    /// Whether the catch-all mode is in effect.
    public var isCatchAll: Bool { catchAll ?? domains.isEmpty }

    /// Where the Maildirs live: `<data dir>/mail/<domain>/<local part>/`.
    public var mailDirectory: String { dataDirectory + "/mail" }
    /// The acceptance journal (see `DeliveryJournal`): `<data_dir>/journal`.
    public var journalDirectory: String { dataDirectory + "/journal" }
    /// The outbound queue: `<data_dir>/queue`.
    public var queueDirectory: String { dataDirectory + "/queue" }
    public var resolvedUsersFile: String { usersFile ?? dataDirectory + "/users" }
    /// Where the development certificate is made when none is configured.
    public var selfSignedDirectory: String { dataDirectory + "/tls" }

    public var serverConfiguration: SMTPServerConfiguration {
        SMTPServerConfiguration(
            listen: listen,
            session: SessionConfiguration(
                hostname: hostname, maxMessageSize: maxMessageSize, maxRecipients: maxRecipients,
                maxErrors: maxErrors, vrfy: vrfy, expn: expn, bareLineEndings: bareLineEndings,
                maxAuthFailures: maxAuthFailures, rejectEarlyPipelining: rejectEarlyPipelining),
            commandTimeout: .seconds(commandTimeout), dataTimeout: .seconds(dataTimeout),
            sessionTimeout: .seconds(sessionTimeout), helloTimeout: .seconds(helloTimeout),
            commandLineTimeout: .seconds(commandLineTimeout), pressureTimeout: .seconds(pressureTimeout),
            limits: ConnectionLimits(
                greetingDelay: .seconds(greetingDelay), commandsPerSecond: commandsPerSecond,
                commandBurst: commandBurst, minDataRate: minDataRate, minDataRateGrace: .seconds(minDataRateGrace),
                maxSessionBytes: maxSessionBytes),
            maxConnections: effectiveMaxConnections,
            maxConnectionsPerClient: maxConnectionsPerClient, shutdownGracePeriod: .seconds(shutdownGrace),
            authWithoutTLSOnLoopback: authPlaintextOnLoopback, authFailuresPerClient: authFailuresPerClient,
            authThrottleWindow: .seconds(authThrottleWindow))
    }

    /// `maxConnections`, or the default sized from this process's descriptor limit and the machine's memory.
    public var effectiveMaxConnections: Int {
        maxConnections
            ?? ConnectionCapacity.defaultLimit(
                descriptors: ConnectionCapacity.raiseDescriptorLimit(), memory: ConnectionCapacity.physicalMemory)
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// A local domain: its mailboxes and its aliases (an alias with several targets is a mailing list).
public struct DomainConfiguration: Sendable, Hashable {
    public var name: String
    public var mailboxes: [String]
    /// Alias name → targets: local parts of this domain or addresses in another local domain.
    public var aliases: [String: [String]]

    public init(name: String, mailboxes: [String] = [], aliases: [String: [String]] = [:]) {
        self.name = name
        self.mailboxes = mailboxes
        self.aliases = aliases
    }
}
