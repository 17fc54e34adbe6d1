import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer
import SwallowTLS
import Synchronization

/// A Swallow server backend for the client tests: accepts `*@example.test` except `nobody` (550 5.1.1) and
/// `later` (451 4.3.0), and records each message's envelope and bytes.
final class RecordingBackend: SMTPBackend {
    struct Stored: Sendable {
        var envelope: Envelope
        var text: String
    }

    private let stored = Mutex<[Stored]>([])
    var messages: [Stored] { stored.withLock { $0 } }

    func makeSession(for connection: ConnectionInfo) -> any SMTPSession { Session(backend: self) }

    struct Session: SMTPSession {
        let backend: RecordingBackend

        func rcpt(_ recipient: Recipient) async throws {
            guard let mailbox = recipient.path.mailbox else { return }
            if mailbox.domain != "example.test" { throw Reply.relayDenied }
            if mailbox.localPart == "nobody" { throw Reply.noSuchUser }
            if mailbox.localPart == "later" { throw Reply.localError }
        }

        func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink {
            Sink(backend: backend, envelope: envelope)
        }
    }

    final class Sink: MessageSink {
        let backend: RecordingBackend
        let envelope: Envelope
        private let bytes = Mutex<[UInt8]>([])

        init(backend: RecordingBackend, envelope: Envelope) {
            self.backend = backend
            self.envelope = envelope
        }

        func write(_ buffer: ByteBuffer) async throws { bytes.withLock { $0 += buffer.readableBytesView } }

        func commit() async throws {
            let message = Stored(envelope: envelope, text: String(decoding: bytes.withLock { $0 }, as: UTF8.self))
            backend.stored.withLock { $0.append(message) }
        }

        func abort() async {}
    }
}

/// Runs a Swallow SMTP server on a loopback port for `body`, with a self-signed certificate for `localhost`
/// (its PEM path is passed along, for the client to trust).
func withSwallow(
    kind: ListenerKind = .smtp, _ configure: (inout SMTPServerConfiguration) -> Void = { _ in },
    _ body: (_ port: Int, _ certificate: String, RecordingBackend) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-client-\(UUID())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let files = try SelfSignedCertificate.loadOrCreate(names: ["localhost"], in: directory)
    let store = try CertificateStore([files])
    let backend = RecordingBackend()
    var configuration = SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0, kind: kind)])
    configuration.session.hostname = "mx.example.test"
    configuration.tls = { store.context() }
    configure(&configuration)
    let server = SMTPServer(configuration: configuration, backend: backend)
    let task = Task { try await server.run() }
    defer { task.cancel() }
    let port = try await server.listeningAddresses[0].port!
    try await body(port, files.certificatePath, backend)
    server.stop()
    try await task.value
}

/// A TCP listener on loopback that runs `handler` for each connection: a misbehaving server.
func withRawServer(
    _ makeHandler: @escaping @Sendable () -> any ChannelHandler & Sendable, _ body: (Int) async throws -> Void
) async throws {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    defer { channel.close(promise: nil) }
    try await body(channel.localAddress!.port!)
}

/// Writes `text` when the connection opens and ignores whatever the client says.
final class ScriptedServer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let text: String

    init(_ text: String) { self.text = text }

    func channelActive(context: ChannelHandlerContext) {
        if !text.isEmpty { context.writeAndFlush(NIOAny(ByteBuffer(string: text)), promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
