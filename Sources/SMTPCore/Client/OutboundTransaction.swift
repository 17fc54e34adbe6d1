/// One message to hand to a server: the envelope (RFC 5321 §2.3.1) and the facts about the body that decide
/// whether the server can take it.
public struct OutboundTransaction: Sendable, Hashable {
    public var sender: ReversePath
    public var recipients: [Recipient]
    /// `RET=` and `ENVID=` (RFC 3461), passed on only to a server that offers DSN.
    public var dsnReturn: DSNReturn?
    public var envelopeID: String?
    /// The body's size in octets, before dot-stuffing: declared with `SIZE=` and checked against the server's limit.
    public var size: Int
    /// Whether the body has octets above 127 (it then needs 8BITMIME).
    public var hasEightBitBody: Bool
    /// Whether the message was submitted with `SMTPUTF8` (RFC 6531): UTF-8 headers need it downstream too, even
    /// when every address is ASCII.
    public var smtpUTF8: Bool

    public init(
        sender: ReversePath, recipients: [Recipient], size: Int, hasEightBitBody: Bool, smtpUTF8: Bool = false,
        dsnReturn: DSNReturn? = nil, envelopeID: String? = nil
    ) {
        self.smtpUTF8 = smtpUTF8
        self.sender = sender
        self.recipients = recipients
        self.size = size
        self.hasEightBitBody = hasEightBitBody
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
    }

    /// Whether the transaction needs SMTPUTF8 (RFC 6531): it was submitted with it, or an address is UTF-8.
    public var requiresSMTPUTF8: Bool {
        smtpUTF8 || !(sender.mailbox?.isASCII ?? true) || recipients.contains { !($0.path.mailbox?.isASCII ?? true) }
    }

    /// Whether `bytes` hold an octet above 127.
    public static func isEightBit(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.contains { $0 >= 0x80 }
    }
}
