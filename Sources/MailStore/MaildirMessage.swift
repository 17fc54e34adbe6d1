import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A message being delivered to one or more Maildirs, the way Maildir promises safety: written into `tmp`,
/// fsynced, hard-linked into the other mailboxes' `tmp`, renamed into each `new`, and each `new` fsynced.
/// Until `commit()` returns, nothing of it is visible in any `new`; `abort()` leaves nothing behind.
///
/// Blocking file calls run on NIO's thread pool, never on the caller's executor. Calls are serialised, so an
/// `abort()` from a closing connection waits for a `write` in progress.
public final class MaildirMessage: Sendable {
    /// The file's name in every `tmp`; in `new` it gets `,S=<size>` appended, which Dovecot reads as the size.
    public let uniqueName: String
    public let mailboxes: [Maildir]
    private let threadPool: NIOThreadPool
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var fd: Int32
        var size = 0
        var phase = Phase.writing
    }

    private enum Phase { case writing, committed, aborted }

    private init(uniqueName: String, mailboxes: [Maildir], fd: Int32, threadPool: NIOThreadPool) {
        self.uniqueName = uniqueName
        self.mailboxes = mailboxes
        self.threadPool = threadPool
        self.state = Mutex(State(fd: fd))
    }

    /// Creates the mailboxes if needed and opens the message's file in the first mailbox's `tmp`.
    public static func begin(
        in mailboxes: [Maildir], hostname: String, threadPool: NIOThreadPool = .singleton
    ) async throws -> MaildirMessage {
        precondition(!mailboxes.isEmpty, "a message needs at least one mailbox")
        let name = UniqueName.make(hostname: hostname)
        return try await threadPool.runIfActive {
            for mailbox in mailboxes { try mailbox.create() }
            let path = mailboxes[0].tmp + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw MaildirError(operation: "create", path: path, code: errno) }
            return MaildirMessage(uniqueName: name, mailboxes: mailboxes, fd: fd, threadPool: threadPool)
        }
    }

    private var firstTmpPath: String { mailboxes[0].tmp + "/" + uniqueName }

    public func write(_ bytes: ByteBuffer) async throws {
        try await threadPool.runIfActive {
            try self.state.withLock { state throws(MaildirError) in
                guard case .writing = state.phase else { return }
                let fd = state.fd
                try bytes.withUnsafeReadableBytes { buffer throws(MaildirError) in
                    try FileOps.writeAll(fd, buffer, path: self.firstTmpPath)
                }
                state.size += bytes.readableBytes
            }
        }
    }

    /// Makes the message durable and visible in every mailbox's `new`. Returns the paths of the delivered files.
    @discardableResult
    public func commit() async throws -> [String] {
        try await threadPool.runIfActive {
            try self.state.withLock { state throws(MaildirError) -> [String] in
                guard case .writing = state.phase else {
                    throw MaildirError(operation: "commit", path: self.firstTmpPath, code: EINVAL)
                }
                do throws(MaildirError) {
                    let paths = try self.publish(&state)
                    state.phase = .committed
                    return paths
                } catch {
                    self.removeTemporaryFiles(&state)
                    throw error
                }
            }
        }
    }

    private func publish(_ state: inout State) throws(MaildirError) -> [String] {
        let first = firstTmpPath
        guard fsync(state.fd) == 0 else { throw MaildirError(operation: "fsync", path: first, code: errno) }
        close(state.fd)
        state.fd = -1
        for mailbox in mailboxes.dropFirst() {
            let path = mailbox.tmp + "/" + uniqueName
            guard link(first, path) == 0 else { throw MaildirError(operation: "link", path: path, code: errno) }
        }
        let finalName = "\(uniqueName),S=\(state.size)"
        var published: [String] = []
        do throws(MaildirError) {
            for mailbox in mailboxes {
                let target = mailbox.new + "/" + finalName
                guard rename(mailbox.tmp + "/" + uniqueName, target) == 0 else {
                    throw MaildirError(operation: "rename", path: target, code: errno)
                }
                published.append(target)
            }
            for mailbox in mailboxes { try FileOps.syncDirectory(mailbox.new) }
        } catch {
            // Not acknowledged, so it must not be visible: take back what was already published.
            for path in published { unlink(path) }
            throw error
        }
        return published
    }

    /// Throws the message away. Safe to call more than once, and after `commit()` (then it does nothing).
    public func abort() async {
        _ = try? await threadPool.runIfActive {
            self.state.withLock { state in
                guard case .writing = state.phase else { return }
                self.removeTemporaryFiles(&state)
            }
        }
    }

    private func removeTemporaryFiles(_ state: inout State) {
        if state.fd >= 0 { close(state.fd) }
        state.fd = -1
        state.phase = .aborted
        for mailbox in mailboxes { unlink(mailbox.tmp + "/" + uniqueName) }
    }

    deinit {
        state.withLock { state in
            if case .writing = state.phase { removeTemporaryFiles(&state) }
        }
    }
}
