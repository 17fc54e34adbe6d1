import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Self-signed certificates for development (`swallow cert`, and the development default when none is configured).
///
/// The certificate is a leaf, not a CA (`CA:FALSE`, extended key usage serverAuth): NSS-based clients refuse a CA
/// certificate presented as a server's. It has no key usage extension on purpose: BoringSSL (swift-nio-ssl clients)
/// accepts a certificate as its own trust anchor, for clients told to trust it, only if its key usage, when
/// present, allows certificate signing, which a non-CA must not assert (RFC 5280 §4.2.1.3).
public enum SelfSignedCertificate {
    /// P-256 ECDSA key; subject CN = first name; SANs: DNS names, and IP addresses for names that are IPv4/IPv6
    /// literals; valid from now-1h for `days`.
    ///
    /// The hour of slack lets clients whose clocks are a little behind accept a certificate made a moment ago.
    ///
    /// - Parameters:
    ///   - names: At least one. DNS names (ASCII, `*.` wildcards allowed) or IP address literals (`[::1]` too).
    ///   - days: How long the certificate is valid, at least 1.
    /// - Returns: The certificate and its PKCS#8 private key, PEM-encoded, each ending in a newline.
    public static func generate(
        names: [String], days: Int = 365
    ) throws(TLSSetupError) -> (certificatePEM: String, privateKeyPEM: String) {
        guard let commonName = names.first else {
            throw TLSSetupError(file: nil, reason: .invalidRequest, message: "a certificate needs at least one name")
        }
        guard days >= 1 else {
            throw TLSSetupError(file: nil, reason: .invalidRequest, message: "days must be at least 1, not \(days)")
        }
        var subjectNames: [SubjectName] = []
        for name in names {
            let parsed = try SubjectName(parsing: name)
            if !subjectNames.contains(parsed) { subjectNames.append(parsed) }
        }

        let key = P256.Signing.PrivateKey()
        let now = Date()
        do {
            let subject = try DistinguishedName { CommonName(commonName) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(subjectNames.map(\.generalName))
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now - 3600,
                notValidAfter: now + Double(days) * 86400,
                issuer: subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(key))
            return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
        } catch {
            throw TLSSetupError(file: nil, reason: .invalidRequest, message: "cannot create the certificate: \(error)")
        }
    }

    /// Writes `<directory>/cert.pem` and `<directory>/key.pem` (key mode 0600, directory created 0700), atomically.
    /// Returns the paths.
    ///
    /// Existing files are replaced. Each file is replaced atomically; the key is written first, so a reader between
    /// the two sees a key that does not match and refuses the pair rather than using half of it.
    public static func write(
        names: [String], to directory: String, days: Int = 365
    ) throws(TLSSetupError) -> CertificateFiles {
        let pem = try generate(names: names, days: days)
        try FileIO.makeDirectory(directory, mode: 0o700)
        let files = CertificateFiles(directory: directory)
        try FileIO.writeAtomically(files.keyPath, contents: pem.privateKeyPEM, mode: 0o600)
        try FileIO.writeAtomically(files.certificatePath, contents: pem.certificatePEM, mode: 0o644)
        return files
    }

    /// Returns the files in `directory` if both exist and load; otherwise generates new ones (the daemon's
    /// out-of-the-box STARTTLS on loopback).
    ///
    /// "Load" also means still valid and naming every one of `names`: after a year, or a change of host name, the
    /// daemon gets a fresh certificate instead of serving one that clients reject.
    public static func loadOrCreate(names: [String], in directory: String) throws(TLSSetupError) -> CertificateFiles {
        let files = CertificateFiles(directory: directory)
        if FileIO.exists(files.certificatePath) || FileIO.exists(files.keyPath),
            let loaded = try? LoadedCertificate(files),
            loaded.leaf.notValidAfter > Date(),
            covers(loaded.leaf, names)
        {
            return files
        }
        return try write(names: names, to: directory)
    }

    /// Whether `certificate`'s SANs include every one of `names` (unparseable names never match).
    private static func covers(_ certificate: Certificate, _ names: [String]) -> Bool {
        guard let sans = try? certificate.extensions.subjectAlternativeNames else { return false }
        return names.allSatisfy { name in
            guard let parsed = try? SubjectName(parsing: name) else { return false }
            return sans.contains(parsed.generalName)
        }
    }
}
