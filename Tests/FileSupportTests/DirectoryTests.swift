import FileSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Directories")
struct DirectoryTests {
    let directory = TemporaryDirectory()

    @Test("mkdir -p creates every missing level with the mode, and accepts what exists")
    func makeDirectories() throws {
        let path = directory("a/b/c")
        try POSIXFile.makeDirectories(path, mode: 0o700)
        for level in [directory("a"), directory("a/b"), path] {
            #expect(isDirectory(level))
            #expect(try permissions(level) == 0o700)
        }
        try POSIXFile.makeDirectories(path, mode: 0o700)
        try POSIXFile.makeDirectories(directory("a/b/d"), mode: 0o700)
        #expect(try entries(directory("a/b")) == ["c", "d"])
    }

    @Test("a file in the way is an error naming it")
    func fileInTheWay() throws {
        let file = directory("mail")
        try write("not a directory", to: file)
        let error = try #require(throws: FileError.self) { try POSIXFile.makeDirectories(file, mode: 0o700) }
        #expect(error.operation == "mkdir")
        #expect(error.path == file)
        #expect(error.code == EEXIST)
        #expect(error.description.hasPrefix("mkdir \(file): "))

        // Below it, the error names the file in the way rather than the directory that was asked for.
        let below = try #require(throws: FileError.self) {
            try POSIXFile.makeDirectories(file + "/new", mode: 0o700)
        }
        #expect(below.path == file)
        #expect(below.code == EEXIST)
    }

    @Test("fsync of a directory, and of something that is not one")
    func syncDirectory() throws {
        try POSIXFile.syncDirectory(directory.path)
        try write("x", to: directory("file"))
        let error = try #require(throws: FileError.self) { try POSIXFile.syncDirectory(directory("file")) }
        #expect(error.operation == "open")
        #expect(error.path == directory("file"))
        #expect(error.code == ENOTDIR)
    }
}
