import Crypto
import Foundation
import SwiftASN1
import TestSupport
import Testing
import X509

@testable import SwallowTLS

@Suite("Self-signed certificates")
struct SelfSignedCertificateTests {
    @Test("generate: the PEM parses back with the names as SANs, the key matching, a leaf valid from an hour ago")
    func generateParsesBack() throws {
        let before = Date()
        let pem = try SelfSignedCertificate.generate(
            names: ["mx.example.test", "127.0.0.1", "::1", "[fe80::1]", "*.example.test"], days: 30)
        let certificate = try Certificate(pemEncoded: pem.certificatePEM)
        let key = try P256.Signing.PrivateKey(pemRepresentation: pem.privateKeyPEM)

        #expect(pem.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(pem.certificatePEM.hasSuffix("-----END CERTIFICATE-----\n"))
        #expect(certificate.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(certificate.subject == (try DistinguishedName { CommonName("mx.example.test") }))
        #expect(certificate.issuer == certificate.subject)

        let sans = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(
            Array(sans) == [
                .dnsName("mx.example.test"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                .dnsName("*.example.test"),
            ])
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        // With a key usage lacking keyCertSign, BoringSSL would not accept the certificate as its own trust anchor.
        #expect(try certificate.extensions.keyUsage == nil)

        #expect(abs(certificate.notValidBefore.timeIntervalSince(before) + 3600) < 60)
        #expect(abs(certificate.notValidAfter.timeIntervalSince(before) - 30 * 86400) < 60)
    }

    @Test("generate: names are normalised and deduplicated; bad requests are refused")
    func generateValidatesNames() throws {
        let pem = try SelfSignedCertificate.generate(names: ["Mail.Example.TEST.", "mail.example.test"])
        let certificate = try Certificate(pemEncoded: pem.certificatePEM)
        #expect(
            Array(try #require(try certificate.extensions.subjectAlternativeNames)) == [.dnsName("mail.example.test")])

        for (names, days) in [([], 365), (["bad name"], 365), (["a.*.test"], 365), (["ü.test"], 365), (["ok.test"], 0)]
        {
            let error = #expect(throws: TLSSetupError.self, "names \(names), days \(days)") {
                try SelfSignedCertificate.generate(names: names, days: days)
            }
            #expect(error?.reason == .invalidRequest)
        }
    }

    @Test("write: cert.pem and key.pem, key 0600, new directory 0700; the files load")
    func writeModes() async throws {
        try await withTemporaryDirectory { base in
            let directory = base + "/data/tls/"
            let files = try SelfSignedCertificate.write(names: ["localhost", "127.0.0.1"], to: directory)

            #expect(
                files
                    == CertificateFiles(
                        certificatePath: base + "/data/tls/cert.pem", keyPath: base + "/data/tls/key.pem"))
            #expect(try permissions(files.keyPath) == 0o600)
            #expect(try permissions(files.certificatePath) == 0o644)
            #expect(try permissions(base + "/data/tls") == 0o700)
            #expect(try permissions(base + "/data") == 0o700)
            // No temporary files left behind by the atomic writes.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["cert.pem", "key.pem"])
            _ = try CertificateStore([files])

            let certificate = try Certificate(pemEncoded: try readText(files.certificatePath))
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let der = serializer.serializedBytes
            #expect(try files.sha256Fingerprint() == sha256Fingerprint(of: der))
        }
    }

    @Test("write: replacing existing files keeps the key 0600 even if it was wider before")
    func writeReplaces() async throws {
        try await withTemporaryDirectory { directory in
            let first = try SelfSignedCertificate.write(names: ["a.test"], to: directory)
            chmod(first.keyPath, 0o644)
            let second = try SelfSignedCertificate.write(names: ["b.test"], to: directory)
            #expect(first == second)
            #expect(try permissions(second.keyPath) == 0o600)
            let certificate = try Certificate(pemEncoded: try readText(second.certificatePath))
            #expect(Array(try #require(try certificate.extensions.subjectAlternativeNames)) == [.dnsName("b.test")])
        }
    }

