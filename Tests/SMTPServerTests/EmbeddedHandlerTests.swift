import NIOCore
import NIOEmbedded
import SMTPCore
import Testing

@testable import SMTPServer

/// The connection handler on NIO's `EmbeddedChannel`: no sockets, every byte in and out seen exactly, channel
/// events (half-close, eviction) fired by the test.
@MainActor
private final class EmbeddedConnection {
    let channel = EmbeddedChannel()
    let backend = MemoryBackend()
    private var output = ""

    let handler: SMTPConnectionHandler

    init(configure: (inout SMTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = SMTPServerConfiguration()
        configuration.session.hostname = "mx.example.test"
        configure(&configuration)
        handler = SMTPConnectionHandler(
            configuration: configuration, listener: .smtp, backend: backend,
            registry: ConnectionRegistry(maxConnections: 10, maxPerClient: 10),
            throttle: AuthThrottle(limit: 10, window: .seconds(60)),
            authPool: AuthWorkPool(width: 1, queueTimeout: .seconds(1)), logger: .init(label: "test"))
        channel.remoteAddress = try SocketAddress(ipAddress: "192.0.2.7", port: 40000)
        channel.localAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 25)
        try channel.pipeline.syncOperations.addHandler(handler)
        // Connecting makes the channel active (and fires channelActive), so that a close shows in `isActive`.
        channel.connect(to: channel.remoteAddress!, promise: nil)
        precondition(channel.isActive)
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Runs the loop and the handler's backend tasks until `count` replies have been written, or fails.
    func replies(_ count: Int) async throws -> [String] {
        for _ in 0..<2000 {
            channel.embeddedEventLoop.run()
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += String(buffer: buffer) }
            let lines = output.split(separator: "\r\n", omittingEmptySubsequences: true)
            let complete = lines.filter { $0.count < 4 || $0[$0.index($0.startIndex, offsetBy: 3)] != "-" }
            if complete.count >= count {
                output = ""
                return complete.map(String.init)
            }
            await Task.yield()
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("no \(count) replies; have \(output)")
        return []
    }

    var isActive: Bool {
        channel.embeddedEventLoop.run()
        return channel.isActive
    }
}

@Suite struct EmbeddedHandlerTests {
    @Test @MainActor func aHalfClosedClientGetsEveryReplyAndItsMessageIsStored() async throws {
        let connection = try EmbeddedConnection()
        #expect(try await connection.replies(1).first?.hasPrefix("220 ") == true)
        try connection.send("EHLO c\r\n")
        _ = try await connection.replies(1)
        try connection.send("MAIL FROM:<a@s.test>\r\nRCPT TO:<x@example.test>\r\nBDAT 4 LAST\r\nabcdQUIT\r\n")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let replies = try await connection.replies(4)
        #expect(replies.map { $0.prefix(3) } == ["250", "250", "250", "221"])
        #expect(connection.backend.messages.count == 1)
        #expect(connection.backend.messages.first?.text.hasSuffix("\r\nabcd") == true)
        #expect(!connection.isActive)
    }

    @Test @MainActor func anIncompleteCommandAtTheEndOfInputIsDropped() async throws {
        let connection = try EmbeddedConnection()
        _ = try await connection.replies(1)
        try connection.send("EHLO c\r\n")
        _ = try await connection.replies(1)
        try connection.send("NOOP\r\nNOOP")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await connection.replies(1) == ["250 2.0.0 OK"])
        #expect(try connection.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!connection.isActive)
    }

    @Test @MainActor func anEvictedConnectionGets421AndCloses() async throws {
        let connection = try EmbeddedConnection()
        _ = try await connection.replies(1)
        connection.channel.pipeline.fireUserInboundEventTriggered(EvictionEvent())
        #expect(try await connection.replies(1) == ["421 4.7.0 Too many connections; try again later"])
        #expect(!connection.isActive)
    }

    @Test @MainActor func anotherHandlerCanTakeTheConnectionOver() async throws {
        let connection = try EmbeddedConnection()
        _ = try await connection.replies(1)
        try connection.send("EHLO c\r\n")
        _ = try await connection.replies(1)
        // Bytes read but not yet processed (a partial line) go to the successor first, then everything after.
        try connection.send("250 from the other")
        let successor = Recorder()
        let context = try connection.channel.pipeline.syncOperations.context(handlerType: SMTPConnectionHandler.self)
        try connection.handler.handOver(to: successor, context)
        try connection.send(" side\r\n")
        connection.channel.embeddedEventLoop.run()
        #expect(successor.received == "250 from the other side\r\n")
        #expect(connection.isActive)
        #expect(throws: (any Error).self) {
            try connection.channel.pipeline.syncOperations.context(handlerType: SMTPConnectionHandler.self)
        }
    }
}

/// A handler that keeps what it reads, standing in for the SMTP client of a role reversal.
private final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var received = ""

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
    }
}
