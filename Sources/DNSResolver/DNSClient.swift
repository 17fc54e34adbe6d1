import DNSCore
import NIOCore
import NIOPosix

/// Sends DNS queries over UDP, and again over TCP when the answer is truncated (RFC 1035 §4.2, RFC 7766). Each
/// query uses a new socket (a random source port) and a random ID, and accepts only an answer from the server it
/// asked, with the same ID and question. Runs on its own event loops, never on an SMTP session's.
public struct DNSClient: Sendable {
    public let configuration: ResolverConfiguration
    let group: any EventLoopGroup

    public init(configuration: ResolverConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
    {
        self.configuration = configuration
        self.group = group
    }

    /// The answer of the first nameserver that gives one, trying each in turn for `attempts` rounds.
    public func query(_ name: DNSName, _ type: DNSRecordType) async throws(DNSError) -> DNSMessage {
        var lastError = DNSError.timeout
        for _ in 0..<configuration.attempts {
            for server in configuration.nameservers {
                do {
                    var answer = try await ask(server, name, type, overTCP: false)
                    if answer.isTruncated { answer = try await ask(server, name, type, overTCP: true) }
                    return answer
                } catch {
                    lastError = error
                }
            }
        }
        throw lastError
    }

    private func ask(_ server: SocketAddress, _ name: DNSName, _ type: DNSRecordType, overTCP: Bool)
        async throws(DNSError) -> DNSMessage
    {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = DNSMessage.query(id: id, name: name, type: type)
        let bytes: [UInt8]
        do {
            bytes = overTCP ? try await exchangeTCP(server, query) : try await exchangeUDP(server, query)
        } catch let error as DNSError {
            throw error
        } catch {
            throw .io("\(error)")
        }
        let answer: DNSMessage
        do {
            answer = try DNSMessage(decoding: bytes)
        } catch {
            throw .malformedAnswer("\(error)")
        }
        guard answer.id == id, answer.isResponse, answer.questions.count == 1, answer.questions[0].name == name,
            answer.questions[0].type == type
        else { throw .malformedAnswer("answer does not match the question") }
        return answer
    }

    private func exchangeUDP(_ server: SocketAddress, _ query: [UInt8]) async throws -> [UInt8] {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPAnswerHandler(server: server, promise: promise))
                }
            }
            .bind(host: bindHost, port: 0).get()
        let timer = eventLoop.scheduleTask(in: TimeAmount(configuration.timeout)) { promise.fail(DNSError.timeout) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query)))
        return try await promise.futureResult.get()
    }

    private func exchangeTCP(_ server: SocketAddress, _ query: [UInt8]) async throws -> [UInt8] {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let timer = eventLoop.scheduleTask(in: TimeAmount(configuration.timeout)) { promise.fail(DNSError.timeout) }
        defer { timer.cancel() }
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPAnswerHandler(promise: promise))
                }
            }
            .connect(to: server).get()
        defer { channel.close(promise: nil) }
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt16(query.count))
        buffer.writeBytes(query)
        try await channel.writeAndFlush(buffer)
        return try await promise.futureResult.get()
    }
}

/// Takes the first datagram from the server asked; datagrams from anyone else are dropped.
final class UDPAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: SocketAddress
    let promise: EventLoopPromise<[UInt8]>

    init(server: SocketAddress, promise: EventLoopPromise<[UInt8]>) {
        self.server = server
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        promise.succeed(Array(envelope.data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(DNSError.io("\(error)"))
    }
}

/// Reads one length-prefixed message (at most 65,535 octets by construction of the prefix).
final class TCPAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<[UInt8]>
    private var buffer = ByteBuffer()

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return }
        promise.succeed(Array(buffer.readableBytesView.dropFirst(2).prefix(Int(length))))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSError.io("connection closed before a whole answer"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(DNSError.io("\(error)"))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
