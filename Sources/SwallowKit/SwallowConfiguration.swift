import SMTPCore
import SMTPServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything the `swallow` daemon can be told, with the defaults it runs with when told nothing: listen on
/// 127.0.0.1:2525, accept mail for any recipient (catch-all), keep it under `./swallow-data`, relay nothing.
public struct SwallowConfiguration: Sendable {
    public var hostname: String = SwallowConfiguration.systemHostname()
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 2525)]
    public var dataDirectory: String = "./swallow-data"

    public var maxMessageSize: Int = 25 * 1024 * 1024
    public var maxRecipients: Int = 100
    public var maxErrors: Int = 10
    public var maxConnections: Int = 500
    public var maxConnectionsPerClient: Int = 100

    /// Seconds.
    public var commandTimeout: Int = 300
    public var dataTimeout: Int = 600
    public var sessionTimeout: Int = 3600
    public var shutdownGrace: Int = 10

    public var vrfy: LookupPolicy = .disabled
    public var expn: LookupPolicy = .disabled
    public var bareLineEndings: DotUnstuffer.BareLineEndings = .reject
    /// Accept any recipient and create its mailbox on first delivery. When not set: on if no domain is configured.
    public var catchAll: Bool?
    public var domains: [DomainConfiguration] = []
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"

    public init() {}

    /// Whether the catch-all mode is in effect.
    public var isCatchAll: Bool { catchAll ?? domains.isEmpty }

    /// Where the Maildirs live: `<data dir>/mail/<domain>/<local part>/`.
    public var mailDirectory: String { dataDirectory + "/mail" }

    public var serverConfiguration: SMTPServerConfiguration {
        SMTPServerConfiguration(
            listen: listen,
            session: SessionConfiguration(
                hostname: hostname, maxMessageSize: maxMessageSize, maxRecipients: maxRecipients,
                maxErrors: maxErrors, vrfy: vrfy, expn: expn, bareLineEndings: bareLineEndings),
            commandTimeout: .seconds(commandTimeout), dataTimeout: .seconds(dataTimeout),
            sessionTimeout: .seconds(sessionTimeout), maxConnections: maxConnections,
            maxConnectionsPerClient: maxConnectionsPerClient, shutdownGracePeriod: .seconds(shutdownGrace))
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
