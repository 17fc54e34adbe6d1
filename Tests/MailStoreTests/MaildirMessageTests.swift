import MailStore
import NIOCore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct MaildirMessageTests {
    @Test func nothingIsVisibleInNewBeforeCommit() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/example.test/alice")
        let message = try await MaildirMessage.begin(in: [box], hostname: "mx.test")
        try await message.write(ByteBuffer(string: "Subject: a\r\n\r\nbody\r\n"))
        #expect(listDirectory(box.new).isEmpty)
        let paths = try await message.commit()
        #expect(listDirectory(box.tmp).isEmpty)
        #expect(listDirectory(box.new) == ["\(message.uniqueName),S=20"])
        #expect(readFile(paths[0]) == Array("Subject: a\r\n\r\nbody\r\n".utf8))
        #expect(listDirectory(box.cur).isEmpty)
    }

    @Test func oneFilePerMailboxSharingTheBytes() async throws {
        let root = makeTemporaryDirectory()
        let boxes = ["alice", "bob", "carol"].map { Maildir(path: root + "/example.test/" + $0) }
        let message = try await MaildirMessage.begin(in: boxes, hostname: "mx.test")
        try await message.write(ByteBuffer(string: "x"))
        let paths = try await message.commit()
        #expect(paths.count == 3)
        for (box, path) in zip(boxes, paths) {
            #expect(listDirectory(box.new).count == 1)
            #expect(listDirectory(box.tmp).isEmpty)
            #expect(readFile(path) == [UInt8(ascii: "x")])
        }
    }

    @Test func abortLeavesNothingBehind() async throws {
        let root = makeTemporaryDirectory()
        let boxes = ["alice", "bob"].map { Maildir(path: root + "/d/" + $0) }
        let message = try await MaildirMessage.begin(in: boxes, hostname: "mx.test")
        try await message.write(ByteBuffer(string: "partial"))
        await message.abort()
        await message.abort()
        for box in boxes {
            #expect(listDirectory(box.tmp).isEmpty)
            #expect(listDirectory(box.new).isEmpty)
        }
        await #expect(throws: MaildirError.self) { try await message.commit() }
    }

    @Test func abortAfterCommitKeepsTheMessage() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/d/alice")
        let message = try await MaildirMessage.begin(in: [box], hostname: "mx.test")
        try await message.commit()
        await message.abort()
        #expect(listDirectory(box.new).count == 1)
    }

    @Test func unusableDirectoryIsAnErrorNotACrash() async throws {
        let root = makeTemporaryDirectory()
        // A regular file where the domain directory should be: every mkdir below it fails with ENOTDIR.
        let blocker = fopen(root + "/blocked", "w")
        fclose(blocker)
        let box = Maildir(path: root + "/blocked/alice")
        await #expect(throws: MaildirError.self) { _ = try await MaildirMessage.begin(in: [box], hostname: "mx.test") }
    }

    @Test func uniqueNamesDoNotRepeat() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/d/alice")
        var names = Set<String>()
        for _ in 0..<200 {
            let message = try await MaildirMessage.begin(in: [box], hostname: "host/with:odd")
            #expect(!message.uniqueName.contains("/"))
            #expect(!message.uniqueName.contains(":"))
            names.insert(message.uniqueName)
            try await message.commit()
        }
        #expect(names.count == 200)
        #expect(listDirectory(box.new).count == 200)
    }
}

@Suite struct GroupCommitTests {
    @Test func largeMessagesGoToTmpBeforeCommit() async throws {
        let root = makeTemporaryDirectory()
        let box = Maildir(path: root + "/d/alice")
        let message = try await MaildirMessage.begin(in: [box], hostname: "mx.test")
        let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: MaildirMessage.flushThreshold)
        try await message.write(chunk)
        #expect(listDirectory(box.tmp) == [message.uniqueName])
        #expect(listDirectory(box.new).isEmpty)
        try await message.write(ByteBuffer(string: "tail"))
        let paths = try await message.commit()
        #expect(readFile(paths[0]).count == MaildirMessage.flushThreshold + 4)
        #expect(listDirectory(box.tmp).isEmpty)
    }

    @Test func concurrentCommitsShareRounds() async throws {
        let root = makeTemporaryDirectory()
        let committer = GroupCommitter()
        let boxes = (0..<4).map { Maildir(path: root + "/d/user\($0)") }
        try await withThrowingTaskGroup(of: [String].self) { group in
            for index in 0..<200 {
                group.addTask {
                    let message = try await MaildirMessage.begin(
                        in: [boxes[index % 4], boxes[(index + 1) % 4]], hostname: "mx.test", committer: committer)
                    try await message.write(ByteBuffer(string: "Message-ID: <\(index)@test>\r\n\r\nbody\r\n"))
                    return try await message.commit()
                }
            }
            var paths = 0
            for try await delivered in group { paths += delivered.count }
            #expect(paths == 400)
        }
        let stats = committer.statistics
        #expect(stats.messages == 200)
        // Each round covered more than one message: the syncs were shared.
        #expect(stats.rounds < 200)
        for box in boxes {
            #expect(listDirectory(box.new).count == 100)
            #expect(listDirectory(box.tmp).isEmpty)
        }
    }

    @Test func aFailureInOneMessageDoesNotFailTheRound() async throws {
        let root = makeTemporaryDirectory()
        let committer = GroupCommitter()
        let good = Maildir(path: root + "/d/good")
        let bad = Maildir(path: root + "/d/bad")
        let first = try await MaildirMessage.begin(in: [bad], hostname: "mx.test", committer: committer)
        let second = try await MaildirMessage.begin(in: [good], hostname: "mx.test", committer: committer)
        try await first.write(ByteBuffer(string: "x"))
        try await second.write(ByteBuffer(string: "y"))
        // The bad mailbox's tmp becomes a file: its message cannot be created at commit time.
        #expect(rmdir(bad.tmp) == 0)
        fclose(fopen(bad.tmp, "w"))
        let failing = Task { try await first.commit() }
        let succeeding = Task { try await second.commit() }
        await #expect(throws: MaildirError.self) { _ = try await failing.value }
        #expect(try await succeeding.value.count == 1)
        #expect(listDirectory(bad.new).isEmpty)
        #expect(listDirectory(good.new).count == 1)
    }
}
