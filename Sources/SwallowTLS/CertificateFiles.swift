/// A certificate chain and private key in PEM files.
///
/// The certificate file holds the leaf first, then any intermediates; the key file holds the leaf's private key
/// (PKCS#8, SEC1 or PKCS#1, unencrypted). Both may be the same file.
public struct CertificateFiles: Sendable, Hashable {
    /// The PEM file with the certificate chain, leaf first.
    public var certificatePath: String
    /// The PEM file with the leaf certificate's private key.
    public var keyPath: String

    /// Names the two files; nothing is read until a ``CertificateStore`` loads them.
    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// `<directory>/cert.pem` and `<directory>/key.pem`: the layout `swallow cert` writes.
    init(directory: String) {
        // Avoid `dir//cert.pem` when the directory was given with a trailing slash; only cosmetic, but it is printed.
        var base = directory
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        self.init(certificatePath: base + "/cert.pem", keyPath: base + "/key.pem")
    }
}
