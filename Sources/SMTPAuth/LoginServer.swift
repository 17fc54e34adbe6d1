/// The server side of LOGIN: "Username:", then "Password:", each answered by one client line.
///
/// LOGIN has no RFC (draft-murchison-sasl-login describes it); clients that send an initial response with
/// `AUTH LOGIN` mean the user name, and the exchange then starts at "Password:".
struct LoginServer: Sendable {
    let lookup: CredentialLookup
    private var user: String?

    init(lookup: @escaping CredentialLookup) {
        self.lookup = lookup
    }

    static let userNamePrompt = Array("Username:".utf8)
    static let passwordPrompt = Array("Password:".utf8)

    mutating func step(_ response: [UInt8]?) async -> SASLOutcome {
        guard let response else { return .challenge(Self.userNamePrompt) }
        guard let text = String(validUTF8: response) else { return .failure(.malformed) }
        guard let user else {
            // Checked now so that a broken name fails before the client types a password.
            guard SASLPrep.userName(text) != nil else { return .failure(.malformed) }
            self.user = text
            return .challenge(Self.passwordPrompt)
        }
        return await PasswordCheck.verify(user: user, password: text, lookup: lookup)
    }
}
