import MailQueue
import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Collects a message for the outbound queue and enqueues it at commit: the body and envelope are synced to disk
/// before the 250. The body is held in memory until then (it is at most the configured message size).
final class QueueSink: MessageSink {
    let queue: any OutboundQueue
    let envelope: Envelope
    let recipients: [Recipient]
    let user: String?
    private let body = Mutex<[UInt8]>([])

    init(queue: any OutboundQueue, envelope: Envelope, recipients: [Recipient], user: String?) {
        self.queue = queue
        self.envelope = envelope
        self.recipients = recipients
        self.user = user
    }

    func write(_ bytes: ByteBuffer) async throws {
        body.withLock { $0 += bytes.readableBytesView }
    }

    func commit() async throws {
        let bytes = body.withLock { $0 }
        let now = Double(time(nil))
        let message = QueuedMessage(
            id: FileQueue.makeID(now: now), sender: envelope.sender.mailbox?.description ?? "",
            recipients: recipients.map(Self.queued), arrival: now, size: bytes.count,
            eightBit: OutboundTransaction.isEightBit(bytes), smtpUTF8: envelope.parameters.smtpUTF8,
            envelopeID: envelope.parameters.envelopeID,
            dsnReturn: envelope.parameters.dsnReturn?.rawValue, authenticatedUser: user)
        do {
            try await queue.enqueue(message, body: bytes)
        } catch {
            throw error.isOutOfSpace ? Reply.insufficientStorage : Reply.localError
        }
    }

    func abort() async {
        body.withLock { $0 = [] }
    }

    static func queued(_ recipient: Recipient) -> QueuedRecipient {
        var notify: [String]?
        if let wanted = recipient.parameters.notify {
            notify =
                wanted.never
                ? ["NEVER"]
                : [(wanted.success, "SUCCESS"), (wanted.failure, "FAILURE"), (wanted.delay, "DELAY")].filter(\.0).map(
                    \.1)
        }
        let original = recipient.parameters.originalRecipient.map { "\($0.addressType);\($0.address)" }
        return QueuedRecipient(
            address: recipient.path.mailbox?.description ?? "postmaster", notify: notify, originalRecipient: original)
    }
}

/// A message for local and remote recipients: the same bytes to the Maildirs and to the queue, one 250.
/// The queue commits first; if the Maildir commit then fails the client retries and the remote recipients may get
/// the message twice (the README names this window).
struct SplitSink: MessageSink {
    let local: MaildirSink
    let queued: QueueSink

    func write(_ bytes: ByteBuffer) async throws {
        try await local.write(bytes)
        try await queued.write(bytes)
    }

    func commit() async throws {
        try await queued.commit()
        try await local.commit()
    }

    func abort() async {
        await local.abort()
        await queued.abort()
    }
}
