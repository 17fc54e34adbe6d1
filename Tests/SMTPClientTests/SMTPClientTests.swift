import NIOCore
import NIOPosix
import NIOSSL
import SMTPClient
import SMTPCore
import SMTPServer
import Testing

private let alice = ReversePath.mailbox(Mailbox(localPart: "alice", domain: "sender.test"))
private func to(_ local: String, _ domain: String = "example.test") -> Recipient {
    Recipient(path: .mailbox(Mailbox(localPart: local, domain: domain)))
}
private let message = "Subject: hi\r\n\r\n.leading dot\r\n..two\r\nend\r\n"

private func configuration(_ security: SMTPClientConfiguration.Security, trusting certificate: String? = nil)
    -> SMTPClientConfiguration
{
    var tls = TLSConfiguration.makeClientConfiguration()
    if let certificate { tls.trustRoots = .file(certificate) }
    return SMTPClientConfiguration(
        heloName: "client.test", security: security, tls: tls, timeouts: ClientTimeouts(all: .seconds(5)))
}

@Suite("SMTPClient against Swallow's server over loopback")
struct SMTPClientTests {
    @Test func pipelinedTransactionWithPerRecipientResults() async throws {
        try await withSwallow { port, _, backend in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, configuration: configuration(.plaintext))
            #expect(await connection.greeting?.code == 220)
            #expect(await connection.extensions.pipelining)
            let result = try await connection.send(
                from: alice, to: [to("bob"), to("nobody"), to("later"), to("carol")],
                message: ByteBuffer(string: message))
            #expect(result.recipients.map(\.reply.code) == [250, 550, 451, 250])
            #expect(result.recipients[1].reply.enhancedCode == EnhancedStatusCode(5, 1, 1))
            #expect(result.recipients.map(\.isDelivered) == [true, false, false, true])
            // The body arrives exactly as given: dot-stuffing undone by the server.
            let stored = try #require(backend.messages.first)
            #expect(stored.text.hasSuffix("\r\n" + message))
            #expect(stored.envelope.recipients.map(\.path) == [to("bob").path, to("carol").path])
            await connection.quit()
        }
    }

    @Test func reusesTheConnectionAfterRefusalsAndReset() async throws {
        try await withSwallow { port, _, backend in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, configuration: configuration(.plaintext))
            let refused = try await connection.send(
                from: alice, to: [to("nobody")], message: ByteBuffer(string: message))
            #expect(refused.recipients[0].reply.code == 550)
            try await connection.reset()
            for _ in 0..<3 {
                let result = try await connection.send(
                    from: alice, to: [to("bob")], message: ByteBuffer(string: message))
                #expect(result.recipients[0].isDelivered)
            }
            #expect(backend.messages.count == 3)
            await connection.quit()
        }
    }

    @Test func startTLSWithAVerifiedCertificate() async throws {
        try await withSwallow { port, certificate, backend in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, serverName: "localhost",
                configuration: configuration(.startTLS, trusting: certificate))
            #expect(await connection.isTLS)
            #expect(!(await connection.extensions.startTLS))
            let result = try await connection.send(from: alice, to: [to("bob")], message: ByteBuffer(string: message))
            #expect(result.recipients[0].isDelivered)
            #expect(backend.messages.first?.envelope.protocolName == "ESMTPS")
            await connection.quit()
        }
    }

    /// As for MX hosts reached by address: no SNI name (an IP address is not allowed there), no verification.
    @Test func startTLSToAnAddressWithoutVerification() async throws {
        try await withSwallow { port, _, _ in
            var unverified = configuration(.startTLS)
            unverified.tls.certificateVerification = .none
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, serverName: "127.0.0.1", configuration: unverified)
            #expect(await connection.isTLS)
            await connection.quit()
        }
    }

    @Test func startTLSRefusesAnUntrustedCertificate() async throws {
        try await withSwallow { port, _, _ in
            await #expect(throws: SMTPClientError.self) {
                try await SMTPClientConnection.connect(
                    host: "127.0.0.1", port: port, serverName: "localhost", configuration: configuration(.startTLS))
            }
        }
    }

    @Test func implicitTLS() async throws {
        try await withSwallow(kind: .submissions) { port, certificate, _ in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, serverName: "localhost",
                configuration: configuration(.implicitTLS, trusting: certificate))
            #expect(await connection.isTLS)
            #expect(await connection.greeting?.code == 220)
            await connection.quit()
        }
    }

    @Test func refusesAMessageOverTheAdvertisedSize() async throws {
        try await withSwallow({ $0.session.maxMessageSize = 100 }) { port, _, backend in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, configuration: configuration(.plaintext))
            let big = ByteBuffer(string: "Subject: big\r\n\r\n" + String(repeating: "x", count: 200) + "\r\n")
            let result = try await connection.send(from: alice, to: [to("bob")], message: big)
            #expect(result.recipients[0].reply.code == 552)
            #expect(result.recipients[0].isLocal)
            #expect(backend.messages.isEmpty)
            // The session is still usable.
            let small = try await connection.send(from: alice, to: [to("bob")], message: ByteBuffer(string: message))
            #expect(small.recipients[0].isDelivered)
            await connection.quit()
        }
    }

    /// As after ATRN: a connection opened by someone else becomes a client session.
    @Test func adoptsAnOpenConnection() async throws {
        try await withSwallow { port, _, backend in
            // Handed over with autoRead off, so that the greeting waits for the new owner.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.autoRead, value: false)
                .connect(host: "127.0.0.1", port: port).get()
            let connection = try await SMTPClientConnection.adopt(channel, configuration: configuration(.plaintext))
            #expect(await connection.greeting?.code == 220)
            let result = try await connection.send(from: alice, to: [to("bob")], message: ByteBuffer(string: message))
            #expect(result.recipients[0].isDelivered)
            #expect(backend.messages.count == 1)
            await connection.quit()
        }
    }

    @Test func authenticatesOnlyInsideTLSByDefault() async throws {
        try await withSwallow { port, _, _ in
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: port, configuration: configuration(.plaintext))
            await #expect(throws: SMTPClientError.self) {
                try await connection.authenticate(user: "alice", password: "secret")
            }
            await connection.quit()
        }
    }
}

