import FileSupport
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A message being delivered to one or more Maildirs, the way Maildir promises safety: written into `tmp`,
/// fsynced, hard-linked into the other mailboxes' `new`, renamed into the first's `new`, and each `new` fsynced.
/// Until `commit()` returns, nothing of it is visible in any `new`; `abort()` leaves nothing behind.
///
/// Small messages stay in memory until `commit()`, which hands them to a `GroupCommitter` that writes and syncs
/// many messages at once; larger ones are written to `tmp` as they arrive, `flushThreshold` bytes at a time.
/// Blocking file calls run on NIO's thread pool or the committer's thread, never on the caller's executor. Calls
/// are serialised, so an `abort()` from a closing connection waits for a `write` in progress.
public final class MaildirMessage: Sendable {
    /// The file's name in every `tmp`; in `new` it gets `,S=<size>` appended, which Dovecot reads as the size.
    public let uniqueName: String
    public let mailboxes: [Maildir]
    /// Bytes kept in memory before they are written to `tmp`: bounds memory per message while letting most mail
    /// reach the disk in one write at commit.
    public static let flushThreshold = 64 * 1024

    private let threadPool: NIOThreadPool
    private let committer: GroupCommitter
    private let state: Mutex<State>
    private static let created = CreatedMailboxes()

    private struct State: ~Copyable {
        var fd: Int32 = -1
        /// The caller's buffers, kept as they came: copying them into one buffer cost 2% of the CPU of 100 KB
        /// messages, and the file or the journal takes them one after another anyway.
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        var size = 0
        var phase = Phase.writing
    }

    private enum Phase { case writing, committing, committed, aborted }

    private init(uniqueName: String, mailboxes: [Maildir], threadPool: NIOThreadPool, committer: GroupCommitter) {
        self.uniqueName = uniqueName
        self.mailboxes = mailboxes
        self.threadPool = threadPool
        self.committer = committer
        self.state = Mutex(State())
    }

    /// Starts a message for `mailboxes`, creating them first if this process has not seen them yet.
    public static func begin(
        in mailboxes: [Maildir], hostname: String, threadPool: NIOThreadPool = .singleton,
        committer: GroupCommitter = .shared
    ) async throws -> MaildirMessage {
        precondition(!mailboxes.isEmpty, "a message needs at least one mailbox")
        if !created.contains(all: mailboxes) {
            try await threadPool.runIfActive {
                for mailbox in mailboxes {
                    try mailbox.create()
                    // A mailbox may be a mount of its own: learn (and log) how its file system is made durable.
                    _ = try? committer.strategies.strategy(forDirectory: mailbox.path)
                }
            }
            created.insert(mailboxes)
        }
        let name = UniqueName.make(hostname: hostname)
        return MaildirMessage(uniqueName: name, mailboxes: mailboxes, threadPool: threadPool, committer: committer)
    }

    private var firstTmpPath: String { mailboxes[0].tmp + "/" + uniqueName }

    public func write(_ bytes: ByteBuffer) async throws {
        let full = state.withLock { state in
            guard case .writing = state.phase else { return false }
            guard bytes.readableBytes > 0 else { return false }
            // A small slice of a large buffer would keep all of it alive: such bytes are copied.
            if bytes.storageCapacity > 2 * bytes.readableBytes + 4096 {
                state.pending.append(ByteBuffer(bytes: bytes.readableBytesView))
            } else {
                state.pending.append(bytes)
            }
            state.pendingBytes += bytes.readableBytes
            state.size += bytes.readableBytes
            return state.pendingBytes >= Self.flushThreshold
        }
        if full {
            try await threadPool.runIfActive {
                try self.state.withLock { state throws(MaildirError) in
                    guard case .writing = state.phase else { return }
                    try self.writePending(&state)
                }
            }
        }
    }

    /// Makes the message durable and visible in every mailbox's `new`. Returns the paths of the delivered files.
    @discardableResult
    public func commit() async throws -> [String] {
        try state.withLock { state throws(MaildirError) in
            guard case .writing = state.phase else {
                throw MaildirError(operation: "commit", path: self.firstTmpPath, code: EINVAL)
            }
            state.phase = .committing
        }
        return try await committer.commit(self)
    }

    /// Throws the message away. Safe to call more than once, and after `commit()` (then it does nothing).
    public func abort() async {
        let open = state.withLock { state in
            guard case .writing = state.phase else { return false }
            if state.fd >= 0 { return true }
            state.phase = .aborted
            state.pending = []
            state.pendingBytes = 0
            return false
        }
        guard open else { return }
        _ = try? await threadPool.runIfActive {
            self.state.withLock { state in
                guard case .writing = state.phase else { return }
                self.removeTemporaryFiles(&state)
            }
        }
    }

    deinit {
        state.withLock { state in
            switch state.phase {
            case .writing, .committing: removeTemporaryFiles(&state)
            case .committed, .aborted: break
            }
        }
    }

    // MARK: Steps of a commit round, run by the committer's thread (see `CommitRound`).

    /// Writes what is still in memory.
    func stage() throws(MaildirError) {
        try state.withLock { state throws(MaildirError) in
            do throws(MaildirError) { try writePending(&state) } catch {
                removeTemporaryFiles(&state)
                throw error
            }
        }
    }

