/// The client side of the password SASL mechanisms (RFC 4616 PLAIN; the LOGIN draft), as a value: it produces
/// the initial response and the answer to each challenge. Meant to be used inside TLS only.
public struct ClientSASL: SASLClientMechanism {
    public enum Mechanism: String, Sendable, Hashable, CaseIterable {
        case plain = "PLAIN"
        case login = "LOGIN"
    }

    public let mechanism: Mechanism
    private let user: String
    private let password: String
    private var step = 0

    public init(mechanism: Mechanism, user: String, password: String) {
        self.mechanism = mechanism
        self.user = user
        self.password = password
    }

    /// The first mechanism in `preference` that the server offers.
    public static func choose(offered: [String], preference: [Mechanism] = [.plain, .login]) -> Mechanism? {
        preference.first { offered.contains($0.rawValue) }
    }

    /// PLAIN sends everything with the command (`authzid NUL authcid NUL passwd`, with an empty authzid); LOGIN
    /// waits to be asked.
    public var name: String { mechanism.rawValue }

    public func initialResponse() -> [UInt8]? {
        switch mechanism {
        case .plain: [0] + Array(user.utf8) + [0] + Array(password.utf8)
        case .login: nil
        }
    }

    /// The answer to a server challenge: LOGIN's first is the user name, the second the password. PLAIN expects
    /// none; an empty answer lets the server finish.
    public mutating func respond(to challenge: [UInt8]) -> [UInt8]? {
        defer { step += 1 }
        switch mechanism {
        case .plain: return step == 0 ? initialResponse() ?? [] : []
        case .login: return step == 0 ? Array(user.utf8) : Array(password.utf8)
        }
    }
}
