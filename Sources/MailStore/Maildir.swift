#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One Maildir mailbox: a directory holding `tmp`, `new` and `cur`, laid out as Dovecot, Courier and mutt read it.
public struct Maildir: Sendable, Hashable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var tmp: String { path + "/tmp" }
    public var new: String { path + "/new" }
    public var cur: String { path + "/cur" }

    /// Creates the mailbox and any missing parent directories, fsyncing each parent that gained an entry, so that
    /// a message renamed into `new` cannot be lost with its directory after a crash.
    public func create() throws(MaildirError) {
        try FileOps.makeDirectories(path)
        for sub in [tmp, new, cur] { try FileOps.makeDirectory(sub, syncParent: true) }
    }
}

/// A failed file-system operation, with what was being done and where.
public struct MaildirError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let code: Int32

    /// The disk or the quota is full: the message may be accepted later.
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

extension Maildir {
    /// Creates `path` itself (not `tmp`/`new`/`cur`): the root under which mailboxes are made.
    public func createRoot() throws(MaildirError) {
        try FileOps.makeDirectories(path)
    }
}
