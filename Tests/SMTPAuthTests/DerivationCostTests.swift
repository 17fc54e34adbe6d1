import Testing

@testable import SMTPAuth

@Suite struct DerivationCostTests {
    /// The cost itself is a benchmark figure (about 40 ms in a release build, README); what a test can hold is
    /// that new credentials get the default count and that it is one RFC 7677 and the verifier accept.
    @Test func newCredentialsUseTheDefaultIterationCount() {
        let credential = SCRAMCredential.derive(password: "pencil")
        #expect(credential.iterations == SCRAMCredential.defaultIterations)
        #expect(SCRAMCredential.allowedIterations.contains(SCRAMCredential.defaultIterations))
        #expect(SCRAMCredential.defaultIterations >= 4096)
        #expect(credential.verify(password: "pencil"))
        #expect(!credential.verify(password: "pencil "))
    }
}
