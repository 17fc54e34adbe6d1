import FileSupport
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One round of group commit over the messages that finished together: write them all, make all their files
/// durable, publish them all into `new`, make all those directory entries durable. Only then is any acknowledged.
///
/// A round of one message syncs exactly its file and its `new` directories. A larger round uses one `syncfs` per
/// file system for the files and one for the directories where `syncfs` is a barrier (see `SyncStrategy`);
/// elsewhere it starts every file's writeback first and fsyncs each, so one journal commit can cover many files,
/// then fsyncs each `new` directory.
/// A failure fails only the messages it concerns: one file's write, or every message on a file system or in a
/// directory whose sync failed.
///
/// With a `DeliveryJournal`, messages up to its `maximumMessageSize` skip all of that: they are written to `tmp`, appended to
/// the journal with one sync, and then published; the journal's checkpointer makes their files durable later.
struct CommitRound {
    private let messages: [MaildirMessage]
    private let journal: DeliveryJournal?
    private var failures: [MaildirError?]
    private var published: [[String]]
    /// The messages the journal made durable: they need no file or directory sync of their own.
    private var journaled: Set<Int> = []
    private var journalSequence: UInt64?
    /// The journaled messages by the device their files are on.
    private var journalDevices: [UInt64: [Int]] = [:]
    private let strategies: SyncStrategies

    init(_ messages: [MaildirMessage], journal: DeliveryJournal? = nil, strategies: SyncStrategies = .shared) {
        self.messages = messages
        self.journal = journal
        self.strategies = strategies
        failures = Array(repeating: nil, count: messages.count)
        published = Array(repeating: [], count: messages.count)
    }

    mutating func run() -> [Result<[String], MaildirError>] {
        if let journal { appendToJournal(journal) }
        let direct = messages.indices.filter { failures[$0] == nil && !journaled.contains($0) }
        forEach(direct) { message throws(MaildirError) in try message.stage() }
        // A file and every name it gets are on one device (links and renames cannot cross devices), so the groups
        // made for the files also serve the directories.
        var shared: [[Int]] = []
        var single: [Int] = []
        for (device, indices) in byDevice(direct) {
            // One message syncs exactly its file and directory: cheaper than a whole file system's writeback.
            if indices.count > 1, strategy(device, messages[indices[0]]) == .syncFileSystem {
                shared.append(indices)
            } else {
                single += indices
            }
        }
        single.sort()
        syncFileSystems(shared)
        // Writeback started for all first, so that one journal commit of the file system can cover many fsyncs.
        forEach(single) { message throws(MaildirError) in message.startWriteback() }
        forEach(single) { message throws(MaildirError) in try message.syncFile() }
        for index in messages.indices where failures[index] == nil {
            do throws(MaildirError) { published[index] = try messages[index].publish() } catch {
                failures[index] = error
            }
        }
        if let journal, let journalSequence {
            journal.published(through: journalSequence, syncs: journalSyncs())
        }
        syncDirectoryFileSystems(shared)
        syncDirectories(single)
        return messages.indices.map { index in
            if let failure = failures[index] { .failure(failure) } else { .success(published[index]) }
        }
    }

    /// How `device`, holding `message`, is made durable; a file system that cannot be asked is synced file by file.
    private func strategy(_ device: UInt64, _ message: MaildirMessage) -> SyncStrategy {
        (try? strategies.strategy(device: device, directory: message.mailboxes[0].new)) ?? .syncEachFile
    }

    /// What the journal's next checkpoint must make durable for the journaled messages now in `new`: their file
    /// systems where `syncfs` is a barrier, their files and directories elsewhere.
    private func journalSyncs() -> JournalSyncs {
        var syncs = JournalSyncs()
        for (device, indices) in journalDevices {
            let live = indices.filter { failures[$0] == nil }
            guard let first = live.first else { continue }
            switch strategy(device, messages[first]) {
            case .syncFileSystem: syncs.fileSystems[device] = messages[first].mailboxes[0].new
            case .syncEachFile: for index in live { syncs.files += published[index] }
            }
        }
        return syncs
    }

