/// The SASL mechanisms this server implements, raw values as they appear in `AUTH` and the EHLO keyword.
public enum SASLMechanism: String, Sendable, CaseIterable {
    /// RFC 4616: the password in one message. Offer it only over TLS.
    case plain = "PLAIN"
    /// The de-facto LOGIN mechanism (draft-murchison-sasl-login): user name and password in two steps.
    /// Offer it only over TLS.
    case login = "LOGIN"
    /// RFC 5802 and RFC 7677: a challenge-response that never sends the password, without channel binding.
    case scramSHA256 = "SCRAM-SHA-256"

    /// The mechanism named by `name` in an `AUTH` command, ignoring case as clients differ; nil when unknown.
    public init?(name: some StringProtocol) {
        self.init(rawValue: name.uppercased())
    }
}
