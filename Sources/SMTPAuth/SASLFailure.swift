/// Why a SASL exchange failed, with the SMTP reply (RFC 4954) each one calls for.
public enum SASLFailure: Error, Sendable, Hashable {
    /// Unknown user, wrong password or wrong SCRAM proof, deliberately not told apart: `535 5.7.8`.
    ///
    /// SCRAM messages that parse but do not fit the exchange (a nonce or channel-binding header that differs
    /// from the one sent before) are reported this way too: they are what a replay or a meddler produces.
    case badCredentials
    /// The client's message does not follow the mechanism's syntax (missing NULs, not UTF-8, a bad SCRAM
    /// attribute, bytes after the exchange ended): `501 5.5.2`.
    case malformed
    /// PLAIN authzid or SCRAM `a=` names someone other than the user who authenticated; this server lets
    /// nobody act for another user: `535 5.7.8` (kept apart so the server can log it).
    case authorizationMismatch
    /// The client asked for something this server does not do: SCRAM channel binding (`p=`) or a mandatory
    /// SCRAM extension (`m=`): `535 5.7.8`, or `504 5.5.4`.
    case unsupported
}
