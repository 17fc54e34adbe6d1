import MailQueue
import SMTPClient
import SMTPCore

/// How the delivery worker sends queued mail. Plain values with defaults.
public struct DeliveryConfiguration: Sendable {
    /// A host that takes all outbound mail instead of the recipients' MX hosts.
    public struct Smarthost: Sendable, Hashable {
        public var host: String
        public var port: Int
        /// AUTH towards the smarthost (SCRAM-SHA-256 when offered, else PLAIN or LOGIN), only inside TLS.
        public var credentials: (user: String, password: String)?

        public init(host: String, port: Int, credentials: (user: String, password: String)? = nil) {
            self.host = host
            self.port = port
            self.credentials = credentials
        }

        public static func == (lhs: Smarthost, rhs: Smarthost) -> Bool {
            lhs.host == rhs.host && lhs.port == rhs.port && lhs.credentials?.user == rhs.credentials?.user
                && lhs.credentials?.password == rhs.credentials?.password
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(host)
            hasher.combine(port)
            hasher.combine(credentials?.user)
        }
    }

    /// The EHLO name and the reporting MTA of bounces.
    public var hostname: String
    /// The SMTP port of MX hosts (25; tests use others).
    public var port: Int
    public var smarthost: Smarthost?
    /// STARTTLS when offered, without certificate verification (as Postfix's `smtp_tls_security_level = may`).
    public var security: SMTPClientConfiguration.Security
    public var timeouts: ClientTimeouts
    public var retry: RetrySchedule
    /// Messages in delivery at once.
    public var concurrency: Int
    /// How long a claim on a message lasts before another worker may take it over (seconds).
    public var lease: Double
    /// The longest the worker sleeps before looking at the queue again (seconds).
    public var pollInterval: Double
    /// Seconds after arrival when a sender whose message is still deferred gets one delay warning (0: never).
    public var delayWarning: Double
    /// Seconds a session stays open after a transaction for the next message to the same host (0: none kept).
    public var connectionCacheTime: Double
    /// Seconds to wait for a TCP connection to a mail host.
    public var connectTimeout: Double
    /// More `Received:` headers than this bounce the message as a loop (5.4.6), as Postfix's `hopcount_limit`.
    public var maximumHops: Int

    public init(
        hostname: String, port: Int = 25, smarthost: Smarthost? = nil,
        security: SMTPClientConfiguration.Security = .startTLSIfOffered, timeouts: ClientTimeouts = ClientTimeouts(),
        retry: RetrySchedule = RetrySchedule(), delayWarning: Double = 4 * 3600, concurrency: Int = 20,
        connectionCacheTime: Double = 2,
        connectTimeout: Double = 30,
        lease: Double = 3600, pollInterval: Double = 1, maximumHops: Int = 50
    ) {
        self.connectTimeout = connectTimeout
        self.connectionCacheTime = connectionCacheTime
        self.delayWarning = delayWarning
        self.hostname = hostname
        self.port = port
        self.smarthost = smarthost
        self.security = security
        self.timeouts = timeouts
        self.retry = retry
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.pollInterval = pollInterval
        self.maximumHops = maximumHops
    }
}
