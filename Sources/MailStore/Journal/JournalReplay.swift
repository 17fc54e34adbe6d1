import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Delivers, at start, the journal's messages that came after the last checkpoint: their Maildir files may have
/// been lost with the page cache. Delivery is idempotent: each message keeps the name it was given when accepted,
/// and its file is rewritten in place, in `new` or, if a mail reader has moved it, in `cur` (`<name>:2,<flags>`),
/// so a message already on disk is not doubled.
struct JournalReplay {
    private var curListings: [String: [String: String]] = [:]
    private var touchedDirectories: Set<String> = []
    private(set) var delivered = 0

    /// Writes `record` into each of its Maildirs, fsyncing each file before it replaces any existing one.
    mutating func deliver(_ record: JournalRecord) throws(MaildirError) {
        for path in record.mailboxes {
            let mailbox = Maildir(path: path)
            try mailbox.create()
            let target = try target(for: record.name, in: mailbox)
            let temporary = mailbox.tmp + "/" + record.name
            try write(record.content, to: temporary)
            guard rename(temporary, target) == 0 else {
                let error = MaildirError(operation: "rename", path: target, code: errno)
                unlink(temporary)
                throw error
            }
            touchedDirectories.insert(POSIXFile.parentDirectory(of: target))
            delivered += 1
        }
    }

    /// Makes every directory entry written by `deliver` durable.
    func finish() throws(MaildirError) {
        for directory in touchedDirectories.sorted() { try FileOps.syncDirectory(directory) }
    }

    private mutating func target(for name: String, in mailbox: Maildir) throws(MaildirError) -> String {
        let inNew = mailbox.new + "/" + name
        if access(inNew, F_OK) == 0 { return inNew }
        if curListings[mailbox.path] == nil { curListings[mailbox.path] = mailbox.curFilesByName() }
        if let moved = curListings[mailbox.path]?[name] { return mailbox.cur + "/" + moved }
        return inNew
    }

    private func write(_ content: [UInt8], to path: String) throws(MaildirError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MaildirError(operation: "create", path: path, code: errno) }
        defer { close(fd) }
        do throws(MaildirError) {
            let written = content.withUnsafeBytes { bytes in
                Result { () throws(MaildirError) in try FileOps.writeAll(fd, bytes, path: path) }
            }
            try written.get()
            guard fsync(fd) == 0 else { throw MaildirError(operation: "fsync", path: path, code: errno) }
        } catch {
            unlink(path)
            throw error
        }
    }
}
