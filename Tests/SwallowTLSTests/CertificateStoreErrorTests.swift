import Foundation
import TestSupport
import Testing

@testable import SwallowTLS

/// Every refusal names the file and says what is wrong with it.
@Suite("Certificate store errors")
struct CertificateStoreErrorTests {
    private func expectError(
        _ files: [CertificateFiles], file: String?, reason: TLSSetupError.Reason, mentioning words: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: TLSSetupError.self, sourceLocation: sourceLocation) {
            _ = try CertificateStore(files)
        }
        guard let error else { return }
        #expect(error.file == file, "\(error)", sourceLocation: sourceLocation)
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        if let file { #expect(error.description.hasPrefix(file + ": "), sourceLocation: sourceLocation) }
        for word in words {
            #expect(error.description.contains(word), "\(error) should mention \(word)", sourceLocation: sourceLocation)
        }
    }

    @Test("a missing certificate or key file")
    func missingFiles() async throws {
        try await withTemporaryDirectory { directory in
            let good = try SelfSignedCertificate.write(names: ["a.test"], to: directory)
            let missing = directory + "/missing.pem"
            expectError(
                [CertificateFiles(certificatePath: missing, keyPath: good.keyPath)], file: missing, reason: .unreadable,
                mentioning: ["No such file"])
            expectError(
                [CertificateFiles(certificatePath: good.certificatePath, keyPath: missing)], file: missing,
                reason: .unreadable)
            expectError(
                [CertificateFiles(certificatePath: directory, keyPath: good.keyPath)], file: directory,
                reason: .unreadable)
        }
    }

    @Test("garbage, a DER file, a broken PEM block")
    func notPEM() async throws {
        try await withTemporaryDirectory { directory in
            let good = try SelfSignedCertificate.write(names: ["a.test"], to: directory)
            let garbage = directory + "/garbage.pem"
            try writeText("this is not a certificate\n", to: garbage)
            expectError(
                [CertificateFiles(certificatePath: garbage, keyPath: good.keyPath)], file: garbage, reason: .notPEM,
                mentioning: ["not a PEM file", "BEGIN CERTIFICATE"])
            expectError(
                [CertificateFiles(certificatePath: good.certificatePath, keyPath: garbage)], file: garbage,
                reason: .notPEM, mentioning: ["BEGIN PRIVATE KEY"])

            let der = directory + "/cert.der"
            let pemBody = try readText(good.certificatePath).split(separator: "\n").dropFirst().dropLast().joined()
            try Data(base64Encoded: pemBody)!.write(to: URL(fileURLWithPath: der))
            expectError([CertificateFiles(certificatePath: der, keyPath: good.keyPath)], file: der, reason: .notPEM)

            let cut = directory + "/cut.pem"
            try writeText(String(try readText(good.certificatePath).dropLast(30)), to: cut)
            expectError(
                [CertificateFiles(certificatePath: cut, keyPath: good.keyPath)], file: cut, reason: .notPEM,
                mentioning: ["no END line"])

            let badBase64 = directory + "/base64.pem"
            try writeText("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", to: badBase64)
            expectError(
                [CertificateFiles(certificatePath: badBase64, keyPath: good.keyPath)], file: badBase64,
                reason: .notPEM, mentioning: ["base64"])

            let notACertificate = directory + "/notcert.pem"
            try writeText("-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n", to: notACertificate)
            expectError(
                [CertificateFiles(certificatePath: notACertificate, keyPath: good.keyPath)], file: notACertificate,
                reason: .invalidCertificate, mentioning: ["certificate 1"])
        }
    }

