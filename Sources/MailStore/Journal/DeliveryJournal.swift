import FileSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The acceptance journal: the durable record of every small message before its 250, so that one `fdatasync` of a
/// preallocated file covers a whole round of messages instead of a file and a directory sync each.
///
/// A round appends one record per message (its Maildirs, file name and bytes) and syncs the journal; the messages
/// are then renamed into `new` without syncs of their own, and acknowledged. Every `checkpointInterval` a
/// checkpointer makes those Maildir files durable, each file system its own way (see `JournalSyncs`), and then
/// records the last sequence number whose files are durable. After a crash, `init` delivers again whatever came
/// after the checkpoint (see `JournalReplay`).
///
/// The journal is a ring of `segmentCount` files of `segmentSize` bytes, zero-filled when first made so that
/// appending overwrites allocated blocks and needs no metadata commit. A segment is reused once the checkpoint
/// covers all of it; appending to a segment not yet covered checkpoints first.
public final class DeliveryJournal: Sendable {
    /// Sizes and timing of the journal.
    public struct Options: Sendable {
        /// Bytes per segment file.
        public var segmentSize: Int
        /// Segment files in the ring (made as they are first needed).
        public var segmentCount: Int
        /// Seconds between checkpoints: the longest a message waits for its own Maildir file to be durable, and the
        /// window in which a message deleted by its reader comes back after a crash.
        public var checkpointInterval: Double

        /// Larger messages take their own file and directory syncs: their data costs more than the syncs, and
        /// the journal would write it twice.
        public var maximumMessageSize: Int

        public init(
            segmentSize: Int = 2 << 20, segmentCount: Int = 8, checkpointInterval: Double = 0.2,
            maximumMessageSize: Int = 1 << 20
        ) {
            precondition(segmentSize >= 4096 && segmentCount >= 2 && checkpointInterval > 0)
            self.segmentSize = segmentSize
            self.segmentCount = segmentCount
            self.checkpointInterval = checkpointInterval
            // A record holds the message and its paths: keep the message well inside one segment.
            self.maximumMessageSize = min(maximumMessageSize, segmentSize / 2)
        }

        /// The most bytes one round may append: a round must never wrap the ring onto its own records.
        var maximumRoundBytes: Int { segmentSize * (segmentCount - 1) / 2 }
    }

    public let directory: String
    public let options: Options
    /// Messages (one per mailbox) delivered again from the journal by `init`.
    public let replayed: Int

    private let writer: Mutex<JournalWriter>
    private let progress = Mutex(Progress())
    private let checkpointFile: Mutex<JournalCheckpoint>
    private let stop = ConditionLock(value: false)
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let logger = Logger(label: "swallow.journal")

    private struct Progress {
        /// Highest sequence number whose message is in its Maildirs (or was refused).
        var published: UInt64 = 0
        /// Highest sequence number the checkpoint file holds.
        var checkpointed: UInt64 = 0
        /// What the next checkpoint must make durable: the messages published since the last one.
        var syncs = JournalSyncs()
    }

    /// Opens the journal in `directory` (creating it), delivers what came after the last checkpoint, and starts
    /// the checkpointer. Throws when the journal cannot be read or a message cannot be delivered again: the
    /// journal still holds them, so the caller should refuse to start rather than lose them.
    public init(directory: String, options: Options = Options()) throws(MaildirError) {
        self.directory = directory
        self.options = options
        try FileOps.makeDirectories(directory)
        let checkpoint: JournalCheckpoint
        do throws(FileError) {
            checkpoint = try JournalCheckpoint(path: directory + "/checkpoint")
        } catch {
            throw MaildirError(error)
        }
        let recovery = try JournalRecovery(directory: directory, after: checkpoint.sequence)
        var replay = JournalReplay()
        for record in recovery.pending { try replay.deliver(record) }
        try replay.finish()
        replayed = replay.delivered
        let last = max(recovery.highestSequence, checkpoint.sequence)
        // Only a damaged or forged file can hold the last sequence number; going on would wrap to reused numbers.
        guard last < .max else {
            throw MaildirError(
                operation: "read (no sequence number left after \(last))", path: directory, code: EOVERFLOW)
        }
        do throws(FileError) {
            if last > checkpoint.sequence { try checkpoint.write(last) }
            try recovery.removeSegments(except: options)
        } catch {
            throw MaildirError(error)
        }
        checkpointFile = Mutex(checkpoint)
        progress.withLock { progress in
            progress.published = last
            progress.checkpointed = last
        }
        writer = Mutex(
            JournalWriter(
                directory: directory, options: options, nextSequence: last + 1,
                startSegment: recovery.segmentAfterHighest(count: options.segmentCount)))
        thread.start()
        thread.submit { [self] _ in checkpointLoop() }
    }

