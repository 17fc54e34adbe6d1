import SMTPCore
import Testing

@testable import SMTPAuth

@Suite struct SCRAMTests {
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

    func exchange(_ lookup: RecordingLookup = RecordingLookup()) -> SASLServerExchange {
        SASLServerExchange(mechanism: .scramSHA256, lookup: lookup.function)
    }

    /// RFC 7677 §3, message for message, with the RFC's server nonce.
    @Test func rfc7677TestVector() async {
        let salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
        let lookup = RecordingLookup(["user": .derive(password: "pencil", salt: salt, iterations: 4096)])
        let scram = SASLServerExchange(mechanism: .scramSHA256, lookup: lookup.function) { Self.serverNonce }
        let serverFirst = await scram.step(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        #expect(
            text(serverFirst)
                == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let serverFinal = await scram.step(
            bytes(
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
        #expect(text(serverFinal) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(await scram.step([]) == .success(user: "user"))
        #expect(await scram.step([]) == .failure(.malformed))
        #expect(lookup.names == ["user"])
    }

    /// Runs a whole exchange with `client`, returning the final outcome.
    func run(
        _ client: SCRAMTestClient, initialResponse: Bool = true, lookup: RecordingLookup = RecordingLookup()
    ) async -> SASLOutcome {
        let scram = exchange(lookup)
        if !initialResponse { #expect(await scram.step(nil) == .challenge([])) }
        let first = await scram.step(client.clientFirst)
        guard let serverFirst = text(first) else { return first }
        let final = client.clientFinal(serverFirst: serverFirst)
        let serverFinal = await scram.step(final.message)
        guard text(serverFinal) == final.expectedServerFinal else { return serverFinal }
        return await scram.step(nil)
    }

    @Test func fullExchangeWithAndWithoutInitialResponse() async {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        #expect(await run(client) == .success(user: "alice@example.test"))
        #expect(await run(client, initialResponse: false) == .success(user: "alice@example.test"))
    }

    @Test func serverFirstCarriesTheStoredSaltAndAFreshNonce() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        var serverNonces: Set<String> = []
        for _ in 0..<2 {
            let serverFirst = try #require(text(await exchange().step(client.clientFirst)))
            let fields = serverFirst.split(separator: ",").map(String.init)
            try #require(fields.count == 3)
            #expect(fields[0].hasPrefix("r=" + client.clientNonce))
            let serverNonce = fields[0].dropFirst(2 + client.clientNonce.count)
            #expect(serverNonce.count >= 24)
            #expect(SCRAMAttributes.isValidNonce(String(serverNonce)))
            serverNonces.insert(String(serverNonce))
            let stored = TestUsers.credentials["alice@example.test"]!
            #expect(fields[1] == "s=" + Base64.encode(stored.salt))
            #expect(fields[2] == "i=4096")
        }
        #expect(serverNonces.count == 2)
    }

    @Test func wrongPasswordFailsAtTheProof() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let final = client.clientFinal(serverFirst: serverFirst, password: "Secret")
        #expect(await scram.step(final.message) == .failure(.badCredentials))
        #expect(await scram.step([]) == .failure(.malformed))
    }

    @Test func tamperedProofFails() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let message = String(decoding: client.clientFinal(serverFirst: serverFirst).message, as: UTF8.self)
        let proofAttribute = try #require(message.firstRange(of: ",p="))
        var proof = try #require(Base64.decode(message[proofAttribute.upperBound...]))
        proof[0] ^= 1
        let forged = message[..<proofAttribute.lowerBound] + ",p=" + Base64.encode(proof)
        #expect(await scram.step(bytes(forged)) == .failure(.badCredentials))
    }

    @Test(arguments: ["fyko+d2lbbFgONRv9qkxdawL", "fyko+d2lbbFgONRv9qkxdawLextra", "somethingElse"])
    func nonceOtherThanTheServersFails(nonce: String) async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        // The proof is correct for the AuthMessage with the forged nonce, so only the nonce check can catch it.
        let final = client.clientFinal(serverFirst: serverFirst, nonce: nonce)
        #expect(await scram.step(final.message) == .failure(.badCredentials))
    }

