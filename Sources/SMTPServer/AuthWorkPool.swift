import SMTPCore

/// Where SASL steps run: password derivations (PBKDF2, tens of milliseconds each) and users-file reads. They run
/// on threads of their own, never on an event loop, so a login storm does not stall the SMTP sessions sharing
/// those loops; at most `width` at once, and a step that waited longer than `queueTimeout` for its turn fails as
/// temporary (454 4.7.0).
final class AuthWorkPool: Sendable {
    private let gate: ConcurrencyGate
    private let executor: ThreadPoolTaskExecutor
    let queueTimeout: Duration

    init(width: Int, queueTimeout: Duration) {
        gate = ConcurrencyGate(width: max(width, 1))
        executor = ThreadPoolTaskExecutor(threads: max(width, 1))
        self.queueTimeout = queueTimeout
    }

    /// One step of `exchange`; cancelling the calling task while it waits for its turn ends the wait.
    func step(_ exchange: any SASLExchange, _ response: [UInt8]?) async -> AuthStep {
        guard await gate.enter(timeout: queueTimeout) else { return .failure(.temporary) }
        defer { gate.leave() }
        return await withTaskExecutorPreference(executor) { await exchange.step(response) }
    }
}
