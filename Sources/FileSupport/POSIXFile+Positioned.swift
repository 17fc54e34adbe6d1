#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// Writes all of `bytes` at `offset` (`pwrite`, repeated until done), leaving the file offset alone.
    public static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String
    ) throws(FileError) {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path)
            }
            done += written
        }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    public static func readBytes(_ fd: Int32, count: Int, at offset: Int, path: String) throws(FileError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path)
            }
            if got == 0 { break }
            done += got
        }
        bytes.removeLast(count - done)
        return bytes
    }

    /// `fdatasync`: the file's data (and the metadata needed to read it back) are on disk.
    public static func syncData(_ fd: Int32, path: String) throws(FileError) {
        #if os(Linux)
            guard fdatasync(fd) == 0 else { throw FileError(operation: "fdatasync", path: path) }
        #else
            guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: path) }
        #endif
    }
}

extension POSIXFile {
    /// `writeAll(_:_:at:path:)` for an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(FileError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(FileError) in try writeAll(fd, raw, at: offset, path: path) }
        }
        try result.get()
    }
}

extension POSIXFile {
    /// `syncData` for the file at `path`, opened read-only for the call: the data written through another
    /// descriptor, now closed, is made durable.
    public static func syncData(atPath path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path) }
        defer { close(fd) }
        try syncData(fd, path: path)
    }
}
