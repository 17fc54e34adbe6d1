/// A recipient accepted by `RCPT TO`, with its DSN parameters.
public struct Recipient: Sendable, Hashable {
    public var path: ForwardPath
    public var parameters: RcptParameters

    public init(path: ForwardPath, parameters: RcptParameters = RcptParameters()) {
        self.path = path
        self.parameters = parameters
    }
}

/// Everything known about a mail transaction when its body starts: the envelope of RFC 5321 §2.3.1 plus the
/// session facts a trace header needs.
public struct Envelope: Sendable, Hashable {
    public var sender: ReversePath
    public var parameters: MailParameters
    public var recipients: [Recipient]
    /// The name the client gave in HELO or EHLO.
    public var heloName: String
    /// The `with` keyword of the `Received:` header (RFC 3848, RFC 6531): SMTP, ESMTP, ESMTPS, ESMTPA, UTF8SMTP…
    public var protocolName: String

    public init(
        sender: ReversePath, parameters: MailParameters = MailParameters(), recipients: [Recipient],
        heloName: String, protocolName: String
    ) {
        self.sender = sender
        self.parameters = parameters
        self.recipients = recipients
        self.heloName = heloName
        self.protocolName = protocolName
    }
}
