import DNSCore
import NIOCore
import NIOPosix

/// A nameserver on 127.0.0.1 for the resolver tests, UDP and TCP on one port, answering from `answer` (the
/// query's bytes in, the answer's out; nil: no answer, for timeouts).
struct FakeNameserver {
    let port: Int
    private let channels: [any Channel]

    static func start(_ answer: @escaping @Sendable (_ query: [UInt8], _ overTCP: Bool) -> [UInt8]?) async throws
        -> FakeNameserver
    {
        let group = MultiThreadedEventLoopGroup.singleton
        // The TCP port must be the UDP one: another socket may hold it, so try a few UDP ports.
        var attempt = 0
        while true {
            attempt += 1
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPResponder(answer: answer))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = udp.localAddress!.port!
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(TCPResponder(answer: answer))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                return FakeNameserver(port: port, channels: [udp, tcp])
            } catch {
                try? await udp.close()
                if attempt >= 10 { throw error }
            }
        }
    }

    func stop() {
        for channel in channels { channel.close(promise: nil) }
    }
}

private final class UDPResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let answer: @Sendable ([UInt8], Bool) -> [UInt8]?

    init(answer: @escaping @Sendable ([UInt8], Bool) -> [UInt8]?) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let bytes = answer(Array(envelope.data.readableBytesView), false) else { return }
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: bytes))),
            promise: nil)
    }
}

private final class TCPResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let answer: @Sendable ([UInt8], Bool) -> [UInt8]?

    init(answer: @escaping @Sendable ([UInt8], Bool) -> [UInt8]?) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let query = Array(buffer.readableBytesView.dropFirst(2))
        guard let bytes = answer(query, true) else { return }
        var out = ByteBuffer()
        out.writeInteger(UInt16(bytes.count))
        out.writeBytes(bytes)
        context.writeAndFlush(NIOAny(out), promise: nil)
    }
}

/// An answer to `query` (its ID and question copied) with `records` in the answer section.
func response(to query: [UInt8], rcode: UInt8 = 0, truncated: Bool = false, records: [[UInt8]] = []) -> [UInt8] {
    var out = Array(query.prefix(12))
    out[2] = 0x81 | (truncated ? 0x02 : 0)
    out[3] = 0x80 | rcode
    out[6] = UInt8(records.count >> 8)
    out[7] = UInt8(records.count & 0xFF)
    out += query.dropFirst(12)
    for record in records { out += record }
    return out
}

/// A resource record for `name`, class IN, TTL 60.
func record(_ name: String, type: UInt16, data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    DNSName(name)!.encode(into: &out)
    out += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0, 60, UInt8(data.count >> 8), UInt8(data.count & 0xFF)]
    return out + data
}

func mxData(_ preference: UInt16, _ exchange: String) -> [UInt8] {
    var out: [UInt8] = [UInt8(preference >> 8), UInt8(preference & 0xFF)]
    DNSName(exchange)!.encode(into: &out)
    return out
}

/// The question name and type of a query.
func question(of query: [UInt8]) -> (name: String, type: UInt16)? {
    guard let message = try? DNSMessage(decoding: query), let first = message.questions.first else { return nil }
    return (first.name.description.lowercased(), first.type.code)
}
