import Foundation
import NIOCore
import NIOSSL
import SMTPAuth
import SMTPClient
import SMTPCore
import SwallowKit
import Testing

@Suite("SMTPClient AUTH against Swallow's LocalAuthenticator")
struct AuthenticationTests {
    private static let user = "alice@example.test"
    private static let password = "Alice-pw-7fq2!Zx"

    /// A server with a users file holding alice (SCRAM keys at the lowest iteration count, for speed).
    private func withAuthServer(_ body: (Int, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-auth-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let usersFile = directory + "/users"
        try UsersFile(path: usersFile).set(
            Self.user,
            credential: .derive(password: Self.password, iterations: SCRAMCredential.allowedIterations.lowerBound))
        let authenticator = LocalAuthenticator(usersFile: usersFile, mechanisms: ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        try await withSwallow({ $0.authenticator = authenticator }) { port, certificate, _ in
            try await body(port, certificate)
        }
    }

    private func connect(_ port: Int, _ certificate: String) async throws -> SMTPClientConnection {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificate)
        return try await SMTPClientConnection.connect(
            host: "127.0.0.1", port: port, serverName: "localhost",
            configuration: SMTPClientConfiguration(heloName: "client.test", security: .startTLS, tls: tls))
    }

    @Test(arguments: [ClientSASL.Mechanism.plain, .login])
    func authenticatesInsideTLS(mechanism: ClientSASL.Mechanism) async throws {
        try await withAuthServer { port, certificate in
            let connection = try await connect(port, certificate)
            #expect(await connection.extensions.authMechanisms == ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
            try await connection.authenticate(user: Self.user, password: Self.password, mechanism: mechanism)
            let result = try await connection.send(
                from: .mailbox(Mailbox(localPart: "alice", domain: "example.test")),
                to: [Recipient(path: .mailbox(Mailbox(localPart: "bob", domain: "example.test")))],
                message: ByteBuffer(string: "Subject: x\r\n\r\nhi\r\n"))
            #expect(result.recipients[0].isDelivered)
            await connection.quit()
        }
    }

    @Test func authenticatesWithSCRAM() async throws {
        try await withAuthServer { port, certificate in
            let connection = try await connect(port, certificate)
            try await connection.authenticate(using: SCRAMClient(user: Self.user, password: Self.password))
            await connection.quit()
            let again = try await connect(port, certificate)
            await #expect(throws: SMTPClientError.authenticationFailed(.authFailed)) {
                try await again.authenticate(using: SCRAMClient(user: Self.user, password: "wrong"))
            }
            await again.quit()
        }
    }

    @Test func wrongPasswordIsRefused() async throws {
        try await withAuthServer { port, certificate in
            let connection = try await connect(port, certificate)
            await #expect(throws: SMTPClientError.authenticationFailed(.authFailed)) {
                try await connection.authenticate(user: Self.user, password: "wrong")
            }
            // The session goes on after a refused AUTH.
            try await connection.reset()
            await connection.quit()
        }
    }
}
