/// What a listener is for.
public enum ListenerKind: String, Sendable, Hashable {
    /// Mail exchange (port 25 style): anyone may deliver to local recipients; STARTTLS and AUTH are offered.
    case smtp
    /// Message submission (RFC 6409, port 587 style): AUTH is required before MAIL.
    case submission
    /// Submission over implicit TLS (RFC 8314, port 465 style): TLS from the first byte, then as `submission`.
    case submissions
}
