/// Whether a lookup command (VRFY, EXPN) consults the directory.
public enum LookupPolicy: String, Sendable, Hashable {
    /// VRFY answers 252 without looking anything up; EXPN answers 502.
    case disabled
    /// The backend answers: 250 with the mailbox(es), 550 5.1.1 unknown, 553 5.1.4 ambiguous.
    case enabled
    /// Authenticated clients get the backend's answer; anonymous ones are treated as `disabled`.
    case authenticated
}

/// The protocol settings of one SMTP session: limits and which extensions are offered.
public struct SessionConfiguration: Sendable, Hashable {
    /// The name this server gives in its greeting, EHLO reply and `Received:` headers.
    public var hostname: String
    /// The largest message accepted, in octets, advertised as `SIZE`. Zero means no limit.
    public var maxMessageSize: Int
    /// Recipients per transaction; more get 452 4.5.3 (RFC 5321 §4.5.3.1.8 asks for at least 100).
    public var maxRecipients: Int
    /// Protocol errors tolerated in one session before 421 4.7.0 and close.
    public var maxErrors: Int
    public var vrfy: LookupPolicy
    public var expn: LookupPolicy
    public var bareLineEndings: DotUnstuffer.BareLineEndings
    /// Offer CHUNKING and BINARYMIME (RFC 3030).
    public var chunking: Bool
    /// Offer DSN (RFC 3461).
    public var dsn: Bool
    /// Offer SMTPUTF8 (RFC 6531).
    public var smtpUTF8: Bool
    /// Offer STARTTLS (RFC 3207): the server has a certificate and the connection is not encrypted yet.
    public var startTLS: Bool
    /// SASL mechanisms to offer with AUTH (RFC 4954), in order; empty disables AUTH.
    public var authMechanisms: [String]
    /// Allow AUTH without TLS (meant for loopback development only; the I/O layer decides per connection).
    public var authWithoutTLS: Bool
    /// MAIL requires an authenticated session (the submission service, RFC 6409): 530 5.7.0 otherwise.
    public var requireAuth: Bool
    /// Failed AUTH attempts in one session before 421 4.7.0 and close.
    public var maxAuthFailures: Int
    /// Hang up (554 5.5.0) on a client that sends a command before the reply to the previous one although it was
    /// not offered PIPELINING (before the EHLO reply, or in a HELO session) and has not authenticated.
    public var rejectEarlyPipelining: Bool

    public init(
        hostname: String = "localhost",
        maxMessageSize: Int = 25 * 1024 * 1024,
        maxRecipients: Int = 100,
        maxErrors: Int = 10,
        vrfy: LookupPolicy = .authenticated,
        expn: LookupPolicy = .authenticated,
        bareLineEndings: DotUnstuffer.BareLineEndings = .reject,
        chunking: Bool = true,
        dsn: Bool = true,
        smtpUTF8: Bool = true,
        startTLS: Bool = false,
        authMechanisms: [String] = [],
        authWithoutTLS: Bool = false,
        requireAuth: Bool = false,
        maxAuthFailures: Int = 3,
        rejectEarlyPipelining: Bool = true
    ) {
        self.hostname = hostname
        self.maxMessageSize = maxMessageSize
        self.maxRecipients = maxRecipients
        self.maxErrors = maxErrors
        self.vrfy = vrfy
        self.expn = expn
        self.bareLineEndings = bareLineEndings
        self.chunking = chunking
        self.dsn = dsn
        self.smtpUTF8 = smtpUTF8
        self.startTLS = startTLS
        self.authMechanisms = authMechanisms
        self.authWithoutTLS = authWithoutTLS
        self.requireAuth = requireAuth
        self.maxAuthFailures = maxAuthFailures
        self.rejectEarlyPipelining = rejectEarlyPipelining
    }
}
