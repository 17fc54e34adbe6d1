#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The POSIX calls the users file needs: whole-file reads, atomic replacement and a lock for editors.
/// Errors are `UsersFileError`s naming `file`, the users file, whichever path failed.
struct FileSystem {
    let file: String

    func error(_ operation: String, _ code: Int32) -> UsersFileError {
        UsersFileError(file: file, message: "\(operation): \(String(cString: strerror(code)))")
    }

    /// The directory holding `file`, whose entry a rename changes.
    var directory: String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// The file's bytes, or nil when it does not exist.
    func readContents() throws(UsersFileError) -> [UInt8]? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw error("open", errno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error("read", errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Runs `body` holding an exclusive `flock` on the directory, so that two editors (two runs of the command
    /// line, or two tasks) do not both read the old file and lose one another's change. The lock is on the
    /// directory because the file itself is replaced by every write. `body` gets the directory's descriptor.
    func withDirectoryLock<Result>(_ body: (Int32) throws(UsersFileError) -> Result) throws(UsersFileError) -> Result {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("open \(directory)", errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw error("flock \(directory)", errno) }
        }
        return try body(fd)
    }

    /// Replaces the file with `bytes` so that a reader sees the old file or the new one, never a mix, and a
    /// crash leaves one of the two on disk: a temporary file in the same directory (a rename cannot cross file
    /// systems), mode 0600, fsynced, renamed over the file, then the directory fsynced to make the rename last.
    func replace(with bytes: [UInt8], directoryFD: Int32) throws(UsersFileError) {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        var template = Array("\(directory)/.\(name).XXXXXX".utf8CString)
        // mkstemp creates the file with mode 0600 and a name nobody else holds.
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw error("create temporary file in \(directory)", errno) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            // Explicit, because the mode is the whole point: the keys let anyone who reads them impersonate
            // the server to SCRAM clients and try passwords offline.
            guard fchmod(fd, 0o600) == 0 else { throw error("chmod \(temporary)", errno) }
            keepOwner(of: fd)
            try writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw error("fsync \(temporary)", errno) }
        }
        guard rename(temporary, file) == 0 else { throw error("rename \(temporary)", errno) }
        renamed = true
        guard fsync(directoryFD) == 0 else { throw error("fsync \(directory)", errno) }
    }

    /// When root edits a file the daemon owns, the new file should stay the daemon's, or it could no longer
    /// read its users. Other users cannot give files away, and then the new file is simply theirs.
    private func keepOwner(of fd: Int32) {
        var info = stat()
        guard stat(file, &info) == 0, info.st_uid != geteuid() || info.st_gid != getegid() else { return }
        _ = fchown(fd, info.st_uid, info.st_gid)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(UsersFileError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw error("write \(path)", errno)
            }
            offset += written
        }
    }
}
