import NIOCore

/// A host that takes mail for a domain, with its addresses (port 0: the caller chooses the SMTP port).
public struct MailHost: Sendable, Hashable {
    public var name: String
    public var preference: Int
    public var addresses: [SocketAddress]

    public init(name: String, preference: Int, addresses: [SocketAddress]) {
        self.name = name
        self.preference = preference
        self.addresses = addresses
    }
}

/// Where mail for a domain goes (RFC 5321 §5.1), or why it cannot go anywhere.
public enum MailRoute: Sendable, Hashable {
    /// Hosts in the order to try them: by MX preference, shuffled among equal preferences.
    case hosts([MailHost])
    /// The domain takes no mail, for good: NXDOMAIN, a null MX (RFC 7505), or neither MX nor address records.
    case permanentFailure(String)
    /// Try again later: SERVFAIL, no answer in time, or no address for any MX host right now.
    case temporaryFailure(String)
}
