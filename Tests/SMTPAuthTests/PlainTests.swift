import Testing

@testable import SMTPAuth

@Suite struct PlainTests {
    func exchange(_ lookup: RecordingLookup = RecordingLookup()) -> SASLServerExchange {
        SASLServerExchange(mechanism: .plain, lookup: lookup.function)
    }

    @Test func initialResponse() async {
        let lookup = RecordingLookup()
        let outcome = await exchange(lookup).step(bytes("\0alice@example.test\0secret"))
        #expect(outcome == .success(user: "alice@example.test"))
        #expect(lookup.names == ["alice@example.test"])
    }

    @Test func noInitialResponseGetsAnEmptyChallenge() async {
        let plain = exchange()
        #expect(await plain.step(nil) == .challenge([]))
        #expect(await plain.step(bytes("\0alice@example.test\0secret")) == .success(user: "alice@example.test"))
    }

    @Test func userNameIsCaseInsensitiveAndReportedLowercased() async {
        let lookup = RecordingLookup()
        #expect(
            await exchange(lookup).step(bytes("\0Alice@Example.TEST\0secret")) == .success(user: "alice@example.test"))
        #expect(lookup.names == ["alice@example.test"])
    }

    @Test(arguments: ["alice@example.test", "ALICE@example.test"])
    func authzidEqualToTheUserIsAccepted(authzid: String) async {
        let outcome = await exchange().step(bytes("\(authzid)\0alice@example.test\0secret"))
        #expect(outcome == .success(user: "alice@example.test"))
    }

    @Test func authzidOfSomeoneElseIsRefused() async {
        let lookup = RecordingLookup()
        let outcome = await exchange(lookup).step(bytes("bob@example.test\0alice@example.test\0secret"))
        #expect(outcome == .failure(.authorizationMismatch))
        #expect(lookup.names.isEmpty)
    }

    @Test func wrongPassword() async {
        #expect(await exchange().step(bytes("\0alice@example.test\0Secret")) == .failure(.badCredentials))
    }

    @Test func unknownUser() async {
        let lookup = RecordingLookup()
        #expect(await exchange(lookup).step(bytes("\0mallory@example.test\0secret")) == .failure(.badCredentials))
        #expect(lookup.names == ["mallory@example.test"])
    }

    @Test(arguments: [
        [UInt8](),  // "=": an empty initial response
        bytes("alice@example.test secret"),
        bytes("alice@example.test\0secret"),
        bytes("\0alice@example.test\0secret\0"),
        bytes("\0\0secret"),
        bytes("\0alice@example.test\0"),
        [0] + bytes("alice@example.test") + [0, 0xFF, 0xFE],
        [0, 0xC3] + [0] + bytes("secret"),
        [0xFF, 0] + bytes("alice@example.test") + [0] + bytes("secret"),
        bytes("\0alice\n@example.test\0secret"),
    ])
    func malformedMessages(message: [UInt8]) async {
        #expect(await exchange().step(message) == .failure(.malformed))
    }

    @Test func emptyResponseToTheChallengeIsMalformed() async {
        let plain = exchange()
        #expect(await plain.step(nil) == .challenge([]))
        #expect(await plain.step([]) == .failure(.malformed))
    }

    @Test func stepsAfterTheEndAreMalformed() async {
        let succeeded = exchange()
        #expect(await succeeded.step(bytes("\0alice@example.test\0secret")) == .success(user: "alice@example.test"))
        #expect(await succeeded.step(bytes("\0alice@example.test\0secret")) == .failure(.malformed))
        let failed = exchange()
        #expect(await failed.step(bytes("\0alice@example.test\0wrong")) == .failure(.badCredentials))
        #expect(await failed.step(bytes("\0alice@example.test\0secret")) == .failure(.malformed))
        #expect(await failed.step(nil) == .failure(.malformed))
    }

    /// An unknown user must cost a full derivation like a known one, or timing tells which accounts exist.
    /// Both users run at the default iteration count; skipping the decoy would make the unknown user's attempt
    /// thousands of times faster, far beyond the margin left here for a busy machine.
    @Test func unknownUserCostsAFullDerivation() async {
        let real = SCRAMCredential.derive(password: "secret")
        let lookup = RecordingLookup(["alice@example.test": real])
        let clock = ContinuousClock()
        var known = Duration.seconds(3600)
        var unknown = Duration.seconds(3600)
        for _ in 0..<2 {
            let start = clock.now
            #expect(await exchange(lookup).step(bytes("\0alice@example.test\0wrong")) == .failure(.badCredentials))
            known = min(known, clock.now - start)
            let middle = clock.now
            #expect(await exchange(lookup).step(bytes("\0nobody@example.test\0wrong")) == .failure(.badCredentials))
            unknown = min(unknown, clock.now - middle)
        }
        print(
            "PLAIN failure at \(SCRAMCredential.defaultIterations) iterations: known user \(known), unknown \(unknown)")
        #expect(unknown * 4 > known)
        #expect(UnknownUsers.decoy.iterations == SCRAMCredential.defaultIterations)
    }
}
