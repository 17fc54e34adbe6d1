#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// The whole file at `path`.
    ///
    /// Reading stops with a `FileError` whose code is `EFBIG` as soon as the file proves longer than
    /// `maximumSize`, so that a wrong path (a log, `/dev/zero`) is not read into memory; callers choose the limit.
    /// A missing file fails `open` with `ENOENT`.
    public static func contents(of path: String, maximumSize: Int = .max) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                // A signal before any byte arrived is not a failure of the file.
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path)
            }
            if count == 0 { return contents }
            contents += chunk[..<count]
            if contents.count > maximumSize { throw FileError(operation: "read", path: path, code: EFBIG) }
        }
    }
}
