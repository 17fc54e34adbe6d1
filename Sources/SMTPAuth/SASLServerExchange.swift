import Synchronization

/// The server side of one SASL exchange: sans-IO apart from the credential lookup.
///
/// The SMTP layer base64-decodes each client line (and handles the `*` that cancels an exchange itself),
/// passes the raw bytes to ``step(_:)`` and turns the outcome into a reply. One exchange serves one `AUTH`
/// command; after `.success` or `.failure` every further step is `.failure(.malformed)`.
///
/// PLAIN and LOGIN run a PBKDF2 derivation inside `step` (tens of milliseconds). `step` is a nonisolated async
/// method, which (in the Swift 6 language mode without `NonisolatedNonsendingByDefault`) runs on the global
/// concurrent executor, so that work does not hold up the caller's event loop.
public final class SASLServerExchange: Sendable {
    public let mechanism: SASLMechanism
    private let state: Mutex<State>

    private enum State: Sendable {
        case ready(Machine, isFirstStep: Bool)
        /// A step is waiting for the lookup; the machine is out of the lock meanwhile.
        case busy
        case finished
    }

    private enum Machine: Sendable {
        case plain(PlainServer)
        case login(LoginServer)
        case scram(SCRAMServer)
    }

    /// - Parameter lookup: the stored credential of a user, given the address prepared and lowercased;
    ///   nil for unknown users (who are still put through the same work, see ``SCRAMCredential/decoy(iterations:)``).
    public convenience init(
        mechanism: SASLMechanism, lookup: @escaping @Sendable (String) async -> SCRAMCredential?
    ) {
        self.init(mechanism: mechanism, lookup: lookup, makeNonce: SCRAMServer.randomNonce)
    }

    /// Tests replace `makeNonce`, the server's part of the SCRAM nonce, to replay published exchanges.
    init(
        mechanism: SASLMechanism, lookup: @escaping @Sendable (String) async -> SCRAMCredential?,
        makeNonce: @escaping @Sendable () -> String
    ) {
        self.mechanism = mechanism
        let machine: Machine =
            switch mechanism {
            case .plain: .plain(PlainServer(lookup: lookup))
            case .login: .login(LoginServer(lookup: lookup))
            case .scramSHA256: .scram(SCRAMServer(lookup: lookup, makeNonce: makeNonce))
            }
        state = Mutex(.ready(machine, isFirstStep: true))
    }

    /// Feeds the client's next message to the mechanism.
    ///
    /// - Parameter response: the decoded bytes of the client's line. For the first step, nil when `AUTH` had no
    ///   initial response and an empty array for `=` (an empty initial response); later steps are never nil
    ///   (nil is taken as empty).
    public func step(_ response: [UInt8]?) async -> SASLOutcome {
        let taken: (Machine, Bool)? = state.withLock { state in
            switch state {
            case .ready(let machine, let isFirstStep):
                state = .busy
                return (machine, isFirstStep)
            case .busy:
                // Two steps at once is a bug in the caller; ending the exchange is the safe answer.
                state = .finished
                return nil
            case .finished:
                return nil
            }
        }
        guard case (var machine, let isFirstStep)? = taken else { return .failure(.malformed) }
        let input = isFirstStep ? response : response ?? []
        let outcome: SASLOutcome
        switch machine {
        case .plain(var server):
            outcome = await server.step(input)
            machine = .plain(server)
        case .login(var server):
            outcome = await server.step(input)
            machine = .login(server)
        case .scram(var server):
            outcome = await server.step(input)
            machine = .scram(server)
        }
        return state.withLock { state in
            guard case .busy = state else { return .failure(.malformed) }
            if case .challenge = outcome {
                state = .ready(machine, isFirstStep: false)
            } else {
                state = .finished
            }
            return outcome
        }
    }
}
