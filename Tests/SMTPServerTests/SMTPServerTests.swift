import NIOCore
import SMTPCore
import SMTPServer
import Testing

@Suite("SMTP server over loopback TCP")
struct SMTPServerTests {
    @Test func deliversAMessageWithTraceHeaderAndUnstuffedBody() async throws {
        try await withServer { port, backend in
            let client = try await TestClient(port: port)
            #expect(try await client.reply().code == 220)
            let ehlo = try await client.command("EHLO client.test")
            #expect(ehlo.code == 250)
            #expect(ehlo.lines.contains("PIPELINING"))
            #expect(try await client.command("MAIL FROM:<a@sender.test>").code == 250)
            #expect(try await client.command("RCPT TO:<b@example.test>").code == 250)
            #expect(try await client.command("DATA").code == 354)
            try await client.send("Subject: x\r\n\r\n..leading dot\r\nend\r\n.\r\n")
            let done = try await client.reply()
            #expect(done.code == 250)
            #expect(try await client.command("QUIT").code == 221)
            let message = try #require(backend.messages.first)
            #expect(message.text.hasPrefix("Received: from client.test ([127.0.0.1])\r\n\tby mx.example.test"))
            #expect(message.text.contains("with ESMTP id \(message.id)"))
            #expect(message.text.hasSuffix("\r\nSubject: x\r\n\r\n.leading dot\r\nend\r\n"))
            #expect(done.text.contains(message.id))
        }
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() async throws {
        try await withServer { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            // RFC 2920: pipelining starts once the EHLO reply has offered it.
            #expect(try await client.command("EHLO c").code == 250)
            try await client.send(
                "MAIL FROM:<a@s.test>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                    + "RCPT TO:<y@elsewhere.test>\r\nRCPT TO:<z@example.test>\r\nDATA\r\n")
            var codes: [Int] = []
            for _ in 0..<6 { codes.append(try await client.reply().code) }
            #expect(codes == [250, 250, 550, 550, 250, 354])
            try await client.send("hi\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.test>\r\nRSET\r\nQUIT\r\n")
            codes = []
            for _ in 0..<5 { codes.append(try await client.reply().code) }
            #expect(codes == [250, 250, 250, 250, 221])
            #expect(backend.messages.count == 1)
            #expect(backend.messages[0].envelope.recipients.count == 2)
        }
    }

    @Test func pipeliningBeforeTheEHLOReplyIsRefused() async throws {
        try await withServer { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            try await client.send("EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<x@example.test>\r\n")
            let reply = try await client.reply()
            #expect(reply.code == 554)
            #expect(reply.text.hasPrefix("5.5.0"))
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func overlongLineIsRefusedAndSessionContinues() async throws {
        try await withServer { port, _ in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            try await client.send("NOOP " + String(repeating: "x", count: 5000) + "\r\n")
            let reply = try await client.reply()
            #expect(reply.code == 500)
            #expect(reply.text.hasPrefix("5.5.2"))
            #expect(try await client.command("NOOP").code == 250)
        }
    }

    @Test func endlessLineWithoutCRLFIsNotBuffered() async throws {
        try await withServer { port, _ in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            let chunk = String(repeating: "A", count: 64 * 1024)
            for _ in 0..<32 { try await client.send(chunk) }  // 2 MiB without a line end
            #expect(try await client.reply().code == 500)
            try await client.send("\r\n")
            #expect(try await client.command("NOOP").code == 250)
        }
    }

    @Test func disconnectInDataAbortsTheMessage() async throws {
        try await withServer { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            try await client.startMessage(after: "HELO c")
            try await client.send("Subject: half\r\n\r\nsome of the body")
            await client.close()
            for _ in 0..<100 where backend.abortedCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(backend.abortedCount == 1)
            #expect(backend.messages.isEmpty)
        }
    }

    @Test func failedCommitGivesTransientErrorAndServerKeepsServing() async throws {
        let backend = MemoryBackend()
        backend.failCommits(true)
        try await withServer(backend: backend) { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            try await client.startMessage(after: "EHLO c")
            try await client.send("x\r\n.\r\n")
            let reply = try await client.reply()
            #expect(reply.code == 452)
            #expect(reply.text.hasPrefix("4.3.1"))
            backend.failCommits(false)
            try await client.startMessage()
            try await client.send("x\r\n.\r\n")
            #expect(try await client.reply().code == 250)
        }
    }

    /// Input keeps being read while the backend writes a body; the time the backend takes is not the client's.
    @Test func aSlowBackendDoesNotMakeTheClientTooSlow() async throws {
        let backend = MemoryBackend()
        backend.delayWrites(.seconds(2))
        try await withServer(
            {
                $0.limits.minDataRate = 100_000
                $0.limits.minDataRateGrace = .milliseconds(200)
            }, backend: backend
        ) { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            try await client.startMessage(after: "EHLO c")
            let line = String(repeating: "x", count: 998) + "\r\n"
            // 70 KB: the server hands it to the sink, which takes 2 s; the rest comes after the rate's deadline.
            try await client.send(String(repeating: line, count: 70))
            try await Task.sleep(for: .milliseconds(1200))
            try await client.send("end\r\n.\r\n")
            let reply = try await client.reply(timeout: .seconds(10))
            #expect(reply.code == 250, "\(reply)")
            #expect(backend.messages.count == 1)
        }
    }

    @Test func bodyOverTheLimitIsReadToTheEndAndRefused() async throws {
        try await withServer({ $0.session.maxMessageSize = 1000 }) { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            _ = try await client.command("EHLO c")
            #expect(try await client.command("MAIL FROM:<a@s.test> SIZE=5000").code == 552)
            try await client.startMessage()
            try await client.send(String(repeating: "0123456789abcdef\r\n", count: 500) + ".\r\n")
            let reply = try await client.reply()
            #expect(reply.code == 552)
            #expect(reply.text.hasPrefix("5.3.4"))
            #expect(try await client.command("NOOP").code == 250)
            #expect(backend.messages.isEmpty)
        }
    }

    @Test func chunkingDeliversTheConcatenatedChunks() async throws {
        try await withServer { port, backend in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            _ = try await client.command("EHLO c")
            _ = try await client.command("MAIL FROM:<a@s.test> BODY=BINARYMIME")
            _ = try await client.command("RCPT TO:<x@example.test>")
            try await client.send("BDAT 7\r\nline\r\n.BDAT 3 LAST\r\nend")
            #expect(try await client.reply().code == 250)
            #expect(try await client.reply().code == 250)
            #expect(backend.messages.first?.text.hasSuffix("line\r\n.end") == true)
        }
    }

    @Test func errorLimitClosesTheConnection() async throws {
        try await withServer({ $0.session.maxErrors = 3 }) { port, _ in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            #expect(try await client.command("BOGUS").code == 500)
            #expect(try await client.command("MAIL FROM:<a@b>").code == 503)
            #expect(try await client.command("XYZZY").code == 500)
            let last = try await client.reply()
            #expect(last.code == 421)
            #expect(last.text.hasPrefix("4.7.0"))
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func connectionsPerClientAreLimited() async throws {
        try await withServer({ $0.maxConnectionsPerClient = 2 }) { port, _ in
            let first = try await TestClient(port: port)
            let second = try await TestClient(port: port)
            #expect(try await first.reply().code == 220)
            #expect(try await second.reply().code == 220)
            let third = try await TestClient(port: port)
            let refused = try await third.reply()
            #expect(refused.code == 421)
            #expect(try await third.isClosedByServer())
            await first.close()
            try await Task.sleep(for: .milliseconds(200))
            let fourth = try await TestClient(port: port)
            #expect(try await fourth.reply().code == 220)
        }
    }

    @Test func idleTimeoutSays421() async throws {
        try await withServer({ $0.commandTimeout = .milliseconds(300) }) { port, _ in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            let reply = try await client.reply(timeout: .seconds(5))
            #expect(reply.code == 421)
            #expect(reply.text.hasPrefix("4.4.2"))
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func shutdownClosesIdleSessionsAndFinishesTransactions() async throws {
        let backend = MemoryBackend()
        backend.delayCommits(.milliseconds(500))
        var configuration = SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)])
        configuration.shutdownGracePeriod = .seconds(5)
        let server = SMTPServer(configuration: configuration, backend: backend)
        let task = Task { try await server.run() }
        let port = try await server.listeningAddresses[0].port!

        let idle = try await TestClient(port: port)
        _ = try await idle.reply()
        let busy = try await TestClient(port: port)
        _ = try await busy.reply()
        try await busy.startMessage(after: "HELO c")
        try await busy.send("x\r\n.\r\n")
        try await Task.sleep(for: .milliseconds(100))
        server.stop()

        #expect(try await idle.reply().code == 421)
        #expect(try await busy.reply().code == 250)  // the transaction in flight finishes
        #expect(try await busy.reply().code == 421)
        try await task.value
        #expect(backend.messages.count == 1)
    }
}
