import MailQueue
import MailStore
import NIOCore
import OutboundDelivery
import SMTPCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Delivers reports: into the recipient's Maildir when it is local (with `Return-Path: <>`), through the outbound
/// queue from the null sender otherwise. `<Postmaster>` is this host's postmaster, always local.
struct LocalBounceSink: BounceSink {
    let backend: LocalDeliveryBackend
    let queue: any OutboundQueue

    func deliverBounce(_ message: [UInt8], to recipient: ForwardPath) async throws {
        let maildirs = backend.maildirs(for: [Recipient(path: recipient)])
        if !maildirs.isEmpty {
            let stored = try await MaildirMessage.begin(
                in: maildirs, hostname: backend.hostname, committer: backend.committer)
            do {
                try await stored.write(ByteBuffer(string: "Return-Path: <>\r\n"))
                try await stored.write(ByteBuffer(bytes: message))
                _ = try await stored.commit()
            } catch {
                await stored.abort()
                throw error
            }
            return
        }
        guard case .mailbox(let mailbox) = recipient else { throw Reply.localError }
        let now = Double(time(nil))
        let queued = QueuedMessage(
            id: FileQueue.makeID(now: now), sender: "", recipients: [QueuedRecipient(address: mailbox.description)],
            arrival: now, size: message.count, eightBit: OutboundTransaction.isEightBit(message))
        try await queue.enqueue(queued, body: message)
    }
}
