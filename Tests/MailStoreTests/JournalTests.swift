import FileSupport
import NIOCore
import TestSupport
import Testing

@_spi(Fuzzing) @testable import MailStore

#if canImport(Glibc)
    import Glibc
#endif

private func record(_ sequence: UInt64, _ text: String, boxes: [String] = ["/m/a"]) -> JournalRecord {
    JournalRecord(
        sequence: sequence, mailboxes: boxes, name: "n\(sequence),S=\(text.utf8.count)", content: Array(text.utf8))
}

private func encoded(_ records: [JournalRecord]) -> [UInt8] {
    var buffer = ByteBuffer()
    for record in records {
        JournalRecord.encode(
            sequence: record.sequence, mailboxes: record.mailboxes, name: record.name, content: record.content,
            into: &buffer)
    }
    return Array(buffer.readableBytesView)
}

private func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// The journal under `root`, with checkpoints held off so that a test decides when one happens.
private func openJournal(_ root: String) throws -> DeliveryJournal {
    try DeliveryJournal(directory: root + "/journal", options: .init(checkpointInterval: 3600))
}

/// Commits `count` messages to `box` through `committer` and returns their paths in `new`.
private func commit(_ count: Int, to box: Maildir, with committer: GroupCommitter, size: Int = 100) async throws
    -> [String]
{
    var paths: [String] = []
    for index in 0..<count {
        let message = try await MaildirMessage.begin(in: [box], hostname: "mx.test", committer: committer)
        let text = "Subject: \(index)\r\n\r\n" + String(repeating: "x", count: size) + "\r\n"
        try await message.write(ByteBuffer(string: text))
        paths += try await message.commit()
    }
    return paths
}

@Suite struct JournalRecordTests {
    @Test func recordsRoundTrip() {
        let records = [record(1, "hello"), record(2, "", boxes: ["/m/a", "/m/b"]), record(3, "\r\n.\r\n")]
        let bytes = encoded(records)
        #expect(bytes.withUnsafeBytes { JournalRecord.decodeAll($0) } == records)
    }

    @Test func aDamagedOrTornRecordEndsTheJournal() {
        let records = [record(1, "one"), record(2, "two"), record(3, "three")]
        var bytes = encoded(records)
        bytes[bytes.count - 2] ^= 0x01  // a bit flipped in the last message
        #expect(bytes.withUnsafeBytes { JournalRecord.decodeAll($0) } == Array(records.prefix(2)))
        let torn = Array(encoded(records).dropLast(3))
        #expect(torn.withUnsafeBytes { JournalRecord.decodeAll($0) } == Array(records.prefix(2)))
        let zeros = [UInt8](repeating: 0, count: 4096)
        #expect(zeros.withUnsafeBytes { JournalRecord.decodeAll($0) }.isEmpty)
    }

    @Test func recoveryTakesTheRecordsAfterTheCheckpointUpToTheFirstGap() throws {
        let directory = makeTemporaryDirectory()
        // Segment 0 holds 3...6 (3 and 4 are covered); segment 1 holds 8 after a gap at 7, and stale 1...2.
        writeFile(directory + "/segment-000.log", encoded((3...6).map { record($0, "m\($0)") }) + [0, 0, 0])
        writeFile(directory + "/segment-001.log", encoded([record(8, "m8"), record(1, "old")]))
        let recovery = try JournalRecovery(directory: directory, after: 4)
        #expect(recovery.pending.map(\.sequence) == [5, 6])
        #expect(recovery.highestSequence == 8)
        #expect(recovery.segmentAfterHighest(count: 4) == 2)
    }

    /// A checkpoint at the largest sequence number (only a damaged or forged file can hold one) used to overflow
    /// the "next expected" count and trap at start.
    @Test func aCheckpointAtTheLargestSequenceNumberSelectsNothing() {
        let segments = [[record(.max, "last"), record(1, "first")]]
        let selected = JournalRecovery.select(segments, after: .max)
        #expect(selected.pending.isEmpty)
        #expect(selected.highest == .max)
        #expect(JournalRecovery.select(segments, after: 0).pending.map(\.sequence) == [1])
        #expect(JournalRecovery.select([], after: 7) == ([], 0))
    }

