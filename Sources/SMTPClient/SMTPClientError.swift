import SMTPCore

/// Why a session failed. Every case maps to a `reply` a queue can record and a DSN can quote: temporary (4xx)
/// unless the server itself refused the session with a 5xx.
public enum SMTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The TCP connection could not be made.
    case connectionFailed(String)
    /// The connection closed (or broke) while a reply was awaited.
    case connectionClosed
    /// No reply within the RFC 5321 §4.5.3.2 timeout for this step.
    case timeout(ClientWait)
    /// The server sent something that is not SMTP, or too much of it.
    case protocolViolation(String)
    /// The TLS handshake failed.
    case tls(String)
    /// The server ended the session with this reply (a refused greeting, a 421, a refused STARTTLS that was
    /// required), or the client gave up with a local reply.
    case sessionEnded(Reply)
    /// AUTH was refused, or no mechanism both sides know was offered.
    case authenticationFailed(Reply)

    /// The reply that stands for this failure in a delivery result.
    public var reply: Reply {
        switch self {
        case .connectionFailed(let reason): Reply(421, .init(4, 4, 1), "Connection failed: \(reason)")
        case .connectionClosed: Reply(421, .init(4, 4, 2), "Connection closed by the server")
        case .timeout(let wait): Reply(421, .init(4, 4, 2), "Timed out waiting for the \(wait.rawValue) reply")
        case .protocolViolation(let reason): Reply(421, .init(4, 5, 0), "Protocol error from the server: \(reason)")
        case .tls(let reason): Reply(421, .init(4, 7, 5), "TLS failed: \(reason)")
        case .sessionEnded(let reply), .authenticationFailed(let reply): reply
        }
    }

    public var isPermanent: Bool { reply.isPermanentFailure }

    public var description: String { "\(reply)" }
}