@Suite("SMTPClient against hostile or broken servers")
struct HostileServerTests {
    private func connect(_ port: Int, timeout: Duration = .seconds(5)) async throws(SMTPClientError) {
        var configuration = SMTPClientConfiguration(heloName: "client.test", security: .plaintext)
        configuration.timeouts = ClientTimeouts(all: timeout)
        let connection = try await SMTPClientConnection.connect(
            host: "127.0.0.1", port: port, configuration: configuration)
        await connection.quit()
    }

    @Test func silentServerTimesOutOnTheGreeting() async throws {
        try await withRawServer({ ScriptedServer("") }) { port in
            await #expect(throws: SMTPClientError.timeout(.greeting)) {
                try await connect(port, timeout: .milliseconds(300))
            }
        }
    }

    @Test func cancellationDoesNotWaitForTheTimeout() async throws {
        try await withRawServer({ ScriptedServer("") }) { port in
            let started = ContinuousClock.now
            let task = Task { try await connect(port, timeout: .seconds(60)) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            await #expect(throws: SMTPClientError.self) { try await task.value }
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func overlongReplyLineIsAProtocolError() async throws {
        try await withRawServer({ ScriptedServer("220 " + String(repeating: "x", count: 100_000)) }) { port in
            do throws(SMTPClientError) {
                try await connect(port)
                Issue.record("connected")
            } catch {
                guard case .protocolViolation = error else { return #expect(Bool(false), "\(error)") }
                #expect(!error.isPermanent)
            }
        }
    }

    @Test func garbageIsAProtocolError() async throws {
        try await withRawServer({ ScriptedServer("HTTP/1.1 400 Bad Request\r\n\r\n") }) { port in
            await #expect(
                throws: SMTPClientError.protocolViolation(#"malformed reply line "HTTP/1.1 400 Bad Request""#)
            ) {
                try await connect(port)
            }
        }
    }

    @Test func refusedGreetingEndsTheSession() async throws {
        try await withRawServer({ ScriptedServer("554 5.7.1 go away\r\n") }) { port in
            await #expect(throws: SMTPClientError.sessionEnded(Reply(554, .init(5, 7, 1), "go away"))) {
                try await connect(port)
            }
        }
    }

    @Test func connectionRefused() async throws {
        // A port nothing listens on: bind one, note it, close it.
        var port = 0
        try await withRawServer({ ScriptedServer("") }) { port = $0 }
        await #expect(throws: SMTPClientError.self) { try await connect(port) }
    }

    @Test func closedAfterGreeting() async throws {
        try await withRawServer({ ClosingServer() }) { port in
            await #expect(throws: SMTPClientError.connectionClosed) { try await connect(port) }
        }
    }
}

/// Greets, then hangs up as soon as the client speaks.
final class ClosingServer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: "220 hi\r\n")), promise: nil)
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.close(promise: nil) }
}
