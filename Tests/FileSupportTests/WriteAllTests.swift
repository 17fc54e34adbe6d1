import FileSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Writing all bytes")
struct WriteAllTests {
    let directory = TemporaryDirectory()

    @Test("every byte reaches the file")
    func writesEverything() throws {
        let path = directory("file")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let bytes = Array(String(repeating: "line\r\n", count: 50_000).utf8)
        try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        close(fd)
        #expect(try POSIXFile.contents(of: path) == bytes)
    }

    @Test("a failed write names the path it was given")
    func failureNamesThePath() throws {
        let path = directory("file")
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        let error = try #require(throws: FileError.self) {
            try [UInt8(1)].withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        }
        #expect(error.operation == "write")
        #expect(error.path == path)
        #expect(error.code == EBADF)
    }
}