    @Test func channelBindingHeaderMustRepeatTheFirstOne() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let final = client.clientFinal(serverFirst: serverFirst, channelBinding: Base64.encode(bytes("y,,")))
        #expect(await scram.step(final.message) == .failure(.badCredentials))
    }

    @Test func clientThatCouldBindButThinksWeCannotIsAccepted() async {
        var client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        client.gs2Header = "y,,"
        #expect(await run(client) == .success(user: "alice@example.test"))
    }

    @Test(arguments: ["p=tls-unique,,n=alice@example.test,r=abc", "p=tls-exporter,,n=user,r=abc"])
    func channelBindingIsUnsupported(message: String) async {
        #expect(await exchange().step(bytes(message)) == .failure(.unsupported))
    }

    @Test func mandatoryExtensionIsUnsupported() async {
        #expect(await exchange().step(bytes("n,,m=ext,n=alice@example.test,r=abc")) == .failure(.unsupported))
    }

    @Test func authzidEqualToTheUserIsAccepted() async {
        var client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        client.gs2Header = "n,a=Alice@Example.test,"
        #expect(await run(client) == .success(user: "alice@example.test"))
    }

    @Test func authzidOfSomeoneElseIsRefused() async {
        let lookup = RecordingLookup()
        let outcome = await exchange(lookup).step(bytes("n,a=bob@example.test,n=alice@example.test,r=abc"))
        #expect(outcome == .failure(.authorizationMismatch))
        #expect(lookup.names.isEmpty)
    }

    @Test func escapedUserNameIsDecoded() async {
        let lookup = RecordingLookup()
        let client = SCRAMTestClient(user: "We=2Cird=3DName@example.test", password: "pa55")
        #expect(await run(client, lookup: lookup) == .success(user: "we,ird=name@example.test"))
        #expect(lookup.names == ["we,ird=name@example.test"])
    }

    @Test func extensionsInTheFinalMessageAreCoveredByTheProof() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let final = client.clientFinal(serverFirst: serverFirst, extensions: ",x=unknown")
        #expect(text(await scram.step(final.message)) == final.expectedServerFinal)
        #expect(await scram.step([]) == .success(user: "alice@example.test"))
    }

    @Test func extensionsInTheFirstMessageAreIgnored() async throws {
        let serverFirst = try #require(text(await exchange().step(bytes("n,,n=alice@example.test,r=abc,x=1"))))
        #expect(serverFirst.hasPrefix("r=abc"))
    }

    @Test(arguments: [
        "",
        "n",
        "n,,",
        "x,,n=alice@example.test,r=abc",
        "n,b=bob,n=alice@example.test,r=abc",
        "n,a=,n=alice@example.test,r=abc",
        "n,,r=abc,n=alice@example.test",
        "n,,n=alice@example.test",
        "n,,n=alice@example.test,r=",
        "n,,n=,r=abc",
        "n,,n=alice@example.test,r=ab c",
        "n,,n=alice@example.test,r=ab\u{7F}",
        "n,,n=alice@example.test,r=abç",
        "n,,n=alice=2Xexample.test,r=abc",
        "n,,n=alice@example.test=,r=abc",
        "n,,n=alice@example.test,,r=abc",
        "n,,n=alice@example.test,r=abc,",
        "n,,n=alice@example.test,r=abc,xy=1",
        "n,,n=ali\u{1}ce@example.test,r=abc",
        "n,, n=alice@example.test,r=abc",
    ])
    func malformedClientFirst(message: String) async {
        #expect(await exchange().step(bytes(message)) == .failure(.malformed))
    }

    @Test func nonUTF8ClientFirstIsMalformed() async {
        #expect(
            await exchange().step(bytes("n,,n=alice") + [0xFF] + bytes("@example.test,r=abc")) == .failure(.malformed))
    }

    @Test(arguments: [
        "",
        "c=biws,r=NONCE",
        "r=NONCE,c=biws,p=PROOF",
        "c=biws,p=PROOF",
        "c=biws,r=NONCE,p=PROOF,x=1",
        "c=biws,r=NONCE,p=not-base64",
        "c=biws,r=NONCE,p=AAAA",
        "c=biws,r=NONCE,p=",
        "c=bi!s,r=NONCE,p=PROOF",
        "c=biws,r=NONCE,,p=PROOF",
    ])
    func malformedClientFinal(template: String) async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let nonce = String(serverFirst.split(separator: ",")[0].dropFirst(2))
        let proof = Base64.encode([UInt8](repeating: 7, count: 32))
        let message = template.replacing("NONCE", with: nonce).replacing("PROOF", with: proof)
        #expect(await scram.step(bytes(message)) == .failure(.malformed))
        #expect(await scram.step(bytes(message)) == .failure(.malformed))
    }

    @Test func nonUTF8ClientFinalIsMalformed() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        _ = try #require(text(await scram.step(client.clientFirst)))
        #expect(await scram.step([0x63, 0x3D, 0xFF]) == .failure(.malformed))
    }

    @Test func acknowledgementMustBeEmpty() async throws {
        let client = SCRAMTestClient(user: "alice@example.test", password: "secret")
        let scram = exchange()
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let final = client.clientFinal(serverFirst: serverFirst)
        #expect(text(await scram.step(final.message)) == final.expectedServerFinal)
        #expect(await scram.step(bytes("v=again")) == .failure(.malformed))
    }

    /// An unknown user gets a server-first message that looks like a real user's (a 16-byte salt that stays the
    /// same for the name, the default iteration count) and fails only at the proof.
    @Test func unknownUserLooksLikeARealOne() async throws {
        let lookup = RecordingLookup()
        let client = SCRAMTestClient(user: "Mallory@example.test", password: "secret")
        func serverFirstFields(_ user: String) async throws -> [String] {
            let first = bytes("n,,n=\(user),r=abc")
            let serverFirst = try #require(text(await exchange(lookup).step(first)))
            return serverFirst.split(separator: ",").map(String.init)
        }
        let fields = try await serverFirstFields("mallory@example.test")
        let salt = try #require(Base64.decode(fields[1].dropFirst(2)))
        #expect(salt.count == 16)
        #expect(fields[2] == "i=\(SCRAMCredential.defaultIterations)")
        #expect(try await serverFirstFields("MALLORY@example.test")[1] == fields[1])
        #expect(try await serverFirstFields("trudy@example.test")[1] != fields[1])
        #expect(lookup.names.allSatisfy { $0 == $0.lowercased() })

        let scram = exchange(lookup)
        let serverFirst = try #require(text(await scram.step(client.clientFirst)))
        let final = client.clientFinal(serverFirst: serverFirst)
        #expect(await scram.step(final.message) == .failure(.badCredentials))
    }
}

