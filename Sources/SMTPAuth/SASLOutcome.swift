/// What one step of a SASL exchange produced.
public enum SASLOutcome: Sendable, Hashable {
    /// More is needed: send `334 <base64 of these bytes>` (an empty array is a bare `334 `) and pass the
    /// client's next line to the exchange. The bytes are not base64-encoded yet.
    case challenge([UInt8])
    /// The client proved it is this user: the address as the lookup saw it, prepared and lowercased.
    case success(user: String)
    /// The exchange is over without authentication.
    case failure(SASLFailure)
}
