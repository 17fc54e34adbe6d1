import Testing

@testable import SMTPAuth

@Suite struct TimingTests {
    /// Not a pass/fail check: prints what one derivation costs in this build, for choosing `defaultIterations`.
    @Test func derivationTimeAtDefaultIterations() {
        let clock = ContinuousClock()
        var fastest = Duration.seconds(3600)
        for _ in 0..<3 {
            let elapsed = clock.measure { _ = SCRAMCredential.derive(password: "pencil") }
            fastest = min(fastest, elapsed)
        }
        print("SCRAMCredential.derive at \(SCRAMCredential.defaultIterations) iterations: \(fastest)")
        #expect(fastest > .zero)
    }
}
