import NIOCore
import NIOSSL
import SMTPCore

/// Cuts the server's bytes into replies with `ReplyParser` and hands them out one at a time, each awaited with a
/// timeout. I/O only: what a reply means is the state machine's business. Lives on the channel's event loop.
final class ReplyReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Replies a server may send ahead of being asked before it counts as a flood.
    static let maximumQueuedReplies = 256

    private var parser: ReplyParser
    private var queued = CircularBuffer<Reply>()
    private var waiting: (promise: EventLoopPromise<Reply>, timeout: Scheduled<Void>)?
    private var failure: SMTPClientError?
    private var context: ChannelHandlerContext?

    init(parser: ReplyParser) {
        self.parser = parser
    }

    /// Whether the server sent anything not yet read: after a STARTTLS 220 that would be an injection.
    var hasUnreadInput: Bool { parser.hasBufferedBytes || !queued.isEmpty }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The next reply, failed with `.timeout(wait)` (and the connection closed) after `timeout`.
    func next(_ wait: ClientWait, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<Reply> {
        if let reply = queued.popFirst() { return eventLoop.makeSucceededFuture(reply) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        precondition(waiting == nil, "one reply awaited at a time")
        let promise = eventLoop.makePromise(of: Reply.self)
        let scheduled = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(.timeout(wait))
        }
        waiting = (promise, scheduled)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let reply = try parser.next() {
                if let waiting {
                    self.waiting = nil
                    waiting.timeout.cancel()
                    waiting.promise.succeed(reply)
                } else if queued.count < Self.maximumQueuedReplies {
                    queued.append(reply)
                } else {
                    fail(.protocolViolation("more than \(Self.maximumQueuedReplies) replies not asked for"))
                    return
                }
            }
        } catch {
            fail(.protocolViolation("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            fail(.tls("\(error)"))
        } else {
            fail(.connectionFailed("\(error)"))
        }
    }

    /// Fails the awaited reply and every later one, and closes the connection.
    private func fail(_ error: SMTPClientError) {
        if failure == nil { failure = error }
        if let waiting {
            self.waiting = nil
            waiting.timeout.cancel()
            waiting.promise.fail(failure ?? error)
        }
        context?.close(promise: nil)
    }
}
