import Logging
import MailQueue
import MailStore
import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// The daemon's backend: accepts recipients the `Directory` knows, and recipients in other domains from
/// authenticated users when there is an outbound queue; refuses everything else (never an open relay). Delivers
/// each message durably into the local recipients' Maildirs with a `Return-Path:` header, and into the queue for
/// the others, before the 250.
public struct LocalDeliveryBackend: SMTPBackend {
    public let directory: Directory
    /// Root of the Maildirs: `<mailDirectory>/<domain>/<local part>/{tmp,new,cur}`.
    public let mailDirectory: String
    public let hostname: String
    /// Addresses an authenticated user may send as, besides its own: `user → [address or "@domain"]`.
    public let allowedSenders: [String: [String]]
    /// Makes the messages durable; with a journal, many small messages share one sync.
    public let committer: GroupCommitter
    /// Where authenticated users' mail for other domains goes; nil: such recipients get 451 4.7.1.
    public let queue: (any OutboundQueue)?
    /// Clients that may relay without authenticating.
    public let trustedNetworks: [NetworkPrefix]

    public init(
        directory: Directory, mailDirectory: String, hostname: String, allowedSenders: [String: [String]] = [:],
        committer: GroupCommitter = .shared, queue: (any OutboundQueue)? = nil, trustedNetworks: [NetworkPrefix] = []
    ) {
        self.trustedNetworks = trustedNetworks
        self.directory = directory
        self.mailDirectory = mailDirectory
        self.hostname = hostname
        self.allowedSenders = allowedSenders
        self.committer = committer
        self.queue = queue
    }

    public func makeSession(for connection: ConnectionInfo) -> any SMTPSession {
        LocalDeliverySession(
            backend: self, trusted: trustedNetworks.contains { $0.contains(connection.clientAddress) })
    }

    /// Whether `user` may use `sender` as the envelope sender: its own address, or one it is allowed.
    func may(_ user: String, sendAs sender: ReversePath) -> Bool {
        guard let mailbox = sender.mailbox else { return false }
        let address = "\(mailbox.canonicalLocalPart)@\(mailbox.domain)".lowercased()
        if address == user.lowercased() { return true }
        return (allowedSenders[user.lowercased()] ?? []).contains { pattern in
            let pattern = pattern.lowercased()
            return pattern.hasPrefix("@") ? address.hasSuffix(pattern) : pattern == address
        }
    }

    func maildirs(for recipients: [Recipient]) -> [Maildir] {
        var result: [Maildir] = []
        for recipient in recipients {
            guard case .deliver(let addresses) = directory.resolve(recipient.path) else { continue }
            for address in addresses {
                let maildir = Maildir(path: MailboxPath.path(for: address, under: mailDirectory))
                if !result.contains(maildir) { result.append(maildir) }
            }
        }
        return result
    }
}

final class LocalDeliverySession: SMTPSession {
    let backend: LocalDeliveryBackend
    /// The client is in `trusted_networks`: it may relay without authenticating.
    let trusted: Bool
    private let user = Mutex<String?>(nil)

    init(backend: LocalDeliveryBackend, trusted: Bool = false) {
        self.backend = backend
        self.trusted = trusted
    }

    /// Whether this session may send to other domains: authenticated, or from a trusted network.
    private var mayRelay: Bool { trusted || user.withLock { $0 } != nil }

    func authenticated(as user: String) async {
        self.user.withLock { $0 = user }
    }

    func mail(from sender: ReversePath, parameters: MailParameters) async throws {
        // An authenticated user speaks for itself only (RFC 6409 §6.1); anonymous senders are not checked here.
        guard let user = user.withLock({ $0 }) else { return }
        guard backend.may(user, sendAs: sender) else {
            throw Reply(553, .init(5, 7, 1), "Sender address not owned by user \(user)")
        }
    }

    func rcpt(_ recipient: Recipient) async throws {
        switch backend.directory.resolve(recipient.path) {
        case .deliver: return
        case .unknownUser: throw Reply.noSuchUser
        case .notLocal:
            // Never an open relay: only an authenticated user may send elsewhere, through the outbound queue.
            guard mayRelay else { throw Reply.relayDenied }
            guard backend.queue != nil else {
                throw Reply(451, .init(4, 7, 1), "Relaying is not configured here; try again later")
            }
        }
    }

    func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink {
        let maildirs = backend.maildirs(for: envelope.recipients)
        let remote = envelope.recipients.filter { backend.directory.resolve($0.path) == .notLocal }
        var queued: QueueSink?
        if !remote.isEmpty && envelope.parameters.body == .binaryMIME {
            // The client sends to the next hop with DATA, which cannot carry binary bodies (RFC 3030 §3).
            throw Reply(554, .init(5, 6, 3), "BINARYMIME messages cannot be relayed here; send them as 8BITMIME")
        }
        if let queue = backend.queue, !remote.isEmpty, mayRelay {
            queued = QueueSink(queue: queue, envelope: envelope, recipients: remote, user: user.withLock { $0 })
        }
        guard !maildirs.isEmpty || queued != nil else { throw Reply.localError }
        var local: MaildirSink?
        if !maildirs.isEmpty {
            do {
                let message = try await MaildirMessage.begin(
                    in: maildirs, hostname: backend.hostname, committer: backend.committer)
                local = MaildirSink(message: message)
                try await local?.write(ByteBuffer(string: "Return-Path: \(envelope.sender)\r\n"))
            } catch let error as MaildirError {
                throw error.reply
            }
        }
        switch (local, queued) {
        case (let local?, nil): return local
        case (nil, let queued?): return queued
        case (let local?, let queued?): return SplitSink(local: local, queued: queued)
        case (nil, nil): throw Reply.localError
        }
    }

    func verify(_ name: String) async -> Reply { backend.directory.verify(name) }
    func expand(_ name: String) async -> Reply { backend.directory.expand(name) }
}

/// Adapts a `MaildirMessage` to the server's `MessageSink`, turning file errors into SMTP replies.
struct MaildirSink: MessageSink {
    let message: MaildirMessage

    func write(_ bytes: ByteBuffer) async throws {
        do { try await message.write(bytes) } catch let error as MaildirError { throw error.reply }
    }

    func commit() async throws {
        do { try await message.commit() } catch let error as MaildirError { throw error.reply }
    }

    func abort() async { await message.abort() }
}

extension MaildirError {
    /// 452 4.3.1 when the disk is full, 451 4.3.0 otherwise: both ask the client to try again later.
    var reply: Reply {
        Logger(label: "swallow.store").error("delivery failed: \(self)")
        return isOutOfSpace ? .insufficientStorage : .localError
    }
}
