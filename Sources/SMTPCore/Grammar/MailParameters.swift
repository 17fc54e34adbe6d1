/// The `BODY=` parameter of `MAIL` (RFC 6152, RFC 3030).
public enum BodyType: String, Sendable, Hashable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
    case binaryMIME = "BINARYMIME"
}

/// The `RET=` parameter of `MAIL` (RFC 3461 §4.3): how much of the message a DSN returns.
public enum DSNReturn: String, Sendable, Hashable {
    case full = "FULL"
    case headers = "HDRS"
}

/// ESMTP parameters of `MAIL FROM` that Swallow understands. Unknown ones are refused by the parser.
public struct MailParameters: Sendable, Hashable {
    /// `SIZE=` (RFC 1870): the size the client declares, in octets.
    public var size: Int?
    public var body: BodyType?
    /// `SMTPUTF8` (RFC 6531).
    public var smtpUTF8: Bool
    /// `RET=` (RFC 3461).
    public var dsnReturn: DSNReturn?
    /// `ENVID=` (RFC 3461), decoded from xtext.
    public var envelopeID: String?
    /// `AUTH=` (RFC 4954 §5): the identity that submitted the message, decoded from xtext; `<>` when unknown.
    public var auth: String?

    public init(
        size: Int? = nil, body: BodyType? = nil, smtpUTF8: Bool = false, dsnReturn: DSNReturn? = nil,
        envelopeID: String? = nil, auth: String? = nil
    ) {
        self.size = size
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
        self.auth = auth
    }
}

/// When a DSN is wanted for a recipient: `NOTIFY=` (RFC 3461 §4.1).
public struct DSNNotify: Sendable, Hashable {
    public var never: Bool
    public var success: Bool
    public var failure: Bool
    public var delay: Bool

    public init(never: Bool = false, success: Bool = false, failure: Bool = false, delay: Bool = false) {
        self.never = never
        self.success = success
        self.failure = failure
        self.delay = delay
    }
}

/// `ORCPT=` (RFC 3461 §4.2): the original recipient, with its address type (usually `rfc822`).
public struct OriginalRecipient: Sendable, Hashable {
    public var addressType: String
    /// The address, decoded from xtext.
    public var address: String

    public init(addressType: String, address: String) {
        self.addressType = addressType
        self.address = address
    }
}

/// ESMTP parameters of `RCPT TO` that Swallow understands.
public struct RcptParameters: Sendable, Hashable {
    public var notify: DSNNotify?
    public var originalRecipient: OriginalRecipient?

    public init(notify: DSNNotify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.notify = notify
        self.originalRecipient = originalRecipient
    }
}
