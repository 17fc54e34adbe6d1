import CFileSupport

extension POSIXFile {
    /// Starts writing `fd`'s dirty pages to disk without waiting. A hint: a later `fsync` still decides durability,
    /// but when many files are started first, their fsyncs share one journal commit instead of one each.
    public static func startWriteback(_ fd: Int32) {
        _ = swallow_start_writeback(fd)
    }
}
