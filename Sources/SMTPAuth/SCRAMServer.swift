import SMTPCore

/// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding.
///
///     C: n,,n=user,r=<client nonce>
///     S: r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
///     C: c=<base64 GS2 header>,r=<both nonces>,p=<base64 ClientProof>
///     S: v=<base64 ServerSignature>
///     C: (empty)                                          → success
///
/// The server needs only StoredKey and ServerKey: it recovers ClientKey from the proof and checks that it
/// hashes to StoredKey, then proves itself with ServerKey.
struct SCRAMServer: Sendable {
    let lookup: CredentialLookup
    /// Makes the server's part of the nonce; replaced in tests to replay RFC 7677's exchange.
    let makeNonce: @Sendable () -> String
    private var phase = Phase.awaitingClientFirst

    private enum Phase {
        case awaitingClientFirst
        case awaitingClientFinal(Exchange)
        case awaitingAcknowledgement(user: String)
    }

    /// What the server-first message committed to, for checking the client's final message.
    private struct Exchange {
        var user: String
        /// False for a stand-in credential: the proof must then fail even if it happened to match.
        var userExists: Bool
        var credential: SCRAMCredential
        var gs2Header: String
        var nonce: String
        /// `client-first-message-bare "," server-first-message ","`: the AuthMessage before the final part.
        var authMessagePrefix: String
    }

    init(lookup: @escaping CredentialLookup, makeNonce: @escaping @Sendable () -> String) {
        self.lookup = lookup
        self.makeNonce = makeNonce
    }

    /// 18 random bytes (144 bits, so never guessed or repeated), base64 so they are printable and free of commas.
    static func randomNonce() -> String { Base64.encode(SecureRandom.bytes(18)) }

    mutating func step(_ response: [UInt8]?) async -> SASLOutcome {
        switch phase {
        case .awaitingClientFirst:
            // SCRAM is client-first: with no initial response, an empty challenge asks for it.
            guard let response else { return .challenge([]) }
            return await clientFirst(response)
        case .awaitingClientFinal(let exchange):
            return clientFinal(response ?? [], exchange: exchange)
        case .awaitingAcknowledgement(let user):
            // SMTP has no room for data with 235, so the client answers the server signature with an empty line.
            return response?.isEmpty ?? true ? .success(user: user) : .failure(.malformed)
        }
    }

    private mutating func clientFirst(_ response: [UInt8]) async -> SASLOutcome {
        let message: SCRAMClientFirst
        do { message = try SCRAMClientFirst(response) } catch { return .failure(error) }
        guard let user = SASLPrep.userName(message.user) else { return .failure(.malformed) }
        if let authzid = message.authorizationIdentity, SASLPrep.userName(authzid) != user {
            return .failure(.authorizationMismatch)
        }
        let stored = await lookup(user)
        let credential = stored ?? UnknownUsers.scramCredential(for: user)
        let nonce = message.clientNonce + makeNonce()
        let serverFirst = "r=\(nonce),s=\(Base64.encode(credential.salt)),i=\(credential.iterations)"
        phase = .awaitingClientFinal(
            Exchange(
                user: user, userExists: stored != nil, credential: credential, gs2Header: message.gs2Header,
                nonce: nonce, authMessagePrefix: "\(message.bare),\(serverFirst),"))
        return .challenge(Array(serverFirst.utf8))
    }

    private mutating func clientFinal(_ response: [UInt8], exchange: Exchange) -> SASLOutcome {
        let message: SCRAMClientFinal
        do { message = try SCRAMClientFinal(response) } catch { return .failure(error) }
        // The header must be the one the client started with, or someone changed the first message in transit.
        guard message.channelBinding == Array(exchange.gs2Header.utf8), message.nonce == exchange.nonce else {
            return .failure(.badCredentials)
        }
        let authMessage = Array((exchange.authMessagePrefix + message.withoutProof).utf8)
        let credential = exchange.credential
        let clientSignature = SCRAMFunctions.hmac(key: credential.storedKey, authMessage)
        let clientKey = SCRAMFunctions.xor(message.proof, clientSignature)
        let proven = constantTimeEquals(SCRAMFunctions.hash(clientKey), credential.storedKey)
        guard proven && exchange.userExists else { return .failure(.badCredentials) }
        let serverSignature = SCRAMFunctions.hmac(key: credential.serverKey, authMessage)
        phase = .awaitingAcknowledgement(user: exchange.user)
        return .challenge(Array("v=\(Base64.encode(serverSignature))".utf8))
    }
}
