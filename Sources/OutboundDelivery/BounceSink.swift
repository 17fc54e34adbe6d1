import SMTPCore

/// Where the delivery worker hands a report (a DSN from `<>`): the daemon delivers it to the sender's Maildir
/// when the sender is local, and queues it otherwise; `<Postmaster>` (a double bounce) is always local.
public protocol BounceSink: Sendable {
    func deliverBounce(_ message: [UInt8], to recipient: ForwardPath) async throws
}
