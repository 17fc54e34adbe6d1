/// The `[delivery]` section: how queued mail for other domains leaves. Defaults as documented in the README.
public struct DeliverySettings: Sendable, Hashable {
    /// `HOST`, `HOST:PORT` or `[IPV6]:PORT`; empty: the nameservers of `/etc/resolv.conf`.
    public var nameservers: [String] = []
    /// Seconds per DNS query.
    public var dnsTimeout: Double = 5
    /// The SMTP port of MX hosts.
    public var port = 25
    /// `HOST:PORT` that takes all outbound mail instead of MX routing.
    public var smarthost: String?
    /// The user for AUTH towards the smarthost, and a file whose first line is its password.
    public var smarthostUser: String?
    public var smarthostPasswordFile: String?
    /// Clients that may relay without authenticating (as Postfix's `mynetworks`, but empty by default).
    public var trustedNetworks: [NetworkPrefix] = []
    /// "none", "opportunistic" (STARTTLS when offered, certificate not verified) or "required".
    public var tls = "opportunistic"
    /// Seconds before the first retry; doubled after each attempt up to `retryMaximum`.
    public var retryInitial: Double = 300
    public var retryMaximum: Double = 4 * 3600
    /// Seconds a message may stay queued before its remaining recipients bounce.
    public var lifetime: Double = 5 * 86_400
    /// Seconds after arrival when the sender of a still-deferred message is warned once (0: never).
    public var delayWarning: Double = 4 * 3600
    /// Seconds a session stays open for the next message to the same host (0: none kept).
    public var connectionCacheTime: Double = 2
    /// Messages in delivery at once.
    public var concurrency = 20
    /// RFC 5321 §4.5.3.2 timeouts, in seconds: the greeting and each command's reply (MAIL, RCPT and the rest),
    /// the 354 after DATA and each block of data, and the reply to the end of data.
    public var greetingTimeout: Double = 300
    public var commandTimeout: Double = 300
    public var dataTimeout: Double = 180
    public var dataEndTimeout: Double = 600
    public var connectTimeout: Double = 30

    public init() {}
}
