import SMTPCore

/// Where the delivery worker hands a bounce (a DSN from `<>`): the daemon delivers it to the sender's Maildir
/// when the sender is local, and queues it otherwise.
public protocol BounceSink: Sendable {
    func deliverBounce(_ message: [UInt8], to recipient: Mailbox) async throws
}
