import Crypto
import _CryptoExtras

/// The functions of RFC 5802 §2.2 with SHA-256 as H (RFC 7677), on plain byte arrays.
enum SCRAMFunctions {
    /// `HMAC(key, message)`, HMAC-SHA-256.
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// `H(bytes)`, SHA-256.
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// `Hi(password, salt, i)`, which is PBKDF2 with HMAC-SHA-256 and a 32-byte output.
    static func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        // The checked `rounds:` variant refuses fewer than 210,000 rounds, but SCRAM counts come from the users
        // file and from RFC 7677's test vector (4096); `SCRAMCredential` bounds the count itself.
        let key: SymmetricKey
        do {
            key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        } catch {
            // BoringSSL fails only on parameters already checked by the caller or on allocation failure.
            fatalError("PBKDF2 failed: \(error)")
        }
        return key.withUnsafeBytes { Array($0) }
    }

    static func xor(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        precondition(lhs.count == rhs.count, "XOR of byte strings of different lengths")
        return zip(lhs, rhs).map { $0 ^ $1 }
    }

    static let clientKeyLabel = Array("Client Key".utf8)
    static let serverKeyLabel = Array("Server Key".utf8)
}
