/// Verifies a user name and password given in the clear, as PLAIN and LOGIN do.
enum PasswordCheck {
    /// Unknown users are checked against a decoy, so that every attempt costs one derivation and an
    /// attacker cannot find out by timing which addresses have accounts.
    static func verify(user: String, password: String, lookup: CredentialLookup) async -> SASLOutcome {
        guard let name = SASLPrep.userName(user) else { return .failure(.malformed) }
        let credential = await lookup(name)
        let matches = (credential ?? UnknownUsers.decoy).verify(password: password)
        return credential != nil && matches ? .success(user: name) : .failure(.badCredentials)
    }
}