    @Test(
        "loadOrCreate: creates, then reuses the same files; regenerates corrupt, expired-for-the-names or mismatched ones"
    )
    func loadOrCreate() async throws {
        try await withTemporaryDirectory { base in
            let directory = base + "/tls"
            let names = ["localhost", "127.0.0.1", "::1"]
            let created = try SelfSignedCertificate.loadOrCreate(names: names, in: directory)
            let fingerprint = try created.sha256Fingerprint()

            let reused = try SelfSignedCertificate.loadOrCreate(names: names, in: directory)
            #expect(reused == created)
            #expect(try reused.sha256Fingerprint() == fingerprint)
            // A subset of the names is covered too.
            #expect(
                try SelfSignedCertificate.loadOrCreate(names: ["::1"], in: directory).sha256Fingerprint() == fingerprint
            )

            try writeText("-----BEGIN CERTIFICATE-----\ngarbage\n", to: created.certificatePath)
            let regenerated = try SelfSignedCertificate.loadOrCreate(names: names, in: directory)
            let newFingerprint = try regenerated.sha256Fingerprint()
            #expect(newFingerprint != fingerprint)
            _ = try CertificateStore([regenerated])

            // A key that is not the certificate's: regenerated, not served broken.
            let other = try SelfSignedCertificate.generate(names: names)
            try writeText(other.privateKeyPEM, to: regenerated.keyPath)
            let fixed = try SelfSignedCertificate.loadOrCreate(names: names, in: directory)
            #expect(try fixed.sha256Fingerprint() != newFingerprint)
            _ = try CertificateStore([fixed])

            // A host name the certificate does not cover: regenerated with it.
            let renamed = try SelfSignedCertificate.loadOrCreate(names: ["mx.example.test"] + names, in: directory)
            let certificate = try Certificate(pemEncoded: try readText(renamed.certificatePath))
            #expect(try certificate.extensions.subjectAlternativeNames?.contains(.dnsName("mx.example.test")) == true)
        }
    }

    @Test("loadOrCreate: an expired certificate is replaced")
    func loadOrCreateExpired() async throws {
        try await withTemporaryDirectory { directory in
            let files = try SelfSignedCertificate.write(names: ["localhost"], to: directory)
            // Replace the certificate with one for the same key that expired yesterday.
            let key = try P256.Signing.PrivateKey(pemRepresentation: try readText(files.keyPath))
            let name = try DistinguishedName { CommonName("localhost") }
            let expired = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: Date() - 3 * 86400, notValidAfter: Date() - 86400, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName("localhost")]) },
                issuerPrivateKey: .init(key))
            try writeText(try expired.serializeAsPEM().pemString + "\n", to: files.certificatePath)
            let before = try files.sha256Fingerprint()
            _ = try CertificateStore([files])  // expired certificates still load; only loadOrCreate replaces them

            let renewed = try SelfSignedCertificate.loadOrCreate(names: ["localhost"], in: directory)
            #expect(try renewed.sha256Fingerprint() != before)
            #expect(try Certificate(pemEncoded: try readText(renewed.certificatePath)).notValidAfter > Date())
        }
    }

    @Test("openssl reads what was written: the text form, the fingerprint, the key", .enabled(if: OpenSSL.isAvailable))
    func opensslAgrees() async throws {
        try await withTemporaryDirectory { directory in
            let files = try SelfSignedCertificate.write(names: ["localhost", "127.0.0.1", "::1"], to: directory)
            let text = try OpenSSL.run(["x509", "-in", files.certificatePath, "-noout", "-text"])
            #expect(text.contains("Subject: CN = localhost"))
            #expect(text.contains("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"))
            #expect(text.contains("CA:FALSE"))
            #expect(text.contains("TLS Web Server Authentication"))
            #expect(text.contains("ecdsa-with-SHA256"))
            #expect(text.contains("prime256v1"))

            let fingerprint = try OpenSSL.run([
                "x509", "-in", files.certificatePath, "-noout", "-fingerprint", "-sha256",
            ])
            #expect(
                fingerprint.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines)
                    == (try files.sha256Fingerprint()))

            let certificateKey = try OpenSSL.run(["x509", "-in", files.certificatePath, "-noout", "-pubkey"])
            let privateKey = try OpenSSL.run(["pkey", "-in", files.keyPath, "-pubout"])
            #expect(certificateKey == privateKey)
            // The self-signed leaf verifies as its own trust anchor, for the host names it carries.
            let verified = try OpenSSL.run([
                "verify", "-CAfile", files.certificatePath, "-verify_hostname", "localhost", files.certificatePath,
            ])
            #expect(verified.contains("OK"))
        }
    }
}
