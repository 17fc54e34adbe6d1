/// What one step of a SASL exchange (RFC 4954) produced, as the state machine needs to know it. The mechanisms
/// themselves live outside the core; they report through this type.
public enum AuthStep: Sendable, Hashable {
    /// Send `334 <base64 of these bytes>` and wait for the client's next line.
    case challenge([UInt8])
    /// The client is authenticated as this identity.
    case success(String)
    case failure(AuthFailure)
}

public enum AuthFailure: Sendable, Hashable {
    /// Wrong user or password: 535 5.7.8.
    case badCredentials
    /// The mechanism's message was malformed: 501 5.5.2.
    case malformed
    /// Too many failures from this client recently: 454 4.7.0.
    case throttled
    /// The authenticator could not decide (internal error): 454 4.7.0.
    case temporary
}
