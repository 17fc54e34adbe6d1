import Testing

@testable import SMTPAuth

@Suite struct LoginTests {
    func exchange(_ lookup: RecordingLookup = RecordingLookup()) -> SASLServerExchange {
        SASLServerExchange(mechanism: .login, lookup: lookup.function)
    }

    @Test func promptsForUserThenPassword() async {
        let login = exchange()
        #expect(await login.step(nil) == .challenge(bytes("Username:")))
        #expect(await login.step(bytes("alice@example.test")) == .challenge(bytes("Password:")))
        #expect(await login.step(bytes("secret")) == .success(user: "alice@example.test"))
    }

    @Test func initialResponseIsTheUserName() async {
        let lookup = RecordingLookup()
        let login = exchange(lookup)
        #expect(await login.step(bytes("ALICE@example.test")) == .challenge(bytes("Password:")))
        #expect(await login.step(bytes("secret")) == .success(user: "alice@example.test"))
        #expect(lookup.names == ["alice@example.test"])
    }

    @Test func wrongPassword() async {
        let login = exchange()
        #expect(await login.step(bytes("alice@example.test")) == .challenge(bytes("Password:")))
        #expect(await login.step(bytes("wrong")) == .failure(.badCredentials))
        #expect(await login.step(bytes("secret")) == .failure(.malformed))
    }

    @Test func unknownUser() async {
        let lookup = RecordingLookup()
        let login = exchange(lookup)
        #expect(await login.step(nil) == .challenge(bytes("Username:")))
        #expect(await login.step(bytes("mallory@example.test")) == .challenge(bytes("Password:")))
        #expect(await login.step(bytes("secret")) == .failure(.badCredentials))
        #expect(lookup.names == ["mallory@example.test"])
    }

    @Test(arguments: [[UInt8](), [0xFF, 0x61], bytes("a\0b"), bytes("alice\r@example.test")])
    func malformedUserName(name: [UInt8]) async {
        let login = exchange()
        #expect(await login.step(nil) == .challenge(bytes("Username:")))
        #expect(await login.step(name) == .failure(.malformed))
    }

    @Test func emptyInitialResponseIsAnEmptyUserName() async {
        #expect(await exchange().step([]) == .failure(.malformed))
    }

    @Test func nonUTF8PasswordIsMalformed() async {
        let login = exchange()
        #expect(await login.step(bytes("alice@example.test")) == .challenge(bytes("Password:")))
        #expect(await login.step([0x73, 0xC0, 0x80]) == .failure(.malformed))
    }
}
