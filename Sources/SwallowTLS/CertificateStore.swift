import NIOSSL
import Synchronization

/// The server's certificates: one or more chains; the first is the default, others are chosen by SNI (the client's
/// server name matched against each certificate's DNS SANs, wildcards `*.example.test` one label deep,
/// case-insensitive).
///
/// `reload()` re-reads all files and swaps atomically; if anything is wrong it keeps the old set and returns the
/// error. TLS 1.2 minimum, TLS 1.3 maximum.
///
/// ```swift
/// let store = try CertificateStore([CertificateFiles(certificatePath: "cert.pem", keyPath: "key.pem")])
/// // per connection, e.g. on STARTTLS:
/// try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: store.context()), position: .first)
/// ```
public final class CertificateStore: Sendable {
    /// The files, in the order given: the first chain is the default.
    public let certificates: [CertificateFiles]
    private let current: Mutex<NIOSSLContext>
    /// Serialises reloads so that two racing ones cannot install an older reading of the files last.
    private let reloading = Mutex(())

    /// Loads and checks every chain. Blocking file I/O: call it before starting the server, not on an event loop.
    ///
    /// - Throws: the first problem found, naming its file; also when `certificates` is empty.
    public init(_ certificates: [CertificateFiles]) throws(TLSSetupError) {
        self.certificates = certificates
        self.current = Mutex(try Self.makeContext(certificates))
    }

    /// Re-reads all files and, if every chain loads, makes new connections use them; connections already
    /// established keep the certificates they were set up with. Blocking file I/O: not on an event loop.
    ///
    /// - Returns: nil on success; otherwise the problem, and the previous certificates stay in use.
    @discardableResult
    public func reload() -> TLSSetupError? {
        reloading.withLock { _ -> TLSSetupError? in
            let context: NIOSSLContext
            do throws(TLSSetupError) {
                context = try Self.makeContext(certificates)
            } catch {
                return error
            }
            current.withLock { $0 = context }
            return nil
        }
    }

    /// The context for a new connection. Cheap; reflects the latest successful reload; SNI works through it.
    ///
    /// Call it for each connection rather than keeping one: a kept context never sees a reload.
    public func context() -> NIOSSLContext {
        current.withLock { $0 }
    }

    private static func makeContext(_ certificates: [CertificateFiles]) throws(TLSSetupError) -> NIOSSLContext {
        guard !certificates.isEmpty else {
            throw TLSSetupError(file: nil, reason: .noCertificate, message: "no certificate configured")
        }
        var chains: [LoadedCertificate] = []
        for files in certificates { chains.append(try LoadedCertificate(files)) }
        return try ServerContext.make(chains)
    }
}
