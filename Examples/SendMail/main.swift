// Sends one message with SMTPClient to a local Swallow (`swift run swallow`), as the README shows:
// `swift run SendMail [HOST] [PORT]`.
import NIOCore
import SMTPClient
import SMTPCore

let host = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "127.0.0.1"
let port = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 2525 : 2525

let message = """
    From: Alice <alice@example.test>\r
    To: Bob <bob@example.test>\r
    Subject: Hello from SMTPClient\r
    \r
    Sent with Swallow's SMTPClient.\r

    """

// Plaintext is for a server on loopback; the default configuration uses STARTTLS when offered and verifies the
// server's certificate.
let connection = try await SMTPClientConnection.connect(
    host: host, port: port,
    configuration: SMTPClientConfiguration(heloName: "client.example.test", security: .plaintext))
let result = try await connection.send(
    from: .mailbox(Mailbox(localPart: "alice", domain: "example.test")),
    to: [Recipient(path: .mailbox(Mailbox(localPart: "bob", domain: "example.test")))],
    message: ByteBuffer(string: message))
for recipient in result.recipients {
    print("\(recipient.recipient.path): \(recipient.reply)")
}
await connection.quit()
