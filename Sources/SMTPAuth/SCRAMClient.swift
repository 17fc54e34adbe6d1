import SMTPCore

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding, for `AUTH SCRAM-SHA-256`:
///
///     C: n,,n=<user>,r=<client nonce>
///     S: r=<client nonce + server nonce>,s=<salt>,i=<iterations>
///     C: c=biws,r=<nonce>,p=<proof>
///     S: v=<server signature>      (checked: a server that cannot prove it holds the keys is refused)
///     C: (empty)
///
/// The password never crosses the wire, and the server proves it knows the user's keys.
public struct SCRAMClient: SASLClientMechanism {
    public let name = "SCRAM-SHA-256"
    /// Iteration counts a server may ask for: at least RFC 7677's 4096, and bounded so that a hostile server
    /// cannot make the client burn minutes of CPU.
    public static let allowedIterations = 4096...1_000_000

    private let user: String
    private let password: String
    private let clientNonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8]?
    private var verified = false

    public init(user: String, password: String) {
        self.user = user
        self.password = password
        self.clientNonce = Base64.encode(SecureRandom.bytes(18))
    }

    public var acceptsSuccess: Bool { verified }

    public mutating func initialResponse() -> [UInt8]? {
        // saslname: "=" and "," escaped (RFC 5802 §5.1).
        let name = SASLPrep.prepare(user).replacingOccurrences("=", "=3D").replacingOccurrences(",", "=2C")
        clientFirstBare = "n=\(name),r=\(clientNonce)"
        return Array("n,,\(clientFirstBare)".utf8)
    }

    public mutating func respond(to challenge: [UInt8]) -> [UInt8]? {
        if let expected = expectedServerSignature {
            // server-final-message = "v=" base64 ServerSignature
            guard let text = String(validating: challenge, as: UTF8.self), text.hasPrefix("v="),
                let signature = Base64.decode(String(text.dropFirst(2))),
                constantTimeEquals(signature, expected)
            else { return nil }
            verified = true
            return []
        }
        // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
        guard let serverFirst = String(validating: challenge, as: UTF8.self) else { return nil }
        var attributes: [Character: String] = [:]
        for field in serverFirst.split(separator: ",") where field.count >= 2 && field.dropFirst().first == "=" {
            attributes[field.first!] = String(field.dropFirst(2))
        }
        guard attributes["m"] == nil, let nonce = attributes["r"], nonce.hasPrefix(clientNonce),
            nonce.count > clientNonce.count, let salt = attributes["s"].flatMap(Base64.decode), !salt.isEmpty,
            let iterations = attributes["i"].flatMap({ Int($0) }), Self.allowedIterations.contains(iterations)
        else { return nil }
        let salted = SCRAMFunctions.saltedPassword(
            Array(SASLPrep.prepare(password).utf8), salt: salt, iterations: iterations)
        let clientKey = SCRAMFunctions.hmac(key: salted, SCRAMFunctions.clientKeyLabel)
        let storedKey = SCRAMFunctions.hash(clientKey)
        let serverKey = SCRAMFunctions.hmac(key: salted, SCRAMFunctions.serverKeyLabel)
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let proof = SCRAMFunctions.xor(clientKey, SCRAMFunctions.hmac(key: storedKey, authMessage))
        expectedServerSignature = SCRAMFunctions.hmac(key: serverKey, authMessage)
        return Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
