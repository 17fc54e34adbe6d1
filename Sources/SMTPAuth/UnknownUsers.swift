import Crypto

/// Stand-ins for users who do not exist, so that neither timing nor SCRAM parameters reveal which accounts do.
enum UnknownUsers {
    /// Checked by PLAIN and LOGIN when the lookup finds nobody, to spend the same PBKDF2 work as for a user.
    static let decoy = SCRAMCredential.decoy()

    /// Keys the made-up SCRAM salts. Random per process: an attacker cannot predict a salt, and one name gets
    /// the same salt every time it is tried (a real user's salt does not change either) until a restart.
    private static let saltKey = SymmetricKey(size: .bits256)

    /// A credential for SCRAM's server-first message: a salt derived from the name, the default iteration count
    /// and random keys, so the exchange looks like a real user's and fails at the proof.
    static func scramCredential(for user: String) -> SCRAMCredential {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("scram-salt:\(user)".utf8), using: saltKey)
        var credential = SCRAMCredential.decoy()
        credential.salt = Array(Array(mac).prefix(SCRAMCredential.saltByteCount))
        return credential
    }
}
