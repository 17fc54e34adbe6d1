import Foundation
import NIOSSL
import TestSupport
import Testing

@testable import SwallowTLS

/// Real handshakes over loopback between a NIO server using `CertificateStore.context()` and a NIO client.
@Suite("TLS handshakes")
struct HandshakeTests {
    /// Two chains, a.test (the default) and b.test, in `directory/a` and `directory/b`, and a server using them.
    private func withTwoCertificateServer(
        _ body: (_ a: CertificateFiles, _ b: CertificateFiles, CertificateStore, LoopbackTLSServer) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let a = try SelfSignedCertificate.write(names: ["a.test"], to: directory + "/a")
            let b = try SelfSignedCertificate.write(names: ["b.test", "*.b.test"], to: directory + "/b")
            let store = try CertificateStore([a, b])
            let server = try await LoopbackTLSServer.start(store)
            do {
                try await body(a, b, store, server)
            } catch {
                try await server.stop()
                throw error
            }
            try await server.stop()
        }
    }

    private func certificates(_ files: CertificateFiles...) throws -> [NIOSSLCertificate] {
        try files.flatMap { try NIOSSLCertificate.fromPEMFile($0.certificatePath) }
    }

    @Test("SNI chooses the certificate; no SNI or an unknown name gets the first; clients verify what they get")
    func sni() async throws {
        try await withTwoCertificateServer { a, b, _, server in
            let trusted = try certificates(a, b)

            let toB = try await handshake(
                port: server.port, serverHostname: "b.test",
                configuration: verifyingClient(trusting: trusted, serverHostname: "b.test"))
            #expect(try toB.fingerprint() == b.sha256Fingerprint())

            let toWildcard = try await handshake(
                port: server.port, serverHostname: "MX.B.Test",
                configuration: verifyingClient(trusting: trusted, serverHostname: "MX.B.Test"))
            #expect(try toWildcard.fingerprint() == b.sha256Fingerprint())

            let toA = try await handshake(
                port: server.port, serverHostname: "a.test",
                configuration: verifyingClient(trusting: trusted, serverHostname: "a.test"))
            #expect(try toA.fingerprint() == a.sha256Fingerprint())

            let noSNI = try await handshake(
                port: server.port, serverHostname: nil,
                configuration: verifyingClient(trusting: trusted, serverHostname: nil))
            #expect(try noSNI.fingerprint() == a.sha256Fingerprint())

            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            let unknown = try await handshake(port: server.port, serverHostname: "c.test", configuration: unverified)
            #expect(try unknown.fingerprint() == a.sha256Fingerprint())

            // A client that checks the name refuses a.test's certificate for c.test: verification is real here.
            await #expect(throws: (any Error).self) {
                try await handshake(
                    port: server.port, serverHostname: "c.test",
                    configuration: verifyingClient(trusting: trusted, serverHostname: "c.test"))
            }
        }
    }

    @Test("TLS 1.3 by default, 1.2 accepted, 1.1 and 1.0 refused; the server can read the negotiated version")
    func versions() async throws {
        try await withTwoCertificateServer { _, _, _, server in
            var client = TLSConfiguration.makeClientConfiguration()
            client.certificateVerification = .none

            let modern = try await handshake(port: server.port, serverHostname: "a.test", configuration: client)
            #expect(modern.version == .tlsv13)

            client.maximumTLSVersion = .tlsv12
            let tls12 = try await handshake(port: server.port, serverHostname: "b.test", configuration: client)
            #expect(tls12.version == .tlsv12)

            #expect(server.serverSeenVersions == [.tlsv13, .tlsv12])

            client.minimumTLSVersion = .tlsv1
            for maximum in [TLSVersion.tlsv11, .tlsv1] {
                client.maximumTLSVersion = maximum
                await #expect(throws: (any Error).self, "a \(maximum)-only client must be refused") {
                    try await handshake(port: server.port, serverHostname: "a.test", configuration: client)
                }
            }
            #expect(server.serverSeenVersions.count == 2)
        }
    }

    @Test("reload: new connections get the new certificates, with and without SNI; a bad file keeps the old ones")
    func reload() async throws {
        try await withTwoCertificateServer { a, b, store, server in
            var client = TLSConfiguration.makeClientConfiguration()
            client.certificateVerification = .none
            func served(_ name: String?) async throws -> String {
                try await handshake(port: server.port, serverHostname: name, configuration: client).fingerprint()
            }
            let oldA = try a.sha256Fingerprint()
            let oldB = try b.sha256Fingerprint()
            #expect(try await served(nil) == oldA)
            #expect(try await served("b.test") == oldB)
            let contextBefore = store.context()

            // Replace both chains on disk; nothing changes until reload().
            _ = try SelfSignedCertificate.write(
                names: ["a.test"], to: URL(fileURLWithPath: a.certificatePath).deletingLastPathComponent().path)
            _ = try SelfSignedCertificate.write(
                names: ["b.test"], to: URL(fileURLWithPath: b.certificatePath).deletingLastPathComponent().path)
            let newA = try a.sha256Fingerprint()
            let newB = try b.sha256Fingerprint()
            #expect(newA != oldA && newB != oldB)
            #expect(try await served(nil) == oldA)

            #expect(store.reload() == nil)
            #expect(store.context() !== contextBefore)
            #expect(try await served(nil) == newA)
            #expect(try await served("a.test") == newA)
            #expect(try await served("b.test") == newB)

            // Garbage in the second chain: reload fails naming it, and both old chains stay in service.
            let contextAfterReload = store.context()
            try writeText("garbage\n", to: b.certificatePath)
            let error = try #require(store.reload())
            #expect(error.file == b.certificatePath)
            #expect(error.reason == .notPEM)
            #expect(store.context() === contextAfterReload)
            #expect(try await served(nil) == newA)
            #expect(try await served("b.test") == newB)

            // A key that no longer matches is refused the same way.
            _ = try SelfSignedCertificate.write(
                names: ["b.test"], to: URL(fileURLWithPath: b.certificatePath).deletingLastPathComponent().path)
            try writeText(try SelfSignedCertificate.generate(names: ["x.test"]).privateKeyPEM, to: a.keyPath)
            #expect(store.reload()?.reason == .keyMismatch)
            #expect(try await served("b.test") == newB)
        }
    }

    @Test("a single certificate is served with and without SNI (no SNI callback involved)")
    func single() async throws {
        try await withTemporaryDirectory { directory in
            let files = try SelfSignedCertificate.write(names: ["localhost", "127.0.0.1"], to: directory)
            let store = try CertificateStore([files])
            let server = try await LoopbackTLSServer.start(store)
            do {
                let trusted = try NIOSSLCertificate.fromPEMFile(files.certificatePath)
                for name in ["localhost", "other.test", nil] as [String?] {
                    var client = verifyingClient(trusting: trusted, serverHostname: nil)
                    client.certificateVerification = .noHostnameVerification
                    let result = try await handshake(port: server.port, serverHostname: name, configuration: client)
                    #expect(try result.fingerprint() == files.sha256Fingerprint())
                }
                // The IP SAN is what a client connecting to 127.0.0.1 without a name checks.
                var byAddress = verifyingClient(trusting: trusted, serverHostname: nil)
                byAddress.certificateVerification = .fullVerification
                _ = try await handshake(port: server.port, serverHostname: nil, configuration: byAddress)
            } catch {
                try await server.stop()
                throw error
            }
            try await server.stop()
        }
    }
}
