import TestSupport
import Testing

@testable import SMTPAuth

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct UsersFileTests {
    let directory = makeTemporaryDirectory()
    var path: String { directory + "/users" }
    var file: UsersFile { UsersFile(path: path) }

    static let alice = SCRAMCredential.derive(password: "secret", iterations: testIterations)
    static let bob = SCRAMCredential.derive(password: "hunter2", iterations: testIterations)

    @Test func missingFileHasNoUsers() throws {
        #expect(try file.load().isEmpty)
        #expect(try file.users().isEmpty)
        #expect(listDirectory(directory).isEmpty)
    }

    @Test func setAddsUsersWithMode0600AndNoTemporaryFilesLeft() throws {
        try file.set("alice@example.test", credential: Self.alice)
        try file.set("bob@example.test", credential: Self.bob)
        #expect(try file.load() == ["alice@example.test": Self.alice, "bob@example.test": Self.bob])
        #expect(
            readText(path)
                == "alice@example.test:\(Self.alice.encoded)\nbob@example.test:\(Self.bob.encoded)\n")
        #expect(fileMode(path) == 0o600)
        #expect(listDirectory(directory) == ["users"])
    }

    @Test func setReplacesInPlaceKeepingCommentsAndOtherLines() throws {
        let original = """
            # Swallow users

            alice@example.test:\(Self.alice.encoded)
              # indented comment
            bob@example.test : \(Self.bob.encoded)

            """
        writeFile(path, bytes(original))
        try file.set("ALICE@example.test", credential: Self.bob)
        #expect(
            readText(path)
                == original.replacing(
                    "alice@example.test:\(Self.alice.encoded)", with: "alice@example.test:\(Self.bob.encoded)"))
        #expect(try file.load()["alice@example.test"] == Self.bob)
        #expect(try file.users() == ["alice@example.test", "bob@example.test"])
        #expect(listDirectory(directory) == ["users"])
    }

    @Test func addressesAreStoredLowercased() throws {
        try file.set("Carol@Example.TEST", credential: Self.alice)
        #expect(try file.users() == ["carol@example.test"])
        #expect(readText(path)?.hasPrefix("carol@example.test:") == true)
    }

    @Test func removeReportsWhetherTheUserWasThere() throws {
        try file.set("alice@example.test", credential: Self.alice)
        try file.set("bob@example.test", credential: Self.bob)
        #expect(try file.remove("Alice@Example.test"))
        #expect(try file.users() == ["bob@example.test"])
        let before = readText(path)
        #expect(try !file.remove("alice@example.test"))
        #expect(readText(path) == before)
        #expect(try file.remove("bob@example.test"))
        #expect(readText(path) == "")
        #expect(try !UsersFile(path: directory + "/absent").remove("bob@example.test"))
        #expect(listDirectory(directory) == ["users"])
    }

    @Test func usersAreSorted() throws {
        for name in ["zed@example.test", "amy@example.test", "Mo@example.test"] {
            try file.set(name, credential: Self.alice)
        }
        #expect(try file.users() == ["amy@example.test", "mo@example.test", "zed@example.test"])
    }

    @Test func replacingAFileWithLooserModeMakesIt0600() throws {
        writeFile(path, bytes("# users\n"))
        chmod(path, 0o644)
        try file.set("alice@example.test", credential: Self.alice)
        #expect(fileMode(path) == 0o600)
    }

    @Test func crlfLinesAreRead() throws {
        writeFile(path, bytes("# users\r\nalice@example.test:\(Self.alice.encoded)\r\n"))
        #expect(try file.load() == ["alice@example.test": Self.alice])
    }

    @Test(arguments: [
        ("alice@example.test \(alice.encoded)", "expected <address>:<credential>"),
        ("alice@example.test:SCRAM-SHA-256$1$AAAA$AAAA$AAAA", "invalid credential for alice@example.test"),
        (":\(alice.encoded)", "invalid address"),
        ("alice smith@example.test:\(alice.encoded)", "invalid address"),
        ("bob@example.test:\(alice.encoded)", "bob@example.test is already on line 1"),
        ("BOB@example.test:\(alice.encoded)", "bob@example.test is already on line 1"),
    ])
    func malformedLineIsNamedByNumber(line: String, message: String) throws {
        writeFile(path, bytes("bob@example.test:\(Self.bob.encoded)\n# comment\n\n\(line)\nzed@example.test:x\n"))
        let error = try #require(throws: UsersFileError.self) { try file.load() }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.message.hasPrefix(message))
        #expect(error.description.hasPrefix("\(path):4: \(message)"))
    }

    @Test func nonUTF8LineIsAnError() throws {
        writeFile(path, bytes("# users\n") + [0x23, 0xFF, 0x0A])
        let error = try #require(throws: UsersFileError.self) { try file.load() }
        #expect(error.line == 2)
        #expect(error.message == "not UTF-8")
    }

    @Test func malformedFileIsNotOverwritten() throws {
        let original = bytes("alice@example.test:nonsense\n")
        writeFile(path, original)
        #expect(throws: UsersFileError.self) { try file.set("bob@example.test", credential: Self.bob) }
        #expect(throws: UsersFileError.self) { try file.remove("alice@example.test") }
        #expect(readText(path) == "alice@example.test:nonsense\n")
        #expect(listDirectory(directory) == ["users"])
    }

    @Test(arguments: ["", "alice smith@example.test", "#alice@example.test", "alice\n@example.test", "a\tb"])
    func invalidAddressesAreRefused(user: String) {
        let error = #expect(throws: UsersFileError.self) { try file.set(user, credential: Self.alice) }
        #expect(error?.line == nil)
        #expect(listDirectory(directory).isEmpty)
    }

    @Test func credentialThatCouldNotBeReadBackIsRefused() {
        var broken = Self.alice
        broken.storedKey = [1, 2, 3]
        #expect(throws: UsersFileError.self) { try file.set("alice@example.test", credential: broken) }
        #expect(listDirectory(directory).isEmpty)
    }

    @Test func fileSystemErrorsNameTheFile() throws {
        let missingDirectory = UsersFile(path: directory + "/no/such/users")
        let error = try #require(throws: UsersFileError.self) {
            try missingDirectory.set("alice@example.test", credential: Self.alice)
        }
        #expect(error.file == directory + "/no/such/users")
        #expect(error.line == nil)
        #expect(error.description.hasPrefix(directory + "/no/such/users: "))
        #expect(throws: UsersFileError.self) { try UsersFile(path: directory).load() }
    }

    /// Another process editing the file (holding the directory lock) makes an edit wait rather than interleave.
    @Test func editWaitsForTheDirectoryLock() async throws {
        let lock = open(directory, O_RDONLY | O_DIRECTORY)
        try #require(lock >= 0 && flock(lock, LOCK_EX) == 0)
        let file = self.file
        let edit = Task { try file.set("alice@example.test", credential: Self.alice) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(readText(path) == nil)
        close(lock)
        try await edit.value
        #expect(try file.users() == ["alice@example.test"])
    }

    /// Concurrent editors must not lose each other's changes: each reads, edits and renames under the lock.
    @Test func concurrentEditsAreAllKept() async throws {
        let file = self.file
        let names = (0..<16).map { "user\($0)@example.test" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in names {
                group.addTask { try file.set(name, credential: Self.alice) }
            }
            try await group.waitForAll()
        }
        #expect(try file.users() == names.sorted())
        #expect(listDirectory(directory) == ["users"])
    }
}