    /// Starts sending the file to the disk, so that the fsyncs of one round's files overlap instead of each
    /// waiting for its own writeback.
    func startWriteback() {
        state.withLock { state in
            if state.fd >= 0 { POSIXFile.startWriteback(state.fd) }
        }
    }

    /// The message's size so far.
    var size: Int { state.withLock { $0.size } }

    /// Writes the message to `tmp` without syncing it, for a round that makes it durable through the journal.
    /// Returns the journal's entry for it (the bytes kept in memory, or read back from `tmp` for a message that
    /// was too large to keep) and the device its file is on.
    func stageForJournal() throws(MaildirError) -> (entry: JournalEntry, device: UInt64) {
        try state.withLock { state throws(MaildirError) in
            let inMemory = state.fd < 0
            let pending = state.pending
            do throws(MaildirError) {
                try writePending(&state)
                let device: UInt64
                do throws(FileError) {
                    device = try POSIXFile.device(of: state.fd, path: firstTmpPath)
                } catch {
                    throw MaildirError(error)
                }
                // The file stays open until `publish`, after the journal has read it.
                let content: JournalEntry.Content =
                    inMemory ? .buffers(pending) : .file(fd: state.fd, count: state.size, path: firstTmpPath)
                let entry = JournalEntry(
                    mailboxes: mailboxes.map(\.path), name: Self.finalName(uniqueName, size: state.size),
                    content: content)
                return (entry, device)
            } catch {
                removeTemporaryFiles(&state)
                throw error
            }
        }
    }

    /// The name in `new`: the unique name with the size, which Dovecot reads instead of calling `stat`.
    static func finalName(_ uniqueName: String, size: Int) -> String { "\(uniqueName),S=\(size)" }

    func syncFile() throws(MaildirError) {
        try state.withLock { state throws(MaildirError) in
            guard fsync(state.fd) == 0 else {
                let error = MaildirError(operation: "fsync", path: firstTmpPath, code: errno)
                removeTemporaryFiles(&state)
                throw error
            }
        }
    }

    /// The device the message's file is on: one `syncfs` there covers every message of the round on it.
    func device() throws(MaildirError) -> UInt64 {
        try state.withLock { state throws(MaildirError) in
            do throws(FileError) {
                return try POSIXFile.device(of: state.fd, path: firstTmpPath)
            } catch {
                removeTemporaryFiles(&state)
                throw MaildirError(error)
            }
        }
    }

    /// `syncfs` on the message's file system, through its open file.
    func syncFileSystem() throws(MaildirError) {
        try state.withLock { state throws(MaildirError) in
            do throws(FileError) {
                try POSIXFile.syncFileSystem(state.fd, path: mailboxes[0].path)
            } catch {
                throw MaildirError(error)
            }
        }
    }

    /// Gives up on a message whose file could not be made durable.
    func fail() {
        state.withLock { state in removeTemporaryFiles(&state) }
    }

    /// Links the file into the other mailboxes' `new` and renames it into the first's.
    func publish() throws(MaildirError) -> [String] {
        try state.withLock { state throws(MaildirError) -> [String] in
            close(state.fd)
            state.fd = -1
            let first = firstTmpPath
            let finalName = Self.finalName(uniqueName, size: state.size)
            let targets = mailboxes.map { $0.new + "/" + finalName }
            var published: [String] = []
            do throws(MaildirError) {
                // The other mailboxes get hard links straight into `new` (as qmail delivers), then the file itself
                // is renamed into the first: one call per mailbox. Each name appears with the whole file behind it.
                for target in targets.dropFirst() {
                    guard link(first, target) == 0 else {
                        throw MaildirError(operation: "link", path: target, code: errno)
                    }
                    published.append(target)
                }
                guard rename(first, targets[0]) == 0 else {
                    throw MaildirError(operation: "rename", path: targets[0], code: errno)
                }
                published.insert(targets[0], at: 0)
            } catch {
                // Not acknowledged, so it must not be visible: take back what was already published.
                for path in published { unlink(path) }
                unlink(first)
                state.phase = .aborted
                throw error
            }
            state.phase = .committed
            return published
        }
    }

    /// Takes back a published message whose directory could not be synced.
    func unpublish(_ paths: [String]) {
        state.withLock { state in
            for path in paths { unlink(path) }
            state.phase = .aborted
        }
    }

    // MARK: Files

    private func writePending(_ state: inout State) throws(MaildirError) {
        if state.fd < 0 { state.fd = try openTemporaryFile() }
        for chunk in state.pending {
            try chunk.withUnsafeReadableBytes { buffer throws(MaildirError) in
                try FileOps.writeAll(state.fd, buffer, path: firstTmpPath)
            }
        }
        state.pending.removeAll(keepingCapacity: true)
        state.pendingBytes = 0
    }

    /// Read-write: the journal reads back a message that was written as it came.
    private func openTemporaryFile() throws(MaildirError) -> Int32 {
        let path = firstTmpPath
        var fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0, errno == ENOENT {
            // The mailbox was removed while we ran: make it again rather than refuse mail for it.
            Self.created.forget(mailboxes)
            for mailbox in mailboxes { try mailbox.create() }
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { throw MaildirError(operation: "create", path: path, code: errno) }
        return fd
    }

    private func removeTemporaryFiles(_ state: inout State) {
        if state.fd >= 0 {
            close(state.fd)
            unlink(firstTmpPath)
        }
        state.fd = -1
        state.pending = []
        state.pendingBytes = 0
        state.phase = .aborted
    }
}
