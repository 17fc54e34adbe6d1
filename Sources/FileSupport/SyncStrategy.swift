import CFileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a batch of files and directory entries on one file system is made durable.
///
/// `syncfs(2)` makes a whole file system durable in one call, but only where the file system implements it as a
/// barrier. FUSE file systems (gocryptfs, mergerfs, sshfs, rclone, s3fs) never hear of a `syncfs`, yet the call
/// returns success; network and stacked file systems give no such promise either. So `syncfs` is used only on the
/// local file systems known to honour it, and everywhere else each file is fdatasynced and each directory that
/// gained an entry is fsynced, which every POSIX file system that honours `fsync` makes durable.
public enum SyncStrategy: Sendable, Hashable, CustomStringConvertible {
    /// One `syncfs` covers every file and directory of the file system.
    case syncFileSystem
    /// `fdatasync` each file, then `fsync` each directory it was created or renamed in.
    case syncEachFile

    /// The strategy for a file system of `type` (`statfs`'s `f_type`). `syncfsReportsErrors` is false where the
    /// kernel's `syncfs` does not return writeback errors (Linux before 5.8): a barrier that cannot fail is no
    /// barrier.
    public static func forFileSystem(
        _ type: FileSystemType, syncfsReportsErrors: Bool = POSIXFile.canSyncFileSystem
    ) -> SyncStrategy {
        syncfsReportsErrors && type.syncfsIsABarrier ? .syncFileSystem : .syncEachFile
    }

    public var description: String {
        switch self {
        case .syncFileSystem: "one syncfs per batch"
        case .syncEachFile: "fdatasync of each file and fsync of each directory"
        }
    }
}

/// A file system's kind, as `statfs(2)` reports it in `f_type` (Linux's magic numbers).
public struct FileSystemType: Sendable, Hashable, CustomStringConvertible {
    /// The `f_type` value.
    public let magic: UInt64

    public init(magic: UInt64) {
        self.magic = magic
    }

    /// ext2, ext3 and ext4 share one magic number.
    public static let ext4 = FileSystemType(magic: 0xEF53)
    public static let xfs = FileSystemType(magic: 0x5846_5342)
    public static let btrfs = FileSystemType(magic: 0x9123_683E)
    public static let f2fs = FileSystemType(magic: 0xF2F5_2010)
    /// Nothing on it survives a power cut whatever is called; `syncfs` is the cheapest no-op.
    public static let tmpfs = FileSystemType(magic: 0x0102_1994)
    public static let fuse = FileSystemType(magic: 0x6573_5546)
    public static let nfs = FileSystemType(magic: 0x6969)
    public static let overlayfs = FileSystemType(magic: 0x794C_7630)

    private static let names: [UInt64: String] = [
        ext4.magic: "ext2/3/4", xfs.magic: "xfs", btrfs.magic: "btrfs", f2fs.magic: "f2fs", tmpfs.magic: "tmpfs",
        fuse.magic: "fuse", nfs.magic: "nfs", overlayfs.magic: "overlayfs",
    ]

    /// Local file systems whose `syncfs` writes and waits for every dirty file, directory and the journal
    /// commit that makes them durable. Only these are trusted with a batch; the list is short on purpose, since
    /// a file system missing from it costs speed, while one wrongly in it costs acknowledged mail.
    public var syncfsIsABarrier: Bool {
        [Self.ext4, .xfs, .btrfs, .f2fs, .tmpfs].contains(self)
    }

    /// A name for logs: the file system's name where known, else its magic number in hex.
    public var description: String {
        let hex = "0x" + String(magic, radix: 16)
        guard let name = Self.names[magic] else { return hex }
        return "\(name) (\(hex))"
    }

    /// The type of the file system holding `path`.
    public static func of(_ path: String) throws(FileError) -> FileSystemType {
        var magic: UInt64 = 0
        guard swallow_statfs_type(path, &magic) == 0 else { throw FileError(operation: "statfs", path: path) }
        return FileSystemType(magic: magic)
    }
}
