import NIOSSL
import SwiftASN1
import X509

/// A certificate chain and its key, read from disk and checked: everything a server context is built from.
///
/// Every problem is found here, while loading, with the file named: at handshake time BoringSSL could only fail the
/// connection with an opaque alert.
struct LoadedCertificate: Sendable {
    let files: CertificateFiles
    /// Leaf first, as NIOSSL wants it.
    let chain: [NIOSSLCertificate]
    let privateKey: NIOSSLPrivateKey
    /// The leaf, parsed by swift-certificates for its names and public key.
    let leaf: Certificate
    /// The leaf's DNS subject alternative names, lowercased, without trailing dots: what SNI is matched against.
    let dnsNames: [String]

    /// Reads and checks `files`. Blocking file I/O: not for an event loop.
    init(_ files: CertificateFiles) throws(TLSSetupError) {
        let certificates = try Self.readCertificates(files.certificatePath)
        let key = try Self.readPrivateKey(files.keyPath)

        let leaf = certificates[0].certificate
        guard leaf.publicKey == key.certificateKey.publicKey else {
            throw TLSSetupError(
                file: files.keyPath, reason: .keyMismatch,
                message: "the private key does not match the certificate in \(files.certificatePath)")
        }
        let names: SubjectAlternativeNames?
        do {
            names = try leaf.extensions.subjectAlternativeNames
        } catch {
            throw TLSSetupError(
                file: files.certificatePath, reason: .invalidCertificate,
                message: "the subject alternative names cannot be parsed: \(error)")
        }

        self.files = files
        self.chain = certificates.map(\.nioCertificate)
        self.privateKey = key.nioKey
        self.leaf = leaf
        self.dnsNames = (names ?? SubjectAlternativeNames()).compactMap { name in
            guard case .dnsName(let dns) = name else { return nil }
            return ServerNameMatcher.normalize(dns)
        }
    }

    /// One certificate of a chain, parsed by both libraries.
    struct ParsedCertificate: Sendable {
        let der: [UInt8]
        let certificate: Certificate
        let nioCertificate: NIOSSLCertificate
    }

    /// The certificates in a PEM file, in order; at least one.
    static func readCertificates(_ path: String) throws(TLSSetupError) -> [ParsedCertificate] {
        let blocks = try readBlocks(path, expecting: "CERTIFICATE")
        let certificateBlocks = blocks.filter { $0.label == "CERTIFICATE" }
        guard !certificateBlocks.isEmpty else {
            throw TLSSetupError(file: path, reason: .noCertificate, message: "no certificate in file\(found(blocks))")
        }
        var result: [ParsedCertificate] = []
        for (index, block) in certificateBlocks.enumerated() {
            do {
                result.append(
                    ParsedCertificate(
                        der: block.der,
                        certificate: try Certificate(derEncoded: block.der),
                        nioCertificate: try NIOSSLCertificate(bytes: block.der, format: .der)))
            } catch {
                throw TLSSetupError(
                    file: path, reason: .invalidCertificate,
                    message: "certificate \(index + 1) is not a valid X.509 certificate: \(error)")
            }
        }
        return result
    }

    /// The first private key in a PEM file, parsed by both libraries.
    private static func readPrivateKey(
        _ path: String
    ) throws(TLSSetupError) -> (certificateKey: Certificate.PrivateKey, nioKey: NIOSSLPrivateKey) {
        let blocks = try readBlocks(path, expecting: "PRIVATE KEY")
        guard let block = blocks.first(where: { $0.label.hasSuffix("PRIVATE KEY") }) else {
            throw TLSSetupError(file: path, reason: .noPrivateKey, message: "no private key in file\(found(blocks))")
        }
        guard block.label != "ENCRYPTED PRIVATE KEY" && !block.isEncrypted else {
            throw TLSSetupError(
                file: path, reason: .encryptedPrivateKey,
                message: "the private key is encrypted; decrypt it (openssl pkey -in FILE -out FILE)")
        }
        do {
            let pem = block.pemString
            return (
                try Certificate.PrivateKey(pemEncoded: pem), try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem)
            )
        } catch {
            throw TLSSetupError(
                file: path, reason: .invalidPrivateKey, message: "the \(block.label) cannot be used: \(error)")
        }
    }

    private static func readBlocks(_ path: String, expecting label: String) throws(TLSSetupError) -> [PEMBlock] {
        let bytes = try FileIO.readFile(path)
        let blocks = try PEM.blocks(in: String(decoding: bytes, as: UTF8.self), file: path)
        guard !blocks.isEmpty else {
            // The usual cause is a DER file or the wrong file altogether; say what PEM looks like.
            throw TLSSetupError(
                file: path, reason: .notPEM, message: "not a PEM file (no \"-----BEGIN \(label)-----\" line)")
        }
        return blocks
    }

    private static func found(_ blocks: [PEMBlock]) -> String {
        " (found \(blocks.map(\.label).joined(separator: ", ")))"
    }
}
