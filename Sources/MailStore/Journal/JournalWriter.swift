import FileSupport
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The appending side of the journal's ring of segments. Used by the committer's thread only.
struct JournalWriter: ~Copyable {
    private let directory: String
    private let options: DeliveryJournal.Options
    private var files: [Int32]
    /// The highest sequence number written to each segment since it was last started; 0 when none.
    private var lastSequence: [UInt64]
    private var current: Int
    private var offset = 0
    private(set) var nextSequence: UInt64
    private var buffer = ByteBuffer()
    private var failed = false

    static func path(of segment: Int, in directory: String) -> String {
        let digits = String(segment)
        return directory + "/segment-" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits + ".log"
    }

    /// Why the first segment could not be made (a full disk, say): then every append fails and messages take the
    /// per-message syncs.
    private(set) var startupError: FileError?

    /// Every record already in the segments is covered by the checkpoint: all of them may be reused.
    init(directory: String, options: DeliveryJournal.Options, nextSequence: UInt64, startSegment: Int) {
        self.directory = directory
        self.options = options
        self.nextSequence = nextSequence
        files = Array(repeating: -1, count: options.segmentCount)
        lastSequence = Array(repeating: 0, count: options.segmentCount)
        current = startSegment
        do throws(FileError) { try openSegment(current) } catch {
            startupError = error
            failed = true
        }
    }

    deinit {
        for fd in files where fd >= 0 { close(fd) }
    }

    /// Writes one record per entry and syncs each segment written. `checkpoint` is called when the next segment
    /// still holds records the checkpoint does not cover; it must cover every published record when it returns.
    mutating func append(
        _ entries: [JournalEntry], checkpoint: (UInt64) throws(FileError) -> Void
    ) throws(JournalAppendError) -> UInt64 {
        guard !failed else { throw .failed(nil) }
        var sizes: [Int] = []
        sizes.reserveCapacity(entries.count)
        for entry in entries {
            guard
                let size = JournalRecord.encodedSize(
                    mailboxes: entry.mailboxes, name: entry.name, contentCount: entry.contentCount),
                size <= options.segmentSize
            else { throw .tooLarge }
            sizes.append(size)
        }
        guard sizes.reduce(0, +) <= options.maximumRoundBytes else { throw .tooLarge }
        do throws(FileError) {
            var written: Set<Int> = []
            buffer.clear()
            for (entry, size) in zip(entries, sizes) {
                if offset + buffer.readableBytes + size > options.segmentSize {
                    try flush()
                    written.insert(current)
                    try advance(checkpoint)
                }
                try JournalRecord.encode(
                    sequence: nextSequence, mailboxes: entry.mailboxes, name: entry.name,
                    contentCount: entry.contentCount, into: &buffer
                ) { buffer throws(FileError) in try Self.writeContent(entry.content, to: &buffer) }
                lastSequence[current] = nextSequence
                nextSequence += 1
            }
            try flush()
            written.insert(current)
            for segment in written.sorted() {
                try POSIXFile.syncData(files[segment], path: Self.path(of: segment, in: directory))
            }
            return nextSequence - 1
        } catch {
            // Where the failed write left the ring is unknown: stop using it (messages take the per-message syncs).
            failed = true
            throw .failed(error)
        }
    }

    private mutating func flush() throws(FileError) {
        guard buffer.readableBytes > 0 else { return }
        let path = Self.path(of: current, in: directory)
        let (fd, offset) = (files[current], self.offset)
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(FileError) in try POSIXFile.writeAll(fd, bytes, at: offset, path: path) }
        }
        try result.get()
        self.offset += buffer.readableBytes
        buffer.clear()
    }

    /// Copies a message into the buffer: from memory, or read from its file straight into the buffer's space.
    private static func writeContent(_ content: JournalEntry.Content, to buffer: inout ByteBuffer) throws(FileError) {
        switch content {
        case .buffers(let buffers):
            for bytes in buffers { buffer.writeImmutableBuffer(bytes) }
        case .file(let fd, let count, let path):
            var failure: FileError?
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                var done = 0
                while done < count {
                    let got = pread(fd, space.baseAddress! + done, count - done, off_t(done))
                    if got < 0 && errno == EINTR { continue }
                    guard got > 0 else {
                        failure = FileError(operation: "read", path: path, code: got < 0 ? errno : EIO)
                        return 0
                    }
                    done += got
                }
                return count
            }
            if let failure { throw failure }
        }
    }

    private mutating func advance(_ checkpoint: (UInt64) throws(FileError) -> Void) throws(FileError) {
        let next = (current + 1) % options.segmentCount
        if lastSequence[next] > 0 { try checkpoint(lastSequence[next]) }
        try openSegment(next)
        current = next
        offset = 0
        lastSequence[next] = 0
    }

    /// Opens a segment, making it (zero-filled and durable) the first time it is needed.
    private mutating func openSegment(_ segment: Int) throws(FileError) {
        guard files[segment] < 0 else { return }
        let path = Self.path(of: segment, in: directory)
        var info = stat()
        if stat(path, &info) == 0 && Int(info.st_size) == options.segmentSize {
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw FileError(operation: "open", path: path) }
            files[segment] = fd
            return
        }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError(operation: "create", path: path) }
        do throws(FileError) {
            let zeros = [UInt8](repeating: 0, count: min(options.segmentSize, 256 * 1024))
            var done = 0
            while done < options.segmentSize {
                let count = min(zeros.count, options.segmentSize - done)
                try POSIXFile.writeAll(fd, count == zeros.count ? zeros : Array(zeros[..<count]), at: done, path: path)
                done += count
            }
            guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: path) }
            try POSIXFile.syncDirectory(directory)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        files[segment] = fd
    }
}