    deinit {
        stop.lock()
        stop.unlock(withValue: true)
        thread.shutdownGracefully { _ in }
    }

    /// Stops the checkpointer and records a final checkpoint, so that a clean restart delivers nothing again.
    public func close() async {
        stop.lock()
        stop.unlock(withValue: true)
        try? await thread.shutdownGracefully()
        checkpointLogged()
    }

    /// Why the journal cannot take messages (its first segment could not be made), if so; messages then take
    /// the per-message syncs. The journal still replays and checkpoints.
    public var unavailableReason: String? { writer.withLock { $0.startupError.map { "\($0)" } } }

    /// Highest sequence number appended, and highest covered by the checkpoint.
    public var sequences: (appended: UInt64, checkpointed: UInt64) {
        (writer.withLock { $0.nextSequence - 1 }, progress.withLock { $0.checkpointed })
    }

    // MARK: Used by the committer's thread

    /// Appends one record per entry and makes them durable with one sync per segment written. Returns the last
    /// sequence number used.
    func append(_ entries: [JournalEntry]) throws(JournalAppendError) -> UInt64 {
        try writer.withLock { writer throws(JournalAppendError) in
            try writer.append(entries) { sequence throws(FileError) in
                if progress.withLock({ $0.checkpointed }) < sequence { try self.checkpoint() }
                // Every earlier round has called `published`, so the checkpoint now covers the segment.
                guard progress.withLock({ $0.checkpointed }) >= sequence else {
                    throw FileError(operation: "checkpoint", path: directory, code: EIO)
                }
            }
        }
    }

    /// The messages up to `sequence` are in their Maildirs (made durable by `syncs`) or were refused: the next
    /// checkpoint may cover them.
    func published(through sequence: UInt64, syncs: JournalSyncs) {
        progress.withLock { progress in
            progress.published = max(progress.published, sequence)
            progress.syncs.merge(syncs)
        }
    }

    // MARK: Checkpoints

    /// Makes durable the messages published since the last checkpoint (see `JournalSyncs`), then records the
    /// checkpoint.
    func checkpoint() throws(FileError) {
        try checkpointFile.withLock { file throws(FileError) in
            let (target, syncs) = progress.withLock { progress in
                defer { progress.syncs = JournalSyncs() }
                return (progress.published, progress.syncs)
            }
            guard target > file.sequence else { return }
            do throws(FileError) {
                try syncs.run()
                try file.write(target)
                StoreMetrics.checkpoint(succeeded: true)
            } catch {
                progress.withLock { $0.syncs.merge(syncs) }
                throw error
            }
            progress.withLock { $0.checkpointed = target }
        }
    }

    private func checkpointLoop() {
        while true {
            if stop.lock(whenValue: true, timeoutSeconds: options.checkpointInterval) {
                stop.unlock()
                return
            }
            checkpointLogged()
        }
    }

    private func checkpointLogged() {
        do throws(FileError) { try checkpoint() } catch {
            StoreMetrics.checkpoint(succeeded: false)
            logger.error("journal checkpoint failed; will retry", metadata: ["error": "\(error)"])
        }
    }
}

/// A message for the journal: where it goes, the name it gets in `new`, and its bytes.
struct JournalEntry {
    /// The message's bytes: in memory (the buffers in order), or in its `tmp` file (read straight into the
    /// journal's buffer).
    enum Content {
        case buffers([ByteBuffer])
        case file(fd: Int32, count: Int, path: String)
    }

    let mailboxes: [String]
    let name: String
    let content: Content

    var contentCount: Int {
        switch content {
        case .buffers(let buffers): buffers.reduce(0) { $0 + $1.readableBytes }
        case .file(_, let count, _): count
        }
    }
}

/// Why a round's messages cannot go through the journal; they then take the per-message sync path.
enum JournalAppendError: Error {
    /// The round is too large for the ring; the journal is fine.
    case tooLarge
    /// The journal failed (and is no longer used) or had failed before.
    case failed(FileError?)
}
