#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// Replaces (or creates) `path` with `bytes` so that a reader sees the old file or the new one, never a part,
    /// and a crash leaves one of the two on disk.
    ///
    /// The bytes go to a temporary file in the same directory (a rename cannot cross file systems), which gets
    /// exactly `mode`, is fsynced, and is renamed over `path`; then the directory is fsynced, because the rename
    /// lasts only once the directory entry is on disk. On failure the temporary file is removed and `path` is
    /// untouched (unless only the final directory fsync failed: then the new file is in place but may not
    /// survive a crash).
    ///
    /// - Parameter preparing: called with the temporary file's descriptor after its mode is set and before
    ///   anything is written, for a caller's own policy (SMTPAuth keeps the old file's owner).
    public static func replace(
        _ path: String, with bytes: [UInt8], mode: mode_t, preparing: (_ fd: Int32) -> Void = { _ in }
    ) throws(FileError) {
        let directory = parentDirectory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let pattern = "\(directory)/.\(name).XXXXXX"
        var template = Array(pattern.utf8CString)
        // mkstemp picks a name nobody else holds and creates the file 0600, so nothing is readable before fchmod.
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        // On failure the template holds whichever name was tried last; the pattern says what was meant.
        guard fd >= 0 else { throw FileError(operation: "create", path: pattern) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            // Explicit, because a mode given to open or mkdir is filtered through the umask, and the mode is
            // often the point (a private key must end up exactly 0600).
            guard fchmod(fd, mode) == 0 else { throw FileError(operation: "chmod", path: temporary) }
            preparing(fd)
            // Array.withUnsafeBytes rethrows as `any Error`; the Result carries the FileError through it.
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(FileError) in try writeAll(fd, buffer, path: temporary) }
            }.get()
            guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: temporary) }
        }
        guard rename(temporary, path) == 0 else { throw FileError(operation: "rename", path: path) }
        renamed = true
        try syncDirectory(directory)
    }
}
