// Sends one message with SMTPClient to a local Swallow (`swift run swallow`): `swift run SendMail [PORT]`.
// The README shows this program from `import` on.
import NIOCore
import SMTPClient
import SMTPCore

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2525 : 2525

// Plaintext suits a server on loopback; the default, `.startTLSIfOffered`, verifies the server's certificate.
let connection = try await SMTPClientConnection.connect(
    host: "127.0.0.1", port: port,
    configuration: SMTPClientConfiguration(heloName: "client.example.test", security: .plaintext))
let result = try await connection.send(
    from: .mailbox(Mailbox(localPart: "alice", domain: "example.test")),
    to: [Recipient(path: .mailbox(Mailbox(localPart: "bob", domain: "example.test")))],
    message: ByteBuffer(string: "Subject: Hello from SMTPClient\r\n\r\nSent with Swallow's SMTPClient.\r\n"))
for recipient in result.recipients {
    print("\(recipient.recipient.path): \(recipient.reply)")
}
await connection.quit()
