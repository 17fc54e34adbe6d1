import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a journal checkpoint makes durable before it lets the journal forget messages: the Maildir files that
/// were renamed into `new` without a sync of their own, by the `SyncStrategy` of their file system.
struct JournalSyncs {
    /// A directory on each file system where one `syncfs` covers every file and directory entry.
    var fileSystems: [UInt64: String] = [:]
    /// The published files (in `new`) on other file systems: each is fdatasynced, then its directory is fsynced.
    var files: [String] = []

    mutating func merge(_ other: JournalSyncs) {
        fileSystems.merge(other.fileSystems) { first, _ in first }
        files += other.files
    }

    /// Makes everything durable; what was removed meanwhile (with its mailbox, or by its reader) needs nothing.
    func run() throws(FileError) {
        for directory in fileSystems.values {
            try ignoringRemoved { () throws(FileError) in try POSIXFile.syncFileSystem(holding: directory) }
        }
        var mailboxes: Set<String> = []
        var curListings: [String: [String: String]] = [:]
        for path in files {
            let mailbox = Maildir(path: POSIXFile.parentDirectory(of: POSIXFile.parentDirectory(of: path)))
            mailboxes.insert(mailbox.path)
            do throws(FileError) { try POSIXFile.syncData(atPath: path) } catch {
                guard error.code == ENOENT else { throw error }
                // A reader may already have moved it to `cur` (as `<name>:2,<flags>`); its data must last there.
                if curListings[mailbox.path] == nil { curListings[mailbox.path] = mailbox.curFilesByName() }
                let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
                guard let moved = curListings[mailbox.path]?[name] else { continue }
                try ignoringRemoved { () throws(FileError) in try POSIXFile.syncData(atPath: mailbox.cur + "/" + moved)
                }
            }
        }
        // `new` before `cur`: a message a reader moves between the two syncs is durable in one or the other.
        for path in mailboxes.sorted() {
            let mailbox = Maildir(path: path)
            try ignoringRemoved { () throws(FileError) in try POSIXFile.syncDirectory(mailbox.new) }
            try ignoringRemoved { () throws(FileError) in try POSIXFile.syncDirectory(mailbox.cur) }
        }
    }

    private func ignoringRemoved(_ body: () throws(FileError) -> Void) throws(FileError) {
        do throws(FileError) { try body() } catch {
            if error.code != ENOENT { throw error }
        }
    }
}
