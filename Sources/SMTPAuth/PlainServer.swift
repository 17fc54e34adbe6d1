/// The server side of PLAIN (RFC 4616): one message, `[authzid] NUL authcid NUL passwd`.
struct PlainServer: Sendable {
    let lookup: CredentialLookup

    mutating func step(_ response: [UInt8]?) async -> SASLOutcome {
        // No initial response: an empty challenge asks for the message (RFC 4954 §4).
        guard let response else { return .challenge([]) }
        let message: Message
        do { message = try Message(response) } catch { return .failure(error) }
        // This server has no proxy users: an authzid may only name the authenticating user.
        if !message.authorizationIdentity.isEmpty
            && SASLPrep.userName(message.authorizationIdentity) != SASLPrep.userName(message.authenticationIdentity)
        {
            return .failure(.authorizationMismatch)
        }
        return await PasswordCheck.verify(
            user: message.authenticationIdentity, password: message.password, lookup: lookup)
    }

    struct Message {
        var authorizationIdentity: String
        var authenticationIdentity: String
        var password: String

        /// Exactly two NULs, a non-empty authcid and password, all of it UTF-8.
        init(_ bytes: [UInt8]) throws(SASLFailure) {
            let fields = bytes.split(separator: 0, omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[1].isEmpty, !fields[2].isEmpty,
                let authzid = String(validUTF8: fields[0]),
                let authcid = String(validUTF8: fields[1]),
                let password = String(validUTF8: fields[2])
            else { throw .malformed }
            authorizationIdentity = authzid
            authenticationIdentity = authcid
            self.password = password
        }
    }
}
