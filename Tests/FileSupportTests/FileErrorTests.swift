import FileSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("FileError")
struct FileErrorTests {
    @Test("the description is the operation, the path and the system's explanation")
    func description() {
        let error = FileError(operation: "rename", path: "/srv/mail/users", code: EACCES)
        #expect(error.systemMessage == String(cString: strerror(EACCES)))
        #expect(error.description == "rename /srv/mail/users: \(String(cString: strerror(EACCES)))")
    }

    @Test("a full disk or quota is out of space; other failures are not")
    func outOfSpace() {
        #expect(FileError(operation: "write", path: "f", code: ENOSPC).isOutOfSpace)
        #expect(FileError(operation: "write", path: "f", code: EDQUOT).isOutOfSpace)
        #expect(!FileError(operation: "write", path: "f", code: EIO).isOutOfSpace)
    }

    @Test("the code defaults to errno at the moment of the call")
    func capturesErrno() {
        errno = ENOTDIR
        #expect(FileError(operation: "open", path: "f").code == ENOTDIR)
    }
}