    @Test func aSequenceNumberTwiceIsDeliveredOnceAndRecoveryGoesOn() {
        let segments = [[record(1, "a"), record(2, "b")], [record(2, "b"), record(3, "c")]]
        #expect(JournalRecovery.select(segments, after: 0).pending.map(\.sequence) == [1, 2, 3])
    }

    @Test func aCheckpointSlotIsReadOnlyWhereItFits() {
        #expect(JournalCheckpoint.decode(JournalCheckpoint.encode(42), at: 0) == 42)
        #expect(JournalCheckpoint.decode([UInt8](repeating: 0, count: 1024), at: 0) == nil)
        #expect(JournalCheckpoint.decode(Array("SWJC".utf8), at: 0) == nil)
        #expect(JournalCheckpoint.decode([UInt8](repeating: 0, count: 8), at: -8) == nil)
    }
}

@Suite struct DeliveryJournalTests {
    /// A message handed over in pieces (one a small slice of a large buffer) reaches its file and the journal
    /// whole and in order, kept in memory or written to `tmp` as it came.
    @Test(arguments: [1000, MaildirMessage.flushThreshold + 1000])
    func aMessageInPiecesIsJournaledInOrder(size: Int) async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/d/alice")
        let journal = try openJournal(root)
        let message = try await MaildirMessage.begin(
            in: [box], hostname: "mx.test", committer: GroupCommitter(journal: journal))
        var large = ByteBuffer(repeating: UInt8(ascii: "-"), count: 200_000)
        large.setString("Subject: pieces", at: 100_000)
        let pieces = [
            ByteBuffer(string: "Return-Path: <a@b.test>\r\n"), large.getSlice(at: 100_000, length: 15)!,
            ByteBuffer(string: "\r\n\r\n"), ByteBuffer(repeating: UInt8(ascii: "b"), count: size),
            ByteBuffer(string: "\r\n"),
        ]
        for piece in pieces { try await message.write(piece) }
        let paths = try await message.commit()
        let expected = pieces.flatMap { Array($0.readableBytesView) }
        #expect(readFile(paths[0]) == expected)
        let segment = readFile(root + "/journal/segment-000.log")
        #expect(segment.withUnsafeBytes { JournalRecord.decodeAll($0) }.map(\.content) == [expected])
        await journal.close()
    }

    @Test func messagesAreVisibleAtCommitAndCoveredByTheNextCheckpoint() async throws {
        let root = makeTemporaryDirectory()
        let journal = try openJournal(root)
        let committer = GroupCommitter(journal: journal)
        let box = Maildir(path: root + "/mail/alice")
        let paths = try await commit(3, to: box, with: committer)
        #expect(listDirectory(box.new).count == 3)
        #expect(listDirectory(box.tmp).isEmpty)
        #expect(readFile(paths[0]).count == 116)
        #expect(journal.sequences == (3, 0))
        try journal.checkpoint()
        #expect(journal.sequences == (3, 3))
        await journal.close()
    }

    @Test func aCrashBeforeTheCheckpointIsRepairedWithoutDuplicates() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/mail/alice")
        var paths: [String] = []
        do {
            let journal = try openJournal(root)
            paths = try await commit(3, to: box, with: GroupCommitter(journal: journal))
        }  // no close(): as after kill -9, the checkpoint is still 0
        let original = readFile(paths[0])
        // The page cache was lost: one file is empty; a reader had moved another to cur with flags.
        writeFile(paths[0], [])
        let moved = box.cur + "/" + String(paths[1].split(separator: "/").last!) + ":2,S"
        #expect(rename(paths[1], moved) == 0)
        writeFile(moved, Array("partial".utf8))
        let reopened = try openJournal(root)
        #expect(reopened.replayed == 3)
        #expect(readFile(paths[0]) == original)
        #expect(readFile(moved).count == original.count)
        #expect(listDirectory(box.new).count == 2)
        #expect(listDirectory(box.cur).count == 1)
        #expect(listDirectory(box.tmp).isEmpty)
        #expect(reopened.sequences == (3, 3))
        await reopened.close()
    }

    @Test func checkpointedMessagesAreNotDeliveredAgain() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/mail/alice")
        let journal = try openJournal(root)
        let paths = try await commit(2, to: box, with: GroupCommitter(journal: journal))
        await journal.close()
        #expect(unlink(paths[0]) == 0)  // read and deleted by its owner
        let reopened = try openJournal(root)
        #expect(reopened.replayed == 0)
        #expect(listDirectory(box.new).count == 1)
        await reopened.close()
    }

    @Test func theRingWrapsCheckpointingSegmentsBeforeReuse() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/mail/alice")
        let options = DeliveryJournal.Options(segmentSize: 4096, segmentCount: 3, checkpointInterval: 3600)
        var appended: UInt64 = 0
        do {
            let journal = try DeliveryJournal(directory: root + "/journal", options: options)
            _ = try await commit(40, to: box, with: GroupCommitter(journal: journal), size: 900)
            appended = journal.sequences.appended
            #expect(appended == 40)
            #expect(journal.sequences.checkpointed > 0)  // wrapping forced checkpoints
        }
        #expect(listDirectory(root + "/journal").count == 4)  // three segments and the checkpoint file
        let reopened = try DeliveryJournal(directory: root + "/journal", options: options)
        #expect(reopened.replayed > 0 && reopened.replayed < 40)
        #expect(listDirectory(box.new).count == 40)
        #expect(reopened.sequences.checkpointed == appended)
        _ = try await commit(5, to: box, with: GroupCommitter(journal: reopened), size: 900)
        #expect(reopened.sequences.appended == appended + 5)
        await reopened.close()
    }

    @Test func messagesWrittenToTmpAsTheyCameAreReadBackIntoTheJournal() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/mail/alice")
        var paths: [String] = []
        do {
            let journal = try openJournal(root)
            paths = try await commit(1, to: box, with: GroupCommitter(journal: journal), size: 200_000)
            #expect(journal.sequences.appended == 1)
        }
        let original = readFile(paths[0])
        #expect(original.count > 200_000)
        writeFile(paths[0], [])
        let reopened = try openJournal(root)
        #expect(reopened.replayed == 1)
        #expect(readFile(paths[0]) == original)
        await reopened.close()
    }

    @Test func aCheckpointAtTheLastSequenceNumberStopsTheStart() throws {
        let root = makeTemporaryDirectory()
        #expect(mkdir(root + "/journal", 0o700) == 0)
        try JournalCheckpoint(path: root + "/journal/checkpoint").write(.max)
        #expect {
            _ = try openJournal(root)
        } throws: { error in
            (error as? MaildirError).map { $0.path == root + "/journal" && $0.code == EOVERFLOW } ?? false
        }
    }

    @Test func anUnreadableSegmentStopsTheStartWithItsPath() async throws {
        let root = makeTemporaryDirectory()
        #expect(mkdir(root + "/journal", 0o700) == 0)
        // Something that is not a segment file where one should be: the journal cannot tell what it held.
        #expect(mkdir(root + "/journal/segment-000.log", 0o700) == 0)
        #expect {
            _ = try openJournal(root)
        } throws: { error in
            (error as? MaildirError)?.path == root + "/journal/segment-000.log"
        }
    }

    @Test func messagesOverTheLimitTakeTheirOwnSyncs() async throws {
        let root = makeTemporaryDirectory()
        let journal = try openJournal(root)
        let box = Maildir(path: root + "/mail/alice")
        let paths = try await commit(1, to: box, with: GroupCommitter(journal: journal), size: 1_100_000)
        #expect(readFile(paths[0]).count > 1_100_000)
        #expect(journal.sequences.appended == 0)
        await journal.close()
    }
}
