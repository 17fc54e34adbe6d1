import SMTPCore
import Testing

@testable import SMTPAuth

@Suite struct SCRAMCredentialTests {
    @Test func derivedKeysVerifyOnlyTheirPassword() {
        let credential = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        #expect(credential.verify(password: "secret"))
        #expect(!credential.verify(password: "Secret"))
        #expect(!credential.verify(password: "secret "))
        #expect(!credential.verify(password: ""))
        #expect(credential.salt.count == 16)
        #expect(credential.iterations == testIterations)
        #expect(credential.storedKey.count == 32 && credential.serverKey.count == 32)
    }

    @Test func keysFollowRFC5802() {
        let salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
        let credential = SCRAMCredential.derive(password: "pencil", salt: salt, iterations: 4096)
        let salted = SCRAMFunctions.saltedPassword(Array("pencil".utf8), salt: salt, iterations: 4096)
        #expect(credential.salt == salt)
        #expect(credential.storedKey == SCRAMFunctions.hash(SCRAMFunctions.hmac(key: salted, Array("Client Key".utf8))))
        #expect(credential.serverKey == SCRAMFunctions.hmac(key: salted, Array("Server Key".utf8)))
    }

    @Test func randomSaltsMakeDifferentKeys() {
        let first = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        let second = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        #expect(first.salt != second.salt)
        #expect(first.storedKey != second.storedKey)
    }

    @Test func emptyPasswordStillDerives() {
        let credential = SCRAMCredential.derive(password: "", iterations: testIterations)
        #expect(credential.verify(password: ""))
        #expect(!credential.verify(password: " "))
    }

    @Test func saslPrepMapsSpacesAndRemovesInvisibleCharacters() {
        let credential = SCRAMCredential.derive(password: "correct horse", iterations: testIterations)
        #expect(credential.verify(password: "correct\u{00A0}horse"))
        #expect(credential.verify(password: "correct \u{00AD}horse"))
        #expect(credential.verify(password: "\u{FEFF}correct horse"))
        #expect(!credential.verify(password: "correct  horse"))
        #expect(SASLPrep.prepare("\u{2003}a\u{200B}b") == " ab")
        #expect(SASLPrep.userName("Alice@Example.TEST") == "alice@example.test")
        #expect(SASLPrep.userName("") == nil)
        #expect(SASLPrep.userName("a\u{7F}b") == nil)
        #expect(SASLPrep.userName("a\nb") == nil)
    }

    @Test func encodingRoundTrips() throws {
        let credential = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        let fields = credential.encoded.split(separator: "$", omittingEmptySubsequences: false)
        #expect(fields.count == 5)
        #expect(fields[0] == "SCRAM-SHA-256" && fields[1] == "4096")
        #expect(fields[2] == Substring(Base64.encode(credential.salt)))
        #expect(fields[3] == Substring(Base64.encode(credential.storedKey)))
        #expect(fields[4] == Substring(Base64.encode(credential.serverKey)))
        let decoded = try #require(SCRAMCredential(encoded: credential.encoded))
        #expect(decoded == credential)
        #expect(decoded.verify(password: "secret"))
    }

    static let key = String(repeating: "A", count: 43) + "="  // 32 zero bytes
    static let salt = "c2FsdHNhbHQ="

    @Test(arguments: [
        "",
        "SCRAM-SHA-1$4096$\(salt)$\(key)$\(key)",
        "scram-sha-256$4096$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$4096$\(salt)$\(key)",
        "SCRAM-SHA-256$4096$\(salt)$\(key)$\(key)$",
        "SCRAM-SHA-256$$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$abc$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$+4096$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$-4096$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$4095$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$10000001$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$99999999999999999999$\(salt)$\(key)$\(key)",
        "SCRAM-SHA-256$4096$$\(key)$\(key)",
        "SCRAM-SHA-256$4096$not base64!$\(key)$\(key)",
        "SCRAM-SHA-256$4096$\(salt)$\(String(key.dropLast(4)))$\(key)",
        "SCRAM-SHA-256$4096$\(salt)$\(key)$\(key)AAAA",
        " SCRAM-SHA-256$4096$\(salt)$\(key)$\(key)",
    ])
    func malformedEncodingsAreRejected(encoded: String) {
        #expect(SCRAMCredential(encoded: encoded) == nil)
    }

    @Test func wellFormedHandWrittenEncodingIsAccepted() throws {
        let credential = try #require(
            SCRAMCredential(encoded: "SCRAM-SHA-256$4096$\(Self.salt)$\(Self.key)$\(Self.key)"))
        #expect(credential.salt == Array("saltsalt".utf8))
        #expect(credential.storedKey == [UInt8](repeating: 0, count: 32))
    }

    @Test func decoyMatchesNoPassword() {
        let decoy = SCRAMCredential.decoy(iterations: testIterations)
        #expect(decoy.iterations == testIterations)
        #expect(decoy.salt.count == 16)
        for password in ["", "secret", "pencil", "password"] { #expect(!decoy.verify(password: password)) }
        #expect(decoy != SCRAMCredential.decoy(iterations: testIterations))
        #expect(SCRAMCredential.decoy().iterations == SCRAMCredential.defaultIterations)
        #expect(SCRAMCredential(encoded: decoy.encoded) == decoy)
    }

    @Test func handBuiltCredentialOutsideTheLimitsMatchesNothing() {
        let good = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        var broken = good
        broken.iterations = 0
        #expect(!broken.verify(password: "secret"))
        broken = good
        broken.salt = []
        #expect(!broken.verify(password: "secret"))
    }

    @Test func defaultIterationsMeetRFC7677() {
        #expect(SCRAMCredential.defaultIterations >= 4096)
        #expect(SCRAMCredential.allowedIterations.contains(SCRAMCredential.defaultIterations))
    }

    @Test func descriptionHidesTheKeys() {
        let credential = SCRAMCredential.derive(password: "secret", iterations: testIterations)
        #expect(!"\(credential)".contains(Base64.encode(credential.storedKey)))
        #expect(!"\(credential)".contains(Base64.encode(credential.serverKey)))
        #expect("\(credential)".contains("4096"))
    }
}