    /// Writes the messages the journal can take to `tmp` and makes them durable with one journal append; the
    /// rest of a round too large for the ring, and every message if the journal fails, take the per-message syncs.
    private mutating func appendToJournal(_ journal: DeliveryJournal) {
        var indices: [Int] = []
        var entries: [JournalEntry] = []
        var devices: [UInt64: [Int]] = [:]
        let options = journal.options
        var bytes = 0
        for index in messages.indices {
            let size = messages[index].size
            guard size <= options.maximumMessageSize, bytes + size <= options.maximumRoundBytes else { continue }
            bytes += size
            do throws(MaildirError) {
                let (entry, device) = try messages[index].stageForJournal()
                indices.append(index)
                entries.append(entry)
                devices[device, default: []].append(index)
            } catch {
                failures[index] = error
            }
        }
        guard !entries.isEmpty else { return }
        do throws(JournalAppendError) {
            journalSequence = try journal.append(entries)
            journaled = Set(indices)
            journalDevices = devices
        } catch {
            if case .failed(let cause?) = error {
                Logger(label: "swallow.journal").error(
                    "journal write failed; messages now take one sync each", metadata: ["error": "\(cause)"])
            }
        }
    }

    private mutating func forEach(_ indices: [Int], _ step: (MaildirMessage) throws(MaildirError) -> Void) {
        for index in indices where failures[index] == nil {
            do throws(MaildirError) { try step(messages[index]) } catch { failures[index] = error }
        }
    }

    /// The live messages among `indices`, grouped by the device their files are on.
    private mutating func byDevice(_ indices: [Int]) -> [UInt64: [Int]] {
        var groups: [UInt64: [Int]] = [:]
        for index in indices where failures[index] == nil {
            do throws(MaildirError) {
                groups[try messages[index].device(), default: []].append(index)
            } catch {
                failures[index] = error
            }
        }
        return groups
    }

    private mutating func syncFileSystems(_ groups: [[Int]]) {
        for indices in groups {
            do throws(MaildirError) {
                try messages[indices[0]].syncFileSystem()
            } catch {
                for index in indices {
                    messages[index].fail()
                    failures[index] = error
                }
            }
        }
    }

    /// After publishing, the files are closed: each file system is reached through a `new` directory on it.
    private mutating func syncDirectoryFileSystems(_ groups: [[Int]]) {
        for group in groups {
            let indices = group.filter { failures[$0] == nil }
            guard let first = indices.first else { continue }
            let directory = messages[first].mailboxes[0].new
            do throws(FileError) {
                let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else { throw FileError(operation: "open", path: directory) }
                defer { close(fd) }
                try POSIXFile.syncFileSystem(fd, path: directory)
            } catch {
                for index in indices { takeBack(index, MaildirError(error)) }
            }
        }
    }

    private mutating func syncDirectories(_ indices: [Int]) {
        var outcomes: [String: MaildirError?] = [:]
        for index in indices where failures[index] == nil {
            for mailbox in messages[index].mailboxes where outcomes[mailbox.new] == nil {
                do throws(MaildirError) {
                    try FileOps.syncDirectory(mailbox.new)
                    outcomes[mailbox.new] = .some(nil)
                } catch {
                    outcomes[mailbox.new] = .some(error)
                }
            }
            if let failure = messages[index].mailboxes.lazy.compactMap({ outcomes[$0.new] ?? nil }).first {
                takeBack(index, failure)
            }
        }
    }

    /// Its directory entry may not be on disk: not acknowledged, so it must not stay visible either.
    private mutating func takeBack(_ index: Int, _ error: MaildirError) {
        messages[index].unpublish(published[index])
        failures[index] = error
    }
}
