import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the journal's segments hold at start: the records after the checkpoint, to deliver again, and the highest
/// sequence number anywhere, so that new records never reuse one.
struct JournalRecovery {
    /// The records after the checkpoint, in order, up to the first missing sequence number: nothing after a gap
    /// was acknowledged, since each round is synced before the next is written.
    private(set) var pending: [JournalRecord] = []
    private(set) var highestSequence: UInt64 = 0
    /// Each segment file found: its index, size and highest sequence number.
    private var segments: [(index: Int, size: Int, highest: UInt64)] = []
    private let directory: String

    init(directory: String, after checkpoint: UInt64) throws(MaildirError) {
        self.directory = directory
        var found: [[JournalRecord]] = []
        for (index, name) in Self.segmentFiles(in: directory) {
            let path = directory + "/" + name
            let bytes: [UInt8]
            do throws(FileError) { bytes = try POSIXFile.contents(of: path) } catch { throw MaildirError(error) }
            let records = bytes.withUnsafeBytes { JournalRecord.decodeAll($0) }
            segments.append((index, bytes.count, records.map(\.sequence).max() ?? 0))
            found.append(records)
        }
        (pending, highestSequence) = Self.select(found, after: checkpoint)
    }

    /// The records of `segments` to deliver again (after `checkpoint`, in order, up to the first missing sequence
    /// number, the first of two with one number) and the highest sequence number found.
    static func select(_ segments: [[JournalRecord]], after checkpoint: UInt64) -> (
        pending: [JournalRecord], highest: UInt64
    ) {
        let all = segments.joined()
        let later = all.filter { $0.sequence > checkpoint }.sorted { $0.sequence < $1.sequence }
        var pending: [JournalRecord] = []
        var expected = checkpoint &+ 1
        for record in later {
            // The same number twice (a damaged segment) is delivered once; it does not end recovery.
            if let taken = pending.last, record.sequence == taken.sequence { continue }
            guard record.sequence == expected else { break }
            pending.append(record)
            expected &+= 1
        }
        return (pending, all.map(\.sequence).max() ?? 0)
    }

    /// Where appending starts: the segment after the one holding the highest sequence number.
    func segmentAfterHighest(count: Int) -> Int {
        guard let newest = segments.filter({ $0.index < count }).max(by: { $0.highest < $1.highest }),
            newest.highest > 0
        else { return 0 }
        return (newest.index + 1) % count
    }

    /// Removes the segments the options no longer use (outside the ring, or of another size); call only once
    /// every record is delivered and checkpointed.
    func removeSegments(except options: DeliveryJournal.Options) throws(FileError) {
        var removed = false
        for segment in segments where segment.index >= options.segmentCount || segment.size != options.segmentSize {
            let path = JournalWriter.path(of: segment.index, in: directory)
            guard unlink(path) == 0 || errno == ENOENT else { throw FileError(operation: "unlink", path: path) }
            removed = true
        }
        if removed { try POSIXFile.syncDirectory(directory) }
    }

    /// `segment-<index>.log` files, by index.
    private static func segmentFiles(in directory: String) -> [(Int, String)] {
        POSIXFile.entries(of: directory).compactMap { name in
            guard name.hasPrefix("segment-"), name.hasSuffix(".log"),
                let index = Int(name.dropFirst("segment-".count).dropLast(".log".count)), index >= 0
            else { return nil }
            return (index, name)
        }.sorted { $0.0 < $1.0 }
    }
}
