import NIOCore
import NIOSSL
import SMTPCore

/// How an `SMTPClientConnection` talks to a server. Plain values with defaults; change what you need.
public struct SMTPClientConfiguration: Sendable {
    /// Transport security.
    public enum Security: Sendable, Hashable {
        /// Plaintext only; STARTTLS is not used even when offered.
        case plaintext
        /// STARTTLS when the server offers it, plaintext otherwise (opportunistic, as for MX delivery).
        case startTLSIfOffered
        /// STARTTLS or fail (a temporary failure).
        case startTLS
        /// TLS from the first byte (RFC 8314, port 465).
        case implicitTLS
    }

    /// The name sent with EHLO/HELO: this host's fully qualified name.
    public var heloName: String
    public var security: Security
    /// The TLS settings; by default the server's certificate is verified against the system's trust roots and the
    /// server name. Set `certificateVerification = .none` for opportunistic TLS to MX hosts.
    public var tls: TLSConfiguration
    /// Per-reply timeouts (RFC 5321 §4.5.3.2).
    public var timeouts: ClientTimeouts
    public var connectTimeout: TimeAmount
    /// Limits on what the server may send.
    public var maximumReplyLineLength: Int
    public var maximumReplyLines: Int

    public init(
        heloName: String, security: Security = .startTLSIfOffered,
        tls: TLSConfiguration = .makeClientConfiguration(), timeouts: ClientTimeouts = ClientTimeouts(),
        connectTimeout: TimeAmount = .seconds(30),
        maximumReplyLineLength: Int = ReplyParser.defaultMaximumLineLength,
        maximumReplyLines: Int = ReplyParser.defaultMaximumLines
    ) {
        self.heloName = heloName
        self.security = security
        self.tls = tls
        self.timeouts = timeouts
        self.connectTimeout = connectTimeout
        self.maximumReplyLineLength = maximumReplyLineLength
        self.maximumReplyLines = maximumReplyLines
    }

    var tlsPolicy: ClientStateMachine.TLSPolicy {
        switch security {
        case .plaintext, .implicitTLS: .never
        case .startTLSIfOffered: .opportunistic
        case .startTLS: .required
        }
    }
}
