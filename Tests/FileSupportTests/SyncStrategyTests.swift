import TestSupport
import FileSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Sync strategy")
struct SyncStrategyTests {
    let directory = TemporaryDirectory()

    @Test(
        "syncfs only where it is known to be a barrier and reports errors",
        arguments: [
            (FileSystemType.ext4, true, SyncStrategy.syncFileSystem),
            (.xfs, true, .syncFileSystem),
            (.btrfs, true, .syncFileSystem),
            (.f2fs, true, .syncFileSystem),
            (.tmpfs, true, .syncFileSystem),
            // FUSE never hears of a syncfs; NFS and stacked file systems promise nothing for one.
            (.fuse, true, .syncEachFile),
            (.nfs, true, .syncEachFile),
            (.overlayfs, true, .syncEachFile),
            (FileSystemType(magic: 0x1234_5678), true, .syncEachFile),
            // A kernel whose syncfs returns no writeback errors (Linux before 5.8) gets no batch anywhere.
            (.ext4, false, .syncEachFile),
            (.xfs, false, .syncEachFile),
        ])
    func choice(type: FileSystemType, reportsErrors: Bool, expected: SyncStrategy) {
        #expect(SyncStrategy.forFileSystem(type, syncfsReportsErrors: reportsErrors) == expected)
    }

    @Test("a file system is named in logs by name and magic number, or by number alone")
    func names() {
        #expect(FileSystemType.ext4.description == "ext2/3/4 (0xef53)")
        #expect(FileSystemType.fuse.description == "fuse (0x65735546)")
        #expect(FileSystemType(magic: 0xABCD).description == "0xabcd")
        #expect(SyncStrategy.syncFileSystem.description == "one syncfs per batch")
    }

    @Test("statfs reads the type of a directory's file system; a missing one is an error naming it")
    func statfsOfAPath() throws {
        let type = try FileSystemType.of(directory.path)
        #expect(type.magic != 0)
        let missing = directory("missing")
        let error = #expect(throws: FileError.self) { try FileSystemType.of(missing) }
        #expect(error?.operation == "statfs")
        #expect(error?.path == missing)
        #expect(error?.code == ENOENT)
    }

    @Test("fdatasync by path syncs a closed file and names a missing one")
    func syncDataAtPath() throws {
        let path = directory("file")
        try write("data", to: path)
        try POSIXFile.syncData(atPath: path)
        let error = try #require(throws: FileError.self) { try POSIXFile.syncData(atPath: directory("gone")) }
        #expect(error.code == ENOENT)
        #expect(error.path == directory("gone"))
    }
}
