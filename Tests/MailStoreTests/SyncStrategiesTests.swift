import TestSupport
import FileSupport
import NIOCore
import Testing

@testable import MailStore

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SyncStrategiesTests {
    @Test func aDirectoryTakesItsFileSystemsStrategyOrTheForcedOne() throws {
        let root = makeTemporaryDirectory()
        let expected = SyncStrategy.forFileSystem(try FileSystemType.of(root))
        #expect(try SyncStrategies().strategy(forDirectory: root) == expected)
        #expect(try SyncStrategies(forcing: .syncEachFile).strategy(forDirectory: root) == .syncEachFile)
        #expect(throws: FileError.self) { try SyncStrategies().strategy(forDirectory: root + "/missing") }
    }

    @Test func aDeviceIsAskedOnceThenKnown() throws {
        let root = makeTemporaryDirectory()
        var info = stat()
        #expect(stat(root, &info) == 0)
        let strategies = SyncStrategies(forcing: .syncEachFile)
        #expect(try strategies.strategy(device: UInt64(info.st_dev), directory: root) == .syncEachFile)
        // Known by device now: the directory is not asked again.
        #expect(try strategies.strategy(device: UInt64(info.st_dev), directory: root + "/missing") == .syncEachFile)
    }
}

/// Commit rounds and checkpoints on a file system synced file by file, as on FUSE or NFS (forced here, on
/// whatever file system the tests run on).
@Suite struct SyncEachFileTests {
    private let strategies = SyncStrategies(forcing: .syncEachFile)

    private func deliver(_ count: Int, to boxes: [Maildir], with committer: GroupCommitter, size: Int = 100)
        async throws -> [[String]]
    {
        try await withThrowingTaskGroup(of: [String].self) { group in
            for index in 0..<count {
                group.addTask {
                    let message = try await MaildirMessage.begin(
                        in: [boxes[index % boxes.count], boxes[(index + 1) % boxes.count]], hostname: "mx.test",
                        committer: committer)
                    let text = "Message-ID: <\(index)@test>\r\n\r\n" + String(repeating: "x", count: size) + "\r\n"
                    try await message.write(ByteBuffer(string: text))
                    return try await message.commit()
                }
            }
            var all: [[String]] = []
            for try await paths in group { all.append(paths) }
            return all
        }
    }

    @Test(arguments: [100, MaildirMessage.flushThreshold + 100])
    func roundsOfManyMessagesDeliverEveryOne(size: Int) async throws {
        let root = makeTemporaryDirectory()
        let committer = GroupCommitter(strategies: strategies)
        let boxes = (0..<3).map { Maildir(path: root + "/d/user\($0)") }
        let delivered = try await deliver(60, to: boxes, with: committer, size: size)
        #expect(delivered.count == 60)
        #expect(committer.statistics.messages == 60)
        for box in boxes {
            #expect(listDirectory(box.new).count == 40)
            #expect(listDirectory(box.tmp).isEmpty)
        }
    }

    @Test func theCheckpointSyncsEachJournaledFile() async throws {
        let root = makeTemporaryDirectory()
        let journal = try DeliveryJournal(directory: root + "/journal", options: .init(checkpointInterval: 3600))
        let committer = GroupCommitter(journal: journal, strategies: strategies)
        let boxes = (0..<2).map { Maildir(path: root + "/d/user\($0)") }
        let delivered = try await deliver(20, to: boxes, with: committer)
        #expect(journal.sequences == (20, 0))
        // A reader moved one message to cur and deleted another: neither stops the checkpoint.
        let moved = delivered[0][0]
        let name = String(moved.split(separator: "/").last!)
        let mailbox = Maildir(path: String(moved.split(separator: "/").dropLast(2).joined(separator: "/")))
        #expect(rename(moved, "/" + mailbox.cur + "/" + name + ":2,S") == 0)
        #expect(unlink(delivered[1][0]) == 0)
        try journal.checkpoint()
        #expect(journal.sequences == (20, 20))
        await journal.close()
    }

    @Test func aFileThatCannotBeSyncedFailsTheCheckpointAndIsTriedAgain() throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/d/alice")
        try box.create()
        let file = box.new + "/1.M1P1Q1.mx.test,S=1"
        fclose(fopen(file, "w"))
        var syncs = JournalSyncs()
        syncs.files = [file]
        try syncs.run()
        // A file where its mailbox should be: not "removed", a real failure.
        syncs.files.append(root + "/d/alice/new/1.M1P1Q1.mx.test,S=1/x")
        #expect(throws: FileError.self) { try syncs.run() }
    }
}
