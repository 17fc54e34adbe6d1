#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// Writes all of `bytes` to `fd`. `write` may write less than asked (or be interrupted by a signal), so it is
    /// called until everything is written; `path` only names the file in errors.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path)
            }
            offset += written
        }
    }
}
