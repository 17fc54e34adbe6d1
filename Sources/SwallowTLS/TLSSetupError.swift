/// A certificate or key Swallow cannot use, naming the file and what is wrong with it,
/// for example `tls/key.pem: the private key does not match the certificate in tls/cert.pem`.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What kind of problem it is, for callers that react differently (the message is for people).
    public enum Reason: Sendable, Hashable {
        /// The file cannot be opened or read (missing, permissions, a directory, too large).
        case unreadable
        /// The file has no `-----BEGIN …-----` block, or a block is malformed.
        case notPEM
        /// The certificate file has PEM blocks but no `CERTIFICATE`, or no certificate is configured at all.
        case noCertificate
        /// A `CERTIFICATE` block is not a certificate Swallow can parse.
        case invalidCertificate
        /// The key file has no `PRIVATE KEY` block.
        case noPrivateKey
        /// The private key is encrypted; Swallow has no passphrase to decrypt it with.
        case encryptedPrivateKey
        /// The private key block cannot be parsed, or is of an unsupported type.
        case invalidPrivateKey
        /// The private key is not the key of the leaf certificate.
        case keyMismatch
        /// A file or directory cannot be created or written.
        case unwritable
        /// A request to generate a certificate is invalid (no names, a malformed name, a bad duration).
        case invalidRequest
        /// The TLS library refused the certificate and key.
        case rejectedByTLS
    }

    /// The file concerned, or nil when the problem is not about one file.
    public let file: String?
    /// The kind of problem.
    public let reason: Reason
    /// What is wrong, for people.
    public let message: String

    /// An error about `file` (nil when no single file is at fault).
    public init(file: String?, reason: Reason, message: String) {
        self.file = file
        self.reason = reason
        self.message = message
    }

    /// `file: message`, or the message alone.
    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }
}
