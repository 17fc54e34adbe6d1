import CFileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// Whether `syncFileSystem` is available and reports write errors: Linux's `syncfs` returns the errors of the
    /// writeback it waited for only since Linux 5.8; before, it always returned 0, which durability cannot rely on.
    public static let canSyncFileSystem: Bool = {
        #if os(Linux)
            var name = utsname()
            guard uname(&name) == 0 else { return false }
            let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
            guard parts.count == 2 else { return false }
            return (parts[0], parts[1]) >= (5, 8)
        #else
            return false
        #endif
    }()

    /// Makes every file and directory of the file system holding `fd` durable, in one call. `path` names the file
    /// system in errors.
    public static func syncFileSystem(_ fd: Int32, path: String) throws(FileError) {
        guard swallow_syncfs(fd) == 0 else { throw FileError(operation: "syncfs", path: path) }
    }

    /// The device holding `fd`'s file: files on the same device are made durable by one `syncFileSystem`.
    public static func device(of fd: Int32, path: String) throws(FileError) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(operation: "fstat", path: path) }
        return UInt64(info.st_dev)
    }
}

extension POSIXFile {
    /// `syncFileSystem` for the file system holding the directory at `path`.
    public static func syncFileSystem(holding path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path) }
        defer { close(fd) }
        try syncFileSystem(fd, path: path)
    }
}
