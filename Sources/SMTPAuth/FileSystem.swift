import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The users file's file operations: whole-file reads and atomic replacement (the shared POSIX primitives, with
/// the users file's mode and owner), and a lock for editors. Errors are `UsersFileError`s naming `file`, the
/// users file, whichever path failed.
struct FileSystem {
    let file: String

    /// The keys in the file let anyone who reads them impersonate the server to SCRAM clients and try passwords
    /// offline.
    static let mode: mode_t = 0o600

    /// A failed call as the users file reports it: the path after the operation unless it is the users file itself,
    /// which the error already names (`users: rename: …`, `users: fsync /etc/swallow: …`).
    func error(_ failure: FileError) -> UsersFileError {
        let operation = failure.path == file ? failure.operation : "\(failure.operation) \(failure.path)"
        return UsersFileError(file: file, message: "\(operation): \(failure.systemMessage)")
    }

    /// The directory holding `file`, whose entry a rename changes.
    var directory: String { POSIXFile.parentDirectory(of: file) }

    /// The file's bytes, or nil when it does not exist.
    func readContents() throws(UsersFileError) -> [UInt8]? {
        do throws(FileError) {
            return try POSIXFile.contents(of: file)
        } catch {
            if error.code == ENOENT { return nil }
            throw self.error(error)
        }
    }

    /// Runs `body` holding an exclusive `flock` on the directory, so that two editors (two runs of the command
    /// line, or two tasks) do not both read the old file and lose one another's change. The lock is on the
    /// directory because the file itself is replaced by every write. `body` gets the directory's descriptor.
    func withDirectoryLock<Result>(_ body: (Int32) throws(UsersFileError) -> Result) throws(UsersFileError) -> Result {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(FileError(operation: "open", path: directory)) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw error(FileError(operation: "flock", path: directory)) }
        }
        return try body(fd)
    }

    /// Replaces the file with `bytes` so that a reader sees the old file or the new one, never a mix, and a
    /// crash leaves one of the two on disk (`POSIXFile.replace`), with mode 0600 and the old file's owner.
    ///
    /// `directoryFD` is the descriptor `withDirectoryLock` passes to its body: asking for it means a replacement
    /// can only be written inside the lock. The directory is fsynced through its path; a second descriptor does
    /// not disturb the `flock`, which belongs to the lock's own open file.
    func replace(with bytes: [UInt8], directoryFD: Int32) throws(UsersFileError) {
        do throws(FileError) {
            try POSIXFile.replace(file, with: bytes, mode: Self.mode, preparing: keepOwner(of:))
        } catch {
            throw self.error(error)
        }
    }

    /// When root edits a file the daemon owns, the new file should stay the daemon's, or it could no longer
    /// read its users. Other users cannot give files away, and then the new file is simply theirs.
    private func keepOwner(of fd: Int32) {
        var info = stat()
        guard stat(file, &info) == 0, info.st_uid != geteuid() || info.st_gid != getegid() else { return }
        _ = fchown(fd, info.st_uid, info.st_gid)
    }
}
