import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A raw SMTP client over real TCP on loopback: sends bytes, reads whole replies, with a timeout on every read.
final class TestClient {
    struct ReplyLines: CustomStringConvertible {
        var code: Int
        var lines: [String]
        var text: String { lines.joined(separator: "\n") }
        var description: String { "\(code) \(text)" }
    }

    struct Timeout: Error {}
    struct Closed: Error {}

    private let channel: any Channel
    private let received: Received

    /// Bytes read by the channel, and whether it closed; the reader polls it.
    final class Received: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
        }
    }

    init(port: Int) async throws {
        let received = Received()
        self.received = received
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Reads one complete (possibly multi-line) reply.
    func reply(timeout: Duration = .seconds(10)) async throws -> ReplyLines {
        var lines: [String] = []
        while true {
            let line = try await readLine(timeout: timeout)
            guard line.count >= 3, let code = Int(line.prefix(3)) else { throw Closed() }
            lines.append(String(line.dropFirst(4)))
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " {
                return ReplyLines(code: code, lines: lines)
            }
        }
    }

    /// Sends a command line and returns its reply.
    func command(_ line: String) async throws -> ReplyLines {
        try await send(line + "\r\n")
        return try await reply()
    }

    /// MAIL, RCPT and DATA for one message from a@s.test to x@example.test, after `greeting` (an EHLO or HELO
    /// line) when given; fails the test unless each is accepted and DATA answers 354.
    func startMessage(after greeting: String? = nil) async throws {
        if let greeting { #expect(try await command(greeting).code == 250) }
        #expect(try await command("MAIL FROM:<a@s.test>").code == 250)
        #expect(try await command("RCPT TO:<x@example.test>").code == 250)
        #expect(try await command("DATA").code == 354)
    }

    /// True when the server has closed the connection without sending anything more.
    func isClosedByServer(timeout: Duration = .seconds(10)) async throws -> Bool {
        do {
            _ = try await readLine(timeout: timeout)
            return false
        } catch is Closed {
            return true
        }
    }

    func close() async {
        try? await channel.close()
    }

    private func readLine(timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (line, closed): (String?, Bool) = received.state.withLock { state in
                guard let index = state.bytes.firstIndex(of: UInt8(ascii: "\n")) else { return (nil, state.closed) }
                let line = String(decoding: state.bytes[..<index], as: UTF8.self)
                state.bytes.removeFirst(index + 1)
                return (line.hasSuffix("\r") ? String(line.dropLast()) : line, false)
            }
            if let line { return line }
            if closed { throw Closed() }
            if ContinuousClock.now > deadline { throw Timeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
