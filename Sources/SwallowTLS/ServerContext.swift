import NIOCore
import NIOSSL

/// Builds the server `NIOSSLContext` for a set of loaded chains.
///
/// The first chain is the context's own certificate, so a client that sends no SNI (or an unknown name) gets it
/// with no extra work. With more than one chain, `sslContextCallback` (BoringSSL's certificate callback, which runs
/// for every ClientHello, with or without SNI) swaps in the chain matching the server name. The chains are
/// captured when the context is built, so a context never changes: reloading builds a new one.
enum ServerContext {
    /// A context for `chains` (at least one). Cheap for a server (no trust store is loaded) but does parse keys:
    /// not for an event loop.
    static func make(_ chains: [LoadedCertificate]) throws(TLSSetupError) -> NIOSSLContext {
        precondition(!chains.isEmpty, "a server context needs a certificate")
        // Build a context for each further chain too, and throw it away: BoringSSL checks the chain and key now,
        // with the file named, instead of failing a handshake later when SNI selects them.
        for chain in chains.dropFirst() {
            _ = try context(configuration(default: chain), files: chain.files)
        }
        var configuration = configuration(default: chains[0])
        if chains.count > 1 {
            let matcher = ServerNameMatcher(chains.map(\.dnsNames))
            let overrides = chains.map { chain in
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = chain.chain.map { .certificate($0) }
                override.privateKey = .privateKey(chain.privateKey)
                return override
            }
            configuration.sslContextCallback = { values, promise in
                // Index 0 is already the context's certificate: no override needed.
                guard let name = values.serverHostname, let index = matcher.chainIndex(for: name), index != 0 else {
                    promise.succeed(.noChanges)
                    return
                }
                promise.succeed(overrides[index])
            }
        }
        return try context(configuration, files: chains[0].files)
    }

    /// TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1; RFC 8314 asks mail to follow); 1.3 the ceiling,
    /// the newest version BoringSSL speaks.
    private static func configuration(default chain: LoadedCertificate) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.chain.map { .certificate($0) },
            privateKey: .privateKey(chain.privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        return configuration
    }

    private static func context(
        _ configuration: TLSConfiguration, files: CertificateFiles
    ) throws(TLSSetupError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(
                file: files.certificatePath, reason: .rejectedByTLS,
                message: "the certificate and the key in \(files.keyPath) cannot be used for TLS: \(error)")
        }
    }
}
