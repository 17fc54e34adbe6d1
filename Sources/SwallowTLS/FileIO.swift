#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few file operations SwallowTLS needs, in POSIX terms: the modes of key files and atomic replacement matter
/// here, and these calls say exactly what happens (no umask surprises, fsync before rename).
enum FileIO {
    /// Certificate chains and keys are a few KiB; refusing larger files keeps a wrong path (a log, `/dev/zero`)
    /// from being read into memory.
    static let maximumSize = 1 << 20

    /// The whole file, or an error naming it.
    static func readFile(_ path: String) throws(TLSSetupError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSSetupError(file: path, reason: .unreadable, message: "cannot open: \(errorText())")
        }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TLSSetupError(file: path, reason: .unreadable, message: "cannot read: \(errorText())")
            }
            if count == 0 { return contents }
            contents += chunk[0..<count]
            if contents.count > maximumSize {
                throw TLSSetupError(
                    file: path, reason: .unreadable,
                    message: "larger than \(maximumSize) bytes; not a certificate or key")
            }
        }
    }

    /// Whether `path` names an existing file (of any kind).
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Replaces `path` with `contents` so that readers see the old file or the new one, never a part:
    /// written to a temporary file in the same directory, fsynced, renamed over `path`, directory fsynced.
    static func writeAtomically(_ path: String, contents: String, mode: mode_t) throws(TLSSetupError) {
        let directory = parentDirectory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw unwritable(temporary, "cannot create") }
        var failure: TLSSetupError?
        // fchmod because open's mode is filtered through the umask, and a key must end up exactly 0600.
        if fchmod(fd, mode) != 0 {
            failure = unwritable(temporary, "cannot set mode")
        } else if !writeAll(fd, Array(contents.utf8)) {
            failure = unwritable(temporary, "cannot write")
        } else if fsync(fd) != 0 {
            failure = unwritable(temporary, "cannot sync")
        }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = unwritable(path, "cannot replace")
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        // The rename is durable only once the directory entry is on disk.
        let directoryFD = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Creates `path` and any missing parents with `mode`; existing directories are left as they are.
    static func makeDirectory(_ path: String, mode: mode_t) throws(TLSSetupError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw unwritable(prefix, "cannot create directory")
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw TLSSetupError(file: path, reason: .unwritable, message: "not a directory")
        }
    }

    private static func writeAll(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    private static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func unwritable(_ path: String, _ what: String) -> TLSSetupError {
        TLSSetupError(file: path, reason: .unwritable, message: "\(what): \(errorText())")
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
