import Crypto

extension CertificateFiles {
    /// The SHA-256 fingerprint of the first (leaf) certificate, as `AB:CD:…`, the form
    /// `openssl x509 -noout -fingerprint -sha256` prints: for logs, and for users to compare or pin.
    public func sha256Fingerprint() throws(TLSSetupError) -> String {
        let leaf = try LoadedCertificate.readCertificates(certificatePath)[0]
        return SHA256.hash(data: leaf.der).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
