/// The client side of a SASL mechanism (RFC 4422) as a value, for `AUTH` (RFC 4954): the initial response and an
/// answer to each server challenge. Mechanisms that need crypto (SCRAM-SHA-256 in SMTPAuth) live outside the core.
public protocol SASLClientMechanism: Sendable {
    /// The name sent with `AUTH`, such as `PLAIN`.
    var name: String { get }
    /// The response sent with the `AUTH` command, or nil to wait for the first challenge.
    mutating func initialResponse() -> [UInt8]?
    /// The answer to a challenge (decoded), or nil to cancel the exchange (`*`): a challenge that makes no sense,
    /// or a server that failed to prove itself.
    mutating func respond(to challenge: [UInt8]) -> [UInt8]?
    /// Whether the exchange may end in success now: a mechanism with mutual authentication is satisfied only once
    /// it has checked the server's proof. A 235 before that is not trusted.
    var acceptsSuccess: Bool { get }
}

extension SASLClientMechanism {
    public var acceptsSuccess: Bool { true }
}
