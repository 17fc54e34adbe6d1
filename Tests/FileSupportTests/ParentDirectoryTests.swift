import FileSupport
import Testing

@Suite("Parent directory")
struct ParentDirectoryTests {
    @Test(
        "the directory whose entry names the path",
        arguments: [
            ("/etc/swallow/users", "/etc/swallow"), ("/users", "/"), ("data/tls/key.pem", "data/tls"),
            ("users", "."), ("./users", "."),
        ])
    func parent(path: String, expected: String) {
        #expect(POSIXFile.parentDirectory(of: path) == expected)
    }
}
