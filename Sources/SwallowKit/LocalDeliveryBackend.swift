import Logging
import MailStore
import NIOCore
import SMTPCore
import SMTPServer

/// The daemon's backend: accepts recipients the `Directory` knows, refuses everything else (never an open relay),
/// and delivers each message durably into the recipients' Maildirs with a `Return-Path:` header.
public struct LocalDeliveryBackend: SMTPBackend {
    public let directory: Directory
    /// Root of the Maildirs: `<mailDirectory>/<domain>/<local part>/{tmp,new,cur}`.
    public let mailDirectory: String
    public let hostname: String

    public init(directory: Directory, mailDirectory: String, hostname: String) {
        self.directory = directory
        self.mailDirectory = mailDirectory
        self.hostname = hostname
    }

    public func makeSession(for connection: ConnectionInfo) -> any SMTPSession {
        LocalDeliverySession(backend: self)
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

struct LocalDeliverySession: SMTPSession {
    let backend: LocalDeliveryBackend

    func rcpt(_ recipient: Recipient) async throws {
        switch backend.directory.resolve(recipient.path) {
        case .deliver: return
        case .unknownUser: throw Reply.noSuchUser
        case .notLocal: throw Reply.relayDenied
        }
    }

    func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink {
        let maildirs = backend.maildirs(for: envelope.recipients)
        guard !maildirs.isEmpty else { throw Reply.localError }
        do {
            let message = try await MaildirMessage.begin(in: maildirs, hostname: backend.hostname)
            let sink = MaildirSink(message: message)
            try await sink.write(ByteBuffer(string: "Return-Path: \(envelope.sender)\r\n"))
            return sink
        } catch let error as MaildirError {
            throw error.reply
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
