import FileSupport

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
        for sub in [tmp, new, cur] { try FileOps.makeDirectory(sub) }
    }
}

/// A failed file-system operation, with what was being done and where.
public struct MaildirError: Error, CustomStringConvertible, Sendable {
    /// The failure itself; MailStore reports exactly what the file system said, under its own type so that callers
    /// need not know where the file calls come from.
    private let failure: FileError

    /// The call that failed: `mkdir`, `write`, `fsync`, `rename`, …
    public var operation: String { failure.operation }
    /// The file or directory it failed on.
    public var path: String { failure.path }
    /// The `errno` value.
    public var code: Int32 { failure.code }

    init(operation: String, path: String, code: Int32) {
        failure = FileError(operation: operation, path: path, code: code)
    }

    init(_ failure: FileError) {
        self.failure = failure
    }

    /// The disk or the quota is full: the message may be accepted later.
    public var isOutOfSpace: Bool { failure.isOutOfSpace }

    public var description: String { failure.description }
}

extension Maildir {
    /// Creates `path` itself (not `tmp`/`new`/`cur`): the root under which mailboxes are made.
    public func createRoot() throws(MaildirError) {
        try FileOps.makeDirectories(path)
    }
}

extension Maildir {
    /// The files in `cur` by their name without the `:2,<flags>` info suffix: where a reader has moved a message
    /// that was delivered to `new` under that name.
    func curFilesByName() -> [String: String] {
        var names: [String: String] = [:]
        for file in POSIXFile.entries(of: cur) {
            let base = file.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
            names[String(base)] = file
        }
        return names
    }
}
