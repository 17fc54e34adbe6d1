/// What became of one recipient of a transaction: the server's reply that decided it (the RCPT refusal, or the
/// reply to the end of data), or a reply the client made itself when it did not send the message.
public struct RecipientResult: Sendable, Hashable {
    public var recipient: Recipient
    public var reply: Reply
    /// Whether `reply` was made by this client rather than sent by the server (for a DSN's Diagnostic-Code).
    public var isLocal: Bool

    public init(recipient: Recipient, reply: Reply, isLocal: Bool = false) {
        self.recipient = recipient
        self.reply = reply
        self.isLocal = isLocal
    }

    /// The server took responsibility for the message for this recipient.
    public var isDelivered: Bool { reply.code < 400 }
    /// Try again later.
    public var isTemporaryFailure: Bool { reply.isTransientFailure }
    /// Do not try again: a bounce.
    public var isPermanentFailure: Bool { reply.isPermanentFailure }
}

/// The outcome of a transaction, one result per recipient in the order given.
public struct TransactionResult: Sendable, Hashable {
    public var recipients: [RecipientResult]

    public init(recipients: [RecipientResult]) {
        self.recipients = recipients
    }

    /// Every recipient with the same reply (a refused MAIL, a failed connection, a local refusal).
    public init(all recipients: [Recipient], reply: Reply, isLocal: Bool) {
        self.recipients = recipients.map { RecipientResult(recipient: $0, reply: reply, isLocal: isLocal) }
    }
}
