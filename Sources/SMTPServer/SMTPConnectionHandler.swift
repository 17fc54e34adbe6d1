import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore

/// Drives one SMTP connection: hands its bytes, its end of input and the time to `ServerConnection` (the sans-IO
/// core, which makes every protocol decision) and carries out the actions it returns: writes, closes, TLS, timers
/// and backend calls. Backend calls are async; while one is out, input stays buffered and reads are held past a
/// bound, so replies keep their order (RFC 2920) and memory stays bounded.
final class SMTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: SMTPServerConfiguration
    private let backend: any SMTPBackend
    private let registry: ConnectionRegistry
    private let throttle: AuthThrottle
    private let authPool: AuthWorkPool
    private let listener: ListenerKind
    private var logger: Logger
    private var core: ServerConnection
    private var session: (any SMTPSession)?
    private var connection = ConnectionInfo(
        id: TransactionID.make(length: 8), clientAddress: "?", clientPort: 0, serverAddress: "?")
    private var admitted = false
    /// What the registry knows of this connection, to choose one to close when the server is full.
    private var status: ConnectionStatus?
    /// The channel is closed or closing: nothing more is read or answered.
    private var closed = false

    private var buffer = ByteBuffer()
    private static let idleBufferCapacity = 4096
    /// A backend call or a write of the body is out; the core is not fed until it is back.
    private var waiting = false
    private var heldRead = false

    private var transactionID = ""
    private var envelope: Envelope?
    private var sink: (any MessageSink)?
    private var sinkFailure: Reply?
    /// Body bytes not yet handed to the sink: a backend call per read costs more than copying a small message, so
    /// reads are gathered up to `bodyBatchSize` and most messages reach the sink in one call, with the commit.
    private var pendingBody: ByteBuffer?
    private static let bodyBatchSize = 64 * 1024
    private var exchange: (any SASLExchange)?
    /// The SASL step in progress: cancelled when the connection closes, so that it leaves the line of steps
    /// waiting for the password-hashing threads.
    private var authTask: Task<Void, Never>?
    /// The negotiated TLS version, for the `Received:` header.
    private var tlsVersion: String?

    /// The one timer of the connection, set for the core's next deadline. Deadlines mostly move later (every
    /// command moves the idle deadline), so the timer is left to fire early and re-arm rather than rescheduled on
    /// every command: that cost more than a whole SMTP reply.
    private var timer: Scheduled<Void>?
    private var timerFires = Duration.zero
    private let connectedAt = NIODeadline.now()
    private var accepted = 0
    private var refused = 0

    init(
        configuration: SMTPServerConfiguration, listener: ListenerKind, backend: any SMTPBackend,
        registry: ConnectionRegistry, throttle: AuthThrottle, authPool: AuthWorkPool, logger: Logger
    ) {
        self.configuration = configuration
        self.listener = listener
        self.backend = backend
        self.registry = registry
        self.throttle = throttle
        self.authPool = authPool
        self.logger = logger
        self.core = ServerConnection(settings: Self.settings(configuration, listener, loopback: false), at: Self.now())
    }

    /// The monotonic clock the core is fed with.
    private static func now() -> Duration {
        .nanoseconds(NIODeadline.now().uptimeNanoseconds)
    }

    private static func settings(
        _ configuration: SMTPServerConfiguration, _ listener: ListenerKind, loopback: Bool
    ) -> ConnectionSettings {
        var server = configuration.session
        server.authMechanisms = configuration.authenticator?.mechanisms ?? []
        return ConnectionSettings(
            server: server, limits: configuration.limits,
            timeouts: ConnectionTimeouts(
                command: configuration.commandTimeout, data: configuration.dataTimeout,
                session: configuration.sessionTimeout, hello: configuration.helloTimeout,
                commandLine: configuration.commandLineTimeout, underPressure: configuration.pressureTimeout),
            listener: listener, tlsAvailable: configuration.tls != nil,
            authWithoutTLSOnLoopback: configuration.authWithoutTLSOnLoopback, clientIsLoopback: loopback)
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        let remote = context.remoteAddress
        connection.clientAddress = remote?.ipAddress ?? "unknown"
        connection.clientPort = remote?.port ?? 0
        connection.serverAddress = context.localAddress?.ipAddress ?? "unknown"
        connection.listener = listener
        let now = Self.now()
        core = ServerConnection(
            settings: Self.settings(configuration, listener, loopback: connection.isLoopback),
            isTLS: listener == .submissions, at: now)
        logger[metadataKey: "conn"] = "\(connection.id)"
        logger[metadataKey: "client"] = "\(connection.clientAddress)"
        SMTPMetrics.connectionOpened(listener)

        switch registry.admit(context.channel, client: connection.clientAddress) {
        case .admitted(let status):
            admitted = true
            self.status = status
        case .tooMany:
            return close(context, after: [.tooManyConnections], .hangUp(.tooManyConnections))
        case .shuttingDown:
            return close(context, after: [.shuttingDown], .shuttingDown)
        }
        session = backend.makeSession(for: connection)
        perform(core.start(at: now), context)
        context.flush()
        armTimer(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        SMTPMetrics.connectionClosed(listener)
        closed = true
        timer?.cancel()
        authTask?.cancel()
        if admitted {
            let sink = self.sink
            let session = self.session
            let registry = self.registry
            let channel = context.channel
            let client = connection.clientAddress
            self.sink = nil
            pendingBody = nil
            // The connection counts as open until its message is cleaned up, so that shutdown waits for it.
            Task(executorPreference: executor(context)) {
                await sink?.abort()
                if sink != nil { await session?.reset() }
                await session?.logout()
                registry.remove(channel, client: client)
            }
            let seconds = Double((NIODeadline.now() - connectedAt).nanoseconds) / 1e9
            logger.info(
                "connection closed",
                metadata: [
                    "duration": "\(Int(seconds * 1000))ms", "accepted": "\(accepted)", "refused": "\(refused)",
                    "errors": "\(core.machine.errorCount)",
                ])
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        SMTPMetrics.received(bytes: incoming.readableBytes)
        guard !closed else { return }
        status?.touch(.now())
        if let action = core.received(incoming.readableBytes, at: Self.now()) { return perform(action, context) }
        buffer.writeBuffer(&incoming)
        drive(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// While a backend call is out, input is still read into `buffer`, up to this many bytes. Stopping at once
    /// cost two `epoll_ctl` calls per command (read interest off, then on again); the bound keeps a client that
    /// sends without waiting from growing the buffer.
    static let readAheadWhileWaiting = 16 * 1024

    func read(context: ChannelHandlerContext) {
        let bufferFull = waiting && buffer.readableBytes >= Self.readAheadWhileWaiting
        if bufferFull || closed || !context.channel.isWritable {
            heldRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        releaseHeldRead(context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            logger.debug("client closed its side", metadata: ["buffered": "\(buffer.readableBytes)"])
            core.endOfInput()
            drive(context)
        case TLSUserEvent.handshakeCompleted:
            let version = try? context.pipeline.syncOperations.nioSSL_tlsVersion()
            tlsVersion = version.map(Self.describe)
            SMTPMetrics.tlsHandshakeCompleted()
            logger.debug("TLS established", metadata: ["tls": "\(tlsVersion ?? "?")"])
        case ShutdownEvent.drain:
            if let action = core.drain() { perform(action, context) }
        case ShutdownEvent.now:
            if let action = core.closeNow(.shuttingDown) { perform(action, context) }
        case is EvictionEvent:
            if let action = core.closeNow(.evicted) { perform(action, context) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TCP FIN inside TLS without close_notify: what came before it is still answered, as after a clean
        // end of input (the `inputClosed` event follows).
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return }
        SMTPMetrics.connectionError(error, tlsEstablished: tlsVersion != nil)
        logger.debug("connection error: \(error)")
        close(context, after: [], nil)
    }

    private func releaseHeldRead(_ context: ChannelHandlerContext) {
        if heldRead, !waiting, !closed, context.channel.isWritable {
            heldRead = false
            context.read()
        }
    }

    // MARK: Handing the connection over

    /// Gives the connection to `successor` (role reversal after TURN or ATRN: the server becomes the client on
    /// the same TCP connection): this handler leaves the pipeline, and the input it has read but not processed
    /// goes to `successor` first, as if just read. Everything this handler holds is I/O state, so nothing else
    /// needs to move; the registry keeps counting the connection until it closes.
    func handOver(to successor: any ChannelHandler, _ context: ChannelHandlerContext) throws {
        precondition(!waiting && sink == nil, "handing over during a backend call or a message")
        timer?.cancel()
        timer = nil
        closed = true
        authTask?.cancel()
        try context.pipeline.syncOperations.addHandler(successor, position: .after(self))
        let unread = buffer
        buffer = ByteBuffer()
        if unread.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(unread))
            context.fireChannelReadComplete()
        }
        if admitted {
            admitted = false
            let session = self.session
            let registry = self.registry
            let channel = context.channel
            let client = connection.clientAddress
            Task(executorPreference: executor(context)) { await session?.logout() }
            let listener = self.listener
            channel.closeFuture.whenComplete { _ in
                SMTPMetrics.connectionClosed(listener)
                registry.remove(channel, client: client)
            }
        }
        logger.info("connection handed over", metadata: ["to": "\(type(of: successor))"])
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Feeding the core

    /// Runs the buffered input through the core until it needs more input or an action is out.
    private func drive(_ context: ChannelHandlerContext) {
        let allocator = context.channel.allocator
        while !waiting, !closed {
            let now = Self.now()
            let (step, content) = buffer.withUnsafeReadableBytes { input in
                var output = BodyOutput(input: input, allocator: allocator)
                let step = core.process(input, body: &output, at: now)
                return (step, output.content)
            }
            if let body = content.buffer(in: buffer) { deliver(body, context) }
            if let command = step.command { SMTPMetrics.command(command) }
            buffer.moveReaderIndex(forwardBy: step.consumed)
            if let action = step.action {
                perform(action, context)
            } else if step.consumed == 0 {
                break
            }
        }
        buffer.discardReadBytes()
        // Reads of a body grow the buffer to tens of KiB: kept, that would stay with every connection left idle
        // after its message.
        if !core.isReadingBody, buffer.capacity > Self.idleBufferCapacity,
            buffer.readableBytes <= Self.idleBufferCapacity / 2
        {
            buffer = ByteBuffer(bytes: buffer.readableBytesView)
        }
        if !waiting || buffer.readableBytes == 0 { context.flush() }
        core.syncBodyTiming(at: Self.now())
        armTimer(context)
    }

    // MARK: Actions

    private func perform(_ action: ConnectionAction, _ context: ChannelHandlerContext) {
        switch action {
        case .send(let replies):
            send(replies, context)
            if let status, !status.greeted, core.machine.greeting != nil { status.markGreeted() }
        case .write(let text):
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
        case .close(let replies, let reason):
            close(context, after: replies, reason)
        case .checkSender(let path, let parameters):
            let session = self.session!
            call(context, { try await session.mail(from: path, parameters: parameters) }) { result, now in
                self.core.senderChecked(self.refusal(result), at: now)
            }
        case .checkRecipient(let recipient):
            let session = self.session!
            call(context, { try await session.rcpt(recipient) }) { result, now in
                self.core.recipientChecked(recipient, refusal: self.refusal(result), at: now)
            }
        case .lookup(let kind, let name):
            let session = self.session!
            call(context, { kind == .verify ? await session.verify(name) : await session.expand(name) }) {
                result, now in
                self.core.lookupAnswered((try? result.get()) ?? .localError, at: now)
            }
        case .reset:
            let session = self.session!
            call(context, { await session.reset() }) { _, now in self.core.resetDone(at: now) }
        case .openMessage(let envelope):
            open(envelope, context)
        case .commit:
            commit(context)
        case .abortMessage:
            let sink = self.sink
            let session = self.session!
            self.sink = nil
            pendingBody = nil
            call(
                context,
                {
                    await sink?.abort()
                    await session.reset()
                }
            ) { _, now in
                let answer = self.core.resetDone(at: now)
                if case .send(let replies) = answer, let reply = replies.first { self.logTransaction(reply) }
                return answer
            }
        case .startTLS(let reply):
            startTLS(reply, context)
        case .authenticate(let mechanism, let initialResponse):
            guard let authenticator = configuration.authenticator, !throttle.isBlocked(connection.clientAddress) else {
                logger.notice("AUTH refused: too many failures from this address")
                SMTPMetrics.auth(.throttled)
                if let answer = core.authStepped(.failure(.throttled), at: Self.now()) { perform(answer, context) }
                return
            }
            let exchange = authenticator.makeExchange(mechanism: mechanism, connection: connection)
            self.exchange = exchange
            authStep(exchange, initialResponse, context)
        case .continueAuthentication(let response):
            guard let exchange else {
                if let answer = core.authStepped(.failure(.temporary), at: Self.now()) { perform(answer, context) }
                return
            }
            authStep(exchange, response, context)
        case .authenticated(let user):
            let session = self.session!
            exchange = nil
            logger.info("authenticated", metadata: ["user": "\(user)"])
            SMTPMetrics.auth(.success)
            call(context, { await session.authenticated(as: user) }) { _, now in
                self.core.authenticationRecorded(at: now)
            }
        }
    }

    private func authStep(_ exchange: any SASLExchange, _ response: [UInt8]?, _ context: ChannelHandlerContext) {
        let pool = authPool
        authTask = call(context, { await pool.step(exchange, response) }) { result, now in
            self.authTask = nil
            let step = (try? result.get()) ?? .failure(.temporary)
            if case .failure(let failure) = step, failure == .badCredentials || failure == .malformed {
                // Never the payload: only that it failed, and from where.
                self.logger.notice("authentication failed", metadata: ["reason": "\(failure)"])
                self.throttle.recordFailure(self.connection.clientAddress)
                SMTPMetrics.auth(.failure)
                self.exchange = nil
            }
            return self.core.authStepped(step, at: now)
        }
    }

    /// RFC 3207: the 220 leaves in plaintext, then TLS starts before another byte is read. Whatever the client
    /// sent after STARTTLS in plaintext is thrown away (CVE-2011-0411), never read as a command inside TLS.
    private func startTLS(_ reply: Reply, _ context: ChannelHandlerContext) {
        guard let makeContext = configuration.tls else { return close(context, after: [.localError], nil) }
        send([reply], context)
        context.flush()
        if buffer.readableBytes > 0 {
            logger.notice("discarded \(buffer.readableBytes) plaintext bytes sent after STARTTLS")
        }
        buffer.clear()
        do {
            try context.pipeline.syncOperations.addHandler(
                NIOSSLServerHandler(context: makeContext()), position: .first)
        } catch {
            logger.error("cannot start TLS: \(error)")
            close(context, after: [], nil)
        }
    }

    static func describe(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }

    /// Opens the backend's sink for a new message and writes the `Received:` header into it.
    private func open(_ envelope: Envelope, _ context: ChannelHandlerContext) {
        let id = TransactionID.make()
        transactionID = id
        // Every line logged until the transaction's outcome carries its id, as the `Received:` header does.
        logger[metadataKey: "id"] = "\(id)"
        self.envelope = envelope
        sinkFailure = nil
        pendingBody = nil
        let session = self.session!
        let header =
            configuration.addReceivedHeader
            ? ReceivedHeader.render(
                envelope: envelope, clientAddress: connection.clientAddress, hostname: configuration.session.hostname,
                id: id, date: RFC5322Date.now(), tls: tlsVersion) : nil
        call(
            context,
            {
                let sink = try await session.openMessage(envelope, id: id)
                if let header {
                    do {
                        try await sink.write(ByteBuffer(string: header))
                    } catch {
                        await sink.abort()
                        throw error
                    }
                }
                return sink
            }
        ) { result, now in
            switch result {
            case .success(let sink):
                self.sink = sink
                return self.core.messageOpened(refusal: nil, at: now)
            case .failure(let error):
                return self.core.messageOpened(refusal: self.refusal(error), at: now)
            }
        }
    }

    private func deliver(_ bytes: ByteBuffer, _ context: ChannelHandlerContext) {
        guard let sink, sinkFailure == nil else { return }
        var batch = pendingBody ?? context.channel.allocator.buffer(capacity: 0)
        batch.writeImmutableBuffer(bytes)
        guard batch.readableBytes >= Self.bodyBatchSize else {
            pendingBody = batch
            return
        }
        pendingBody = nil
        let full = batch
        core.serverBusyBegan(at: Self.now())
        call(context, { try await sink.write(full) }) { result, now in
            if case .failure(let error) = result { self.sinkFailure = self.refusal(error) }
            self.core.serverBusyEnded(at: now)
            return nil
        }
    }

    private func commit(_ context: ChannelHandlerContext) {
        let sink = self.sink
        let session = self.session!
        let failure = sinkFailure
        let id = transactionID
        let rest = pendingBody
        let endOfData = NIODeadline.now()
        self.sink = nil
        pendingBody = nil
        call(
            context,
            { () async -> Result<String, Reply> in
                guard let sink else { return .failure(.localError) }
                if let failure {
                    await sink.abort()
                    await session.reset()
                    return .failure(failure)
                }
                do {
                    if let rest { try await sink.write(rest) }
                    try await sink.commit()
                    await session.reset()
                    return .success(id)
                } catch {
                    await sink.abort()
                    await session.reset()
                    return .failure((error as? Reply) ?? .localError)
                }
            }
        ) { result, now in
            let outcome = (try? result.get()) ?? .failure(.localError)
            SMTPMetrics.committed(since: endOfData)
            let answer = self.core.messageCommitted(outcome, at: now)
            switch outcome {
            case .success: self.logTransaction(Reply(250, .init(2, 0, 0), "OK"))
            case .failure(let reply): self.logTransaction(reply)
            }
            return answer
        }
    }

    // MARK: Effects

    /// Runs `operation` as a task (on this event loop unless it moves elsewhere); the core is not fed until
    /// `answer` has run on the event loop, and the action it returns has been carried out.
    @discardableResult
    private func call<Value: Sendable>(
        _ context: ChannelHandlerContext, _ operation: @escaping @Sendable () async throws -> Value,
        answer: @escaping (Result<Value, any Error>, Duration) -> ConnectionAction?
    ) -> Task<Void, Never> {
        waiting = true
        let promise = context.eventLoop.makePromise(of: Value.self)
        let task = Task(executorPreference: executor(context)) {
            do { promise.succeed(try await operation()) } catch { promise.fail(error) }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.waiting = false
            guard !self.closed else { return }
            if let action = answer(result, Self.now()) { self.perform(action, context) }
            self.drive(context)
            self.releaseHeldRead(context)
        }
        return task
    }

    /// Made on the first backend call: the handler may be created off its event loop.
    private var taskExecutor: EventLoopTaskExecutor?

    private func executor(_ context: ChannelHandlerContext) -> EventLoopTaskExecutor {
        if let taskExecutor { return taskExecutor }
        let made = EventLoopTaskExecutor(context.eventLoop)
        taskExecutor = made
        return made
    }

    private func refusal(_ result: Result<Void, any Error>) -> Reply? {
        guard case .failure(let error) = result else { return nil }
        return refusal(error)
    }

    private func refusal(_ error: any Error) -> Reply {
        if let reply = error as? Reply { return reply }
        logger.error("backend error: \(error)")
        return .localError
    }

    private func send(_ replies: [Reply], _ context: ChannelHandlerContext) {
        for reply in replies {
            SMTPMetrics.replied(reply)
            context.write(wrapOutboundOut(ByteBuffer(string: reply.wireText)), promise: nil)
        }
    }

    /// Sends the replies, then closes once they are on the wire; logs and counts a hang-up.
    private func close(_ context: ChannelHandlerContext, after replies: [Reply], _ reason: CloseReason?) {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        switch reason {
        case .hangUp(let reason):
            logger.notice(
                "closing connection: \(reason.rawValue)",
                metadata: [
                    "reply": "\(replies.last.map { "\($0.code) \($0.enhancedCode?.description ?? "")" } ?? "none")",
                    "bytes": "\(core.limiter.sessionBytes)",
                ])
            SMTPMetrics.hangUp(reason)
        case .idleTimeout:
            logger.notice("idle timeout")
        case .evicted:
            logger.notice("closing connection: evicted to make room")
        case .endOfInput:
            logger.debug("client ended its input")
        case .quit, .shuttingDown, nil:
            break
        }
        replies.forEach(SMTPMetrics.replied)
        let text = replies.map(\.wireText).joined()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Sets the timer for the core's next deadline. It is only rescheduled when that comes earlier than the time
    /// it is set for; firing early it re-arms itself.
    private func armTimer(_ context: ChannelHandlerContext) {
        core.underPressure = registry.isUnderPressure
        guard !closed, let deadline = core.nextDeadline else {
            timer?.cancel()
            timer = nil
            return
        }
        if timer != nil, timerFires <= deadline { return }
        timer?.cancel()
        timerFires = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(
            deadline: .uptimeNanoseconds(UInt64(max(deadline.timeAmount, 0)))
        ) {
            self.timer = nil
            guard !self.closed else { return }
            // A write of the body is out: the client is not to blame for the wait; look again in a second.
            if self.waiting, !self.core.isWaiting {
                self.timerFires = .zero
                self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
                    self.timer = nil
                    self.armTimer(context)
                }
                return
            }
            if let action = self.core.timeElapsed(at: Self.now()) {
                self.perform(action, context)
                self.drive(context)
            }
            self.armTimer(context)
        }
    }

    private func logTransaction(_ reply: Reply) {
        let outcome = reply.isPositive ? "accepted" : "refused"
        if reply.isPositive { accepted += 1 } else { refused += 1 }
        SMTPMetrics.transaction(reply)
        logger.info(
            "message \(outcome)",
            metadata: [
                "id": "\(transactionID)",
                "from": "\(envelope?.sender.description ?? "?")",
                "to": "\(envelope?.recipients.map(\.path.description).joined(separator: ",") ?? "")",
                "size": "\(core.bodySize)",
                "result": "\(reply.code) \(reply.enhancedCode?.description ?? "")",
            ])
        logger[metadataKey: "id"] = nil
        envelope = nil
    }
}
