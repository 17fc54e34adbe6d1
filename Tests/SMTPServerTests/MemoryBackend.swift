import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// A backend that keeps messages in memory, for tests: accepts `*@example.test`, refuses `nobody@example.test`,
/// and can be told to fail commits.
final class MemoryBackend: SMTPBackend {
    struct Stored: Sendable {
        var envelope: Envelope
        var id: String
        var bytes: [UInt8]
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    private let state = Mutex(State())
    private struct State {
        var messages: [Stored] = []
        var aborted = 0
        var opened = 0
        var failCommits = false
        var commitDelay: Duration = .zero
        var writeDelay: Duration = .zero
    }

    var messages: [Stored] { state.withLock { $0.messages } }
    var abortedCount: Int { state.withLock { $0.aborted } }
    var openedCount: Int { state.withLock { $0.opened } }
    func failCommits(_ fail: Bool) { state.withLock { $0.failCommits = fail } }
    func delayCommits(_ delay: Duration) { state.withLock { $0.commitDelay = delay } }
    func delayWrites(_ delay: Duration) { state.withLock { $0.writeDelay = delay } }

    func makeSession(for connection: ConnectionInfo) -> any SMTPSession { Session(backend: self) }

    struct Session: SMTPSession {
        let backend: MemoryBackend

        func rcpt(_ recipient: Recipient) async throws {
            guard let mailbox = recipient.path.mailbox else { return }
            if mailbox.domain != "example.test" { throw Reply.relayDenied }
            if mailbox.localPart == "nobody" { throw Reply.noSuchUser }
        }

        func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink {
            backend.state.withLock { $0.opened += 1 }
            return Sink(backend: backend, envelope: envelope, id: id)
        }
    }

    final class Sink: MessageSink {
        let backend: MemoryBackend
        let envelope: Envelope
        let id: String
        private let bytes = Mutex<[UInt8]>([])

        init(backend: MemoryBackend, envelope: Envelope, id: String) {
            self.backend = backend
            self.envelope = envelope
            self.id = id
        }

        func write(_ buffer: ByteBuffer) async throws {
            let delay = backend.state.withLock { $0.writeDelay }
            if delay > .zero { try await Task.sleep(for: delay) }
            bytes.withLock { $0 += buffer.readableBytesView }
        }

        func commit() async throws {
            let (fail, delay) = backend.state.withLock { ($0.failCommits, $0.commitDelay) }
            if delay > .zero { try await Task.sleep(for: delay) }
            if fail { throw Reply.insufficientStorage }
            let stored = Stored(envelope: envelope, id: id, bytes: bytes.withLock { $0 })
            backend.state.withLock { $0.messages.append(stored) }
        }

        func abort() async {
            backend.state.withLock { $0.aborted += 1 }
        }
    }
}

/// Starts a server on a free loopback port, runs `body`, and stops the server.
func withServer(
    _ configure: (inout SMTPServerConfiguration) -> Void = { _ in },
    backend: MemoryBackend = MemoryBackend(),
    _ body: (Int, MemoryBackend) async throws -> Void
) async throws {
    var configuration = SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)])
    configuration.session.hostname = "mx.example.test"
    configure(&configuration)
    let server = SMTPServer(configuration: configuration, backend: backend)
    let task = Task { try await server.run() }
    defer { task.cancel() }
    let port = try await server.listeningAddresses[0].port!
    try await body(port, backend)
    server.stop()
    try await task.value
}
