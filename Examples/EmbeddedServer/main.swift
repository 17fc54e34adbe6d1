// The README's embedding example: a server for example.test that prints each message it receives.
// Built by every `swift build`, so the README cannot drift from the API.
import NIOCore
import SMTPCore
import SMTPServer

struct PrintingBackend: SMTPBackend {
    func makeSession(for connection: ConnectionInfo) -> any SMTPSession { PrintingSession() }
}

struct PrintingSession: SMTPSession {
    func rcpt(_ recipient: Recipient) async throws {
        // Refuse what is not ours: an embedded server must not become an open relay either.
        guard recipient.path.mailbox?.domain == "example.test" else { throw Reply.relayDenied }
    }

    func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink {
        PrintingSink(envelope: envelope)
    }
}

actor PrintingSink: MessageSink {
    let envelope: Envelope
    var message = ByteBuffer()

    init(envelope: Envelope) { self.envelope = envelope }

    func write(_ bytes: ByteBuffer) { message.writeImmutableBuffer(bytes) }

    func commit() {
        let recipients = envelope.recipients.map(\.path.description).joined(separator: ", ")
        print("\(envelope.sender) -> \(recipients): \(message.readableBytes) bytes")
    }

    func abort() {}
}

let server = SMTPServer(
    configuration: SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 2526)]),
    backend: PrintingBackend())
try await server.run()
