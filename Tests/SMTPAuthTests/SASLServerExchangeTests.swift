import Synchronization
import Testing

@testable import SMTPAuth

@Suite struct SASLServerExchangeTests {
    @Test func mechanismNames() {
        #expect(SASLMechanism.allCases.map(\.rawValue) == ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        #expect(SASLMechanism(name: "scram-sha-256") == .scramSHA256)
        #expect(SASLMechanism(name: "Plain") == .plain)
        #expect(SASLMechanism(name: "CRAM-MD5") == nil)
        #expect(SASLServerExchange(mechanism: .login, lookup: { _ in nil }).mechanism == .login)
    }

    /// A second step while the first is still waiting for the lookup is a caller bug; both end in failure
    /// rather than leaving the exchange in a state nobody can reason about.
    @Test func overlappingStepsEndTheExchange() async {
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let gate = Mutex<AsyncStream<Void>.Iterator?>(release.makeAsyncIterator())
        let plain = SASLServerExchange(mechanism: .plain) { name in
            startedContinuation.yield()
            var iterator = gate.withLock { $0.take() }
            _ = await iterator?.next()
            return TestUsers.credentials[name]
        }
        async let first = plain.step(bytes("\0alice@example.test\0secret"))
        var startedIterator = started.makeAsyncIterator()
        _ = await startedIterator.next()
        #expect(await plain.step(bytes("\0alice@example.test\0secret")) == .failure(.malformed))
        releaseContinuation.yield()
        #expect(await first == .failure(.malformed))
        #expect(await plain.step(nil) == .failure(.malformed))
    }
}
