#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin wrappers over the POSIX calls that durable delivery needs, throwing `MaildirError`.
enum FileOps {
    static func makeDirectories(_ path: String) throws(MaildirError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix, syncParent: true)
        }
    }

    /// `mkdir` that tolerates an existing directory and fsyncs the parent when it created one.
    static func makeDirectory(_ path: String, syncParent: Bool) throws(MaildirError) {
        if mkdir(path, 0o700) == 0 {
            if syncParent { try syncDirectory(parent(of: path)) }
            return
        }
        let code = errno
        var info = stat()
        guard code == EEXIST, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw MaildirError(operation: "mkdir", path: path, code: code)
        }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func syncDirectory(_ path: String) throws(MaildirError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MaildirError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw MaildirError(operation: "fsync", path: path, code: errno) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(MaildirError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw MaildirError(operation: "write", path: path, code: errno)
            }
            offset += written
        }
    }
}
