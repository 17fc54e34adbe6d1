import SMTPCore

extension SCRAMCredential {
    /// The scheme name that starts every encoded credential, so that other schemes can be told apart later.
    static let scheme = "SCRAM-SHA-256"

    /// The credential as one line of text:
    /// `SCRAM-SHA-256$<iterations>$<base64 salt>$<base64 StoredKey>$<base64 ServerKey>`.
    ///
    /// The text holds no `:`, whitespace or `#`, so it fits after the address in the users file.
    public var encoded: String {
        [Self.scheme, String(iterations), Base64.encode(salt), Base64.encode(storedKey), Base64.encode(serverKey)]
            .joined(separator: "$")
    }

    /// Decodes ``encoded``; nil when the scheme is not SCRAM-SHA-256, the iteration count is not a decimal
    /// number within ``allowedIterations``, the salt is empty, a key is not 32 bytes or any part is not base64.
    public init?(encoded: String) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == Self.scheme else { return nil }
        // Digits only: `Int("+5")` would succeed, and a count is never written with a sign.
        guard !fields[1].isEmpty, fields[1].utf8.count <= 9, fields[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let iterations = Int(fields[1]), Self.allowedIterations.contains(iterations)
        else { return nil }
        guard let salt = Base64.decode(fields[2]), !salt.isEmpty,
            let storedKey = Base64.decode(fields[3]), storedKey.count == 32,
            let serverKey = Base64.decode(fields[4]), serverKey.count == 32
        else { return nil }
        self.init(salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }
}