/// The client's own checks; the whole exchange with Swallow's server is in SMTPClientTests.
@Suite struct SCRAMClientTests {
    @Test func clientRefusesBadServerMessagesAndMustSeeTheServerProof() {
        var client = SCRAMClient(user: "user@example.test", password: "pencil")
        let first = String(decoding: client.initialResponse() ?? [], as: UTF8.self)
        #expect(first.hasPrefix("n,,n=user@example.test,r="))
        let nonce = String(first.split(separator: "=").last!)
        // A nonce that does not extend ours, or an absurd iteration count, is refused.
        var copy = client
        #expect(copy.respond(to: Array("r=other,s=QSXCR+Q6sek8bf92,i=4096".utf8)) == nil)
        #expect(copy.respond(to: Array("r=\(nonce)x,s=QSXCR+Q6sek8bf92,i=99999999".utf8)) == nil)
        let final = client.respond(to: Array("r=\(nonce)srv,s=QSXCR+Q6sek8bf92,i=4096".utf8)) ?? []
        #expect(String(decoding: final, as: UTF8.self).hasPrefix("c=biws,r=\(nonce)srv,p="))
        #expect(!client.acceptsSuccess, "not before the server's signature")
        var forged = client
        #expect(forged.respond(to: Array("v=AAAA".utf8)) == nil)
        #expect(!forged.acceptsSuccess)
        // A user name with "," and "=" is escaped.
        var odd = SCRAMClient(user: "a,b=c", password: "x")
        #expect(String(decoding: odd.initialResponse() ?? [], as: UTF8.self).hasPrefix("n,,n=a=2Cb=3Dc,r="))
    }
}
