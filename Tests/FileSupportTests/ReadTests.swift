import FileSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Reading a whole file")
struct ReadTests {
    let directory = TemporaryDirectory()

    @Test("the bytes of a file larger than one read")
    func wholeFile() throws {
        let path = directory("big")
        let text = String(repeating: "0123456789abcdef", count: 10_000)
        try write(text, to: path)
        #expect(try POSIXFile.contents(of: path) == Array(text.utf8))
    }

    @Test("an empty file is no bytes")
    func empty() throws {
        try write("", to: directory("empty"))
        #expect(try POSIXFile.contents(of: directory("empty")) == [])
    }

    @Test("a missing file fails open with ENOENT, naming the path")
    func missing() throws {
        let path = directory("missing")
        let error = try #require(throws: FileError.self) { try POSIXFile.contents(of: path) }
        #expect(error.operation == "open")
        #expect(error.path == path)
        #expect(error.code == ENOENT)
        #expect(error.description.hasPrefix("open \(path): "))
    }

    @Test("a directory fails read, naming the path")
    func readingADirectory() throws {
        let error = try #require(throws: FileError.self) { try POSIXFile.contents(of: directory.path) }
        #expect(error.path == directory.path)
        #expect(error.code == EISDIR)
    }

    @Test("a file longer than the limit is EFBIG; one exactly at the limit is read")
    func limit() throws {
        let path = directory("file")
        try write("12345", to: path)
        #expect(try POSIXFile.contents(of: path, maximumSize: 5) == Array("12345".utf8))
        let error = try #require(throws: FileError.self) { try POSIXFile.contents(of: path, maximumSize: 4) }
        #expect(error.code == EFBIG)
        #expect(error.path == path)
    }
}
