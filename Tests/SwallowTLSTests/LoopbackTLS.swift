import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwallowTLS
import Synchronization
import Testing

/// A TLS server on 127.0.0.1 that takes a fresh context from a `CertificateStore` for every connection, as the SMTP
/// server does on STARTTLS, and records the TLS version of each completed handshake as the server sees it.
final class LoopbackTLSServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let recorder: VersionRecorder

    private init(channel: any Channel, recorder: VersionRecorder) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.recorder = recorder
    }

    /// The TLS versions the server read with `nioSSL_tlsVersion()` after each handshake, in order.
    var serverSeenVersions: [TLSVersion?] { recorder.versions.withLock { $0 } }

    static func start(_ store: CertificateStore) async throws -> LoopbackTLSServer {
        let recorder = VersionRecorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: store.context()))
                    try channel.pipeline.syncOperations.addHandler(ServerHandshakeHandler(recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return LoopbackTLSServer(channel: channel, recorder: recorder)
    }

    func stop() async throws {
        try await channel.close()
    }
}

/// Shares the server's record between the handlers of all its connections.
private final class VersionRecorder: Sendable {
    let versions = Mutex<[TLSVersion?]>([])
}

/// On the server: after the handshake, asks NIOSSL for the negotiated version (what a `Received:` header would say).
private final class ServerHandshakeHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let recorder: VersionRecorder

    init(recorder: VersionRecorder) { self.recorder = recorder }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            let version = try? context.pipeline.syncOperations.nioSSL_tlsVersion()
            recorder.versions.withLock { $0.append(version) }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// What a client saw of a completed handshake.
struct HandshakeResult: Sendable {
    /// The server's leaf certificate.
    var peerCertificate: NIOSSLCertificate
    var version: TLSVersion?

    /// The leaf's SHA-256 fingerprint in `CertificateFiles.sha256Fingerprint()` form.
    func fingerprint() throws -> String {
        try sha256Fingerprint(of: peerCertificate.toDERBytes())
    }
}

struct ConnectionClosedBeforeHandshake: Error {}

/// Connects to `port`, performs a TLS handshake with `configuration` (sending `serverHostname` as SNI unless nil),
/// and returns what the client saw; throws if the handshake fails.
func handshake(
    port: Int, serverHostname: String?, configuration: TLSConfiguration
) async throws -> HandshakeResult {
    let context = try NIOSSLContext(configuration: configuration)
    let group = MultiThreadedEventLoopGroup.singleton
    let handshakeDone = group.next().makePromise(of: Void.self)
    let channel: any Channel
    do {
        channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(ClientHandshakeHandler(promise: handshakeDone))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    } catch {
        handshakeDone.fail(error)
        throw error
    }
    do {
        try await handshakeDone.futureResult.get()
        let certificate = try await channel.nioSSL_peerCertificate().get()
        let version = try await channel.nioSSL_tlsVersion().get()
        try? await channel.close()
        return HandshakeResult(peerCertificate: try #require(certificate), version: version)
    } catch {
        try? await channel.close()
        throw error
    }
}

/// On the client: completes the promise when the handshake is done, fails it if the handshake fails.
private final class ClientHandshakeHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { promise.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosedBeforeHandshake())
        context.fireChannelInactive()
    }
}

/// A client that trusts exactly `trusted` and checks the server's name against the certificate; without SNI it
/// checks the chain only (there is no name to check).
func verifyingClient(trusting trusted: [NIOSSLCertificate], serverHostname: String?) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.trustRoots = .certificates(trusted)
    configuration.certificateVerification = serverHostname == nil ? .noHostnameVerification : .fullVerification
    return configuration
}