    @Test("a file with the wrong kind of PEM block")
    func wrongBlocks() async throws {
        try await withTemporaryDirectory { directory in
            let good = try SelfSignedCertificate.write(names: ["a.test"], to: directory)
            // Swapped paths: the certificate file has only a key, the key file only a certificate.
            expectError(
                [CertificateFiles(certificatePath: good.keyPath, keyPath: good.keyPath)], file: good.keyPath,
                reason: .noCertificate, mentioning: ["no certificate in file", "PRIVATE KEY"])
            expectError(
                [CertificateFiles(certificatePath: good.certificatePath, keyPath: good.certificatePath)],
                file: good.certificatePath, reason: .noPrivateKey, mentioning: ["no private key in file"])

            let encrypted = directory + "/encrypted.pem"
            try writeText(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAECAwQF\n-----END ENCRYPTED PRIVATE KEY-----\n", to: encrypted)
            expectError(
                [CertificateFiles(certificatePath: good.certificatePath, keyPath: encrypted)], file: encrypted,
                reason: .encryptedPrivateKey, mentioning: ["encrypted"])

            let badKey = directory + "/badkey.pem"
            try writeText("-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n", to: badKey)
            expectError(
                [CertificateFiles(certificatePath: good.certificatePath, keyPath: badKey)], file: badKey,
                reason: .invalidPrivateKey)
        }
    }

    @Test("the key of another certificate")
    func keyMismatch() async throws {
        try await withTemporaryDirectory { directory in
            let a = try SelfSignedCertificate.write(names: ["a.test"], to: directory + "/a")
            let b = try SelfSignedCertificate.write(names: ["b.test"], to: directory + "/b")
            expectError(
                [CertificateFiles(certificatePath: a.certificatePath, keyPath: b.keyPath)], file: b.keyPath,
                reason: .keyMismatch, mentioning: ["does not match", a.certificatePath])
            // The problem in the second chain is found at load time too, not at its first SNI handshake.
            expectError(
                [a, CertificateFiles(certificatePath: b.certificatePath, keyPath: a.keyPath)], file: a.keyPath,
                reason: .keyMismatch, mentioning: [b.certificatePath])
        }
    }

    @Test("no certificate at all")
    func empty() {
        expectError([], file: nil, reason: .noCertificate)
    }

    @Test("accepted: certificate and key in one file, CRLF and 76-column lines, text around the blocks")
    func lenientPEM() async throws {
        try await withTemporaryDirectory { directory in
            let pem = try SelfSignedCertificate.generate(names: ["a.test"])
            let combined = directory + "/combined.pem"
            try writeText(pem.privateKeyPEM + pem.certificatePEM, to: combined)
            _ = try CertificateStore([CertificateFiles(certificatePath: combined, keyPath: combined)])

            func rewrap(_ block: String) -> String {
                let lines = block.split(separator: "\n")
                let body = lines.dropFirst().dropLast().joined()
                var wrapped: [String] = []
                var rest = Substring(body)
                while !rest.isEmpty {
                    wrapped.append(String(rest.prefix(76)))
                    rest = rest.dropFirst(76)
                }
                return ([String(lines.first!)] + wrapped + [String(lines.last!)]).joined(separator: "\r\n") + "\r\n"
            }
            let certificate = directory + "/cert.pem"
            let key = directory + "/key.pem"
            try writeText(
                "Bag Attributes\r\n    friendlyName: a.test\r\n" + rewrap(pem.certificatePEM), to: certificate)
            try writeText("Key Attributes: <No Attributes>\r\n" + rewrap(pem.privateKeyPEM), to: key)
            let files = CertificateFiles(certificatePath: certificate, keyPath: key)
            _ = try CertificateStore([files])
            #expect(
                try files.sha256Fingerprint()
                    == CertificateFiles(certificatePath: combined, keyPath: combined).sha256Fingerprint())
        }
    }

    @Test("accepted: RSA and SEC1 EC keys made by openssl", .enabled(if: OpenSSL.isAvailable))
    func opensslKeys() async throws {
        try await withTemporaryDirectory { directory in
            let rsaKey = directory + "/rsa.key"
            let rsaCertificate = directory + "/rsa.pem"
            try OpenSSL.run([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", rsaKey, "-out", rsaCertificate,
                "-subj", "/CN=rsa.test", "-addext", "subjectAltName=DNS:rsa.test", "-days", "1",
            ])
            let ecKey = directory + "/ec.key"
            let ecCertificate = directory + "/ec.pem"
            // `ecparam -genkey` writes an EC PARAMETERS block before the SEC1 EC PRIVATE KEY.
            let ecPEM = try OpenSSL.run(["ecparam", "-name", "prime256v1", "-genkey"])
            try writeText(ecPEM, to: ecKey)
            try OpenSSL.run([
                "req", "-x509", "-key", ecKey, "-out", ecCertificate, "-subj", "/CN=ec.test", "-days", "1",
            ])
            #expect(ecPEM.contains("BEGIN EC PARAMETERS") && ecPEM.contains("BEGIN EC PRIVATE KEY"))
            _ = try CertificateStore([
                CertificateFiles(certificatePath: rsaCertificate, keyPath: rsaKey),
                CertificateFiles(certificatePath: ecCertificate, keyPath: ecKey),
            ])
        }
    }
}
