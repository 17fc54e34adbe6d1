import SMTPCore

@testable import SMTPAuth

/// The client side of SCRAM-SHA-256, written from RFC 5802 §3 independently of the server's code paths
/// (it shares only the HMAC/SHA-256/PBKDF2 wrappers, which the RFC 7677 test vector checks).
struct SCRAMTestClient {
    /// The `n=` value, already escaped.
    var user: String
    var password: String
    var clientNonce = "fyko+d2lbbFgONRv9qkxdawL"
    var gs2Header = "n,,"

    var clientFirstBare: String { "n=\(user),r=\(clientNonce)" }
    var clientFirst: [UInt8] { Array((gs2Header + clientFirstBare).utf8) }

    struct Final {
        var message: [UInt8]
        /// The `v=` line the server must answer with.
        var expectedServerFinal: String
    }

    /// The client-final message for `serverFirst`; the overrides forge what an attacker would change.
    func clientFinal(
        serverFirst: String, nonce: String? = nil, channelBinding: String? = nil, extensions: String = "",
        password: String? = nil
    ) -> Final {
        var attributes: [Character: String] = [:]
        for field in serverFirst.split(separator: ",") { attributes[field.first!] = String(field.dropFirst(2)) }
        let salt = Base64.decode(attributes["s"]!)!
        let iterations = Int(attributes["i"]!)!
        let salted = SCRAMFunctions.saltedPassword(
            Array((password ?? self.password).utf8), salt: salt, iterations: iterations)
        let clientKey = SCRAMFunctions.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = SCRAMFunctions.hash(clientKey)
        let serverKey = SCRAMFunctions.hmac(key: salted, Array("Server Key".utf8))
        let binding = channelBinding ?? Base64.encode(Array(gs2Header.utf8))
        let withoutProof = "c=\(binding),r=\(nonce ?? attributes["r"]!)\(extensions)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = SCRAMFunctions.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverSignature = SCRAMFunctions.hmac(key: serverKey, authMessage)
        return Final(
            message: Array("\(withoutProof),p=\(Base64.encode(proof))".utf8),
            expectedServerFinal: "v=\(Base64.encode(serverSignature))")
    }
}
