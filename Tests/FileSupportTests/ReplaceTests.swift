import FileSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Atomic replacement")
struct ReplaceTests {
    let directory = TemporaryDirectory()

    @Test("creates the file, and replaces it, leaving no temporary file behind")
    func createsAndReplaces() throws {
        let path = directory("users")
        try POSIXFile.replace(path, with: Array("first\n".utf8), mode: 0o600)
        #expect(try read(path) == "first\n")
        try POSIXFile.replace(path, with: Array("second\n".utf8), mode: 0o600)
        #expect(try read(path) == "second\n")
        try POSIXFile.replace(path, with: [], mode: 0o600)
        #expect(try read(path) == "")
        #expect(try entries(directory.path) == ["users"])
    }

    /// The umask is the process's, so it is set to one that takes away only group and other bits: concurrent
    /// tests in this process create files for their owner and are not affected.
    @Test("the mode is exactly the one asked for, whatever the umask and the old file's mode")
    func exactMode() throws {
        let path = directory("cert.pem")
        let previous = umask(0o077)
        defer { umask(previous) }
        try POSIXFile.replace(path, with: Array("certificate".utf8), mode: 0o644)
        #expect(try permissions(path) == 0o644)
        chmod(path, 0o666)
        try POSIXFile.replace(path, with: Array("key".utf8), mode: 0o600)
        #expect(try permissions(path) == 0o600)
    }

    @Test("preparing sees the temporary file before anything is written to it")
    func preparing() throws {
        let path = directory("users")
        var sizes: [Int] = []
        try POSIXFile.replace(path, with: Array("data".utf8), mode: 0o600) { fd in
            var info = stat()
            fstat(fd, &info)
            sizes.append(Int(info.st_size))
        }
        #expect(sizes == [0])
        #expect(try read(path) == "data")
    }

    @Test("a missing directory is an error naming it, and nothing is created")
    func missingDirectory() throws {
        let path = directory("no/such/users")
        let error = try #require(throws: FileError.self) {
            try POSIXFile.replace(path, with: Array("x".utf8), mode: 0o600)
        }
        #expect(error.operation == "create")
        #expect(error.path.hasPrefix(directory("no/such/.users.")))
        #expect(error.code == ENOENT)
        #expect(try entries(directory.path).isEmpty)
    }

    @Test("a failed rename leaves the target as it was and removes the temporary file")
    func failedRename() throws {
        // A non-empty directory cannot be renamed over, so the last step fails after the file was written.
        let path = directory("occupied")
        try POSIXFile.makeDirectory(path, mode: 0o700)
        try write("kept", to: path + "/inside")
        let error = try #require(throws: FileError.self) {
            try POSIXFile.replace(path, with: Array("x".utf8), mode: 0o600)
        }
        #expect(error.operation == "rename")
        #expect(error.path == path)
        #expect(try entries(directory.path) == ["occupied"])
        #expect(try read(path + "/inside") == "kept")
    }
}
