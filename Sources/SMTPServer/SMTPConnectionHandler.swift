import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore

/// Drives one SMTP connection: frames the byte stream, feeds `ServerStateMachine`, and carries out the actions
/// it returns (a `switch`, no protocol decisions of its own). Backend calls are async; while one is outstanding,
/// input stays buffered and reads are held, so replies keep their order (RFC 2920) and memory stays bounded.
final class SMTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case command
        /// A command line grew past the limit: drop bytes up to its CRLF.
        case discardingLine
        case data(DotUnstuffer)
        case chunk(remaining: Int, deliver: Bool)
        case closed
    }

    private let configuration: SMTPServerConfiguration
    private let backend: any SMTPBackend
    private let registry: ConnectionRegistry
    private let throttle: AuthThrottle
    private let authPool: AuthWorkPool
    private let listener: ListenerKind
    private var logger: Logger
    private var machine: ServerStateMachine
    private var session: (any SMTPSession)?
    private var connection = ConnectionInfo(
        id: TransactionID.make(length: 8), clientAddress: "?", clientPort: 0, serverAddress: "?")
    private var admitted = false

    private var buffer = ByteBuffer()
    private static let idleBufferCapacity = 4096
    private var mode = Mode.command
    private var waiting = false
    /// When the outstanding backend call started.
    private var waitingSince = Duration.zero
    private var heldRead = false
    private var draining = false
    /// The client shut down its sending side (TCP FIN, or TLS close_notify): what it sent before is still
    /// answered in order, then the connection closes. Exim pipelines its last commands and half-closes.
    private var inputEnded = false

    private var transactionID = ""
    private var envelope: Envelope?
    private var sink: (any MessageSink)?
    private var bodySize = 0
    /// The message's body as received, dot-stuffing and BDAT chunks included: credited back to the session byte
    /// limit when the message is accepted.
    private var bodyWireBytes = 0
    private var sinkFailure: Reply?
    /// Body bytes not yet handed to the sink: a backend call per read costs more than copying a small message, so
    /// reads are gathered up to `bodyBatchSize` and most messages reach the sink in one call, with the commit.
    private var pendingBody: ByteBuffer?
    private static let bodyBatchSize = 64 * 1024
    private var openRefusal: Reply?
    private var exchange: (any SASLExchange)?
    /// The SASL step in progress: cancelled when the connection closes, so that it leaves the line of steps
    /// waiting for the password-hashing threads.
    private var authTask: Task<Void, Never>?
    /// The negotiated TLS version, for the `Received:` header.
    private var tlsVersion: String?

    private var idleTimer: Scheduled<Void>?
    private var idleDeadline = NIODeadline.now()
    private var idleTimerFires = NIODeadline.now()
    private var sessionTimer: Scheduled<Void>?
    private var greetingTimer: Scheduled<Void>?
    /// Fires when a message body falls below the minimum data rate unless more of it arrives.
    private var dataRateTimer: Scheduled<Void>?
    /// When `dataRateTimer` fires: the deadline only moves later as the body arrives, so the timer is left to fire
    /// early and re-arm itself rather than being moved on every read.
    private var dataRateTimerFires: Duration = .zero
    /// Connection-wide limits: early talkers, commands per second, body data rate, bytes per session.
    private var limiter: ConnectionLimiter
    /// A hang-up decided while a backend call was outstanding: carried out once the call has finished, so that
    /// its reply (a 250 for a committed message, say) is not lost.
    private var pendingHangUp: (replies: [Reply], reason: HangUpReason)?
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
        self.machine = ServerStateMachine(configuration: configuration.session)
        self.limiter = ConnectionLimiter(
            limits: configuration.limits, maxMessageSize: configuration.session.maxMessageSize, now: Self.now())
    }

    /// The monotonic clock the limiter is fed with.
    private static func now() -> Duration {
        .nanoseconds(NIODeadline.now().uptimeNanoseconds)
    }

    /// The protocol settings for this connection: what its listener is for, whether it is on loopback.
    private func sessionConfiguration() -> SessionConfiguration {
        var session = configuration.session
        session.startTLS = configuration.tls != nil && listener != .submissions
        session.authMechanisms = configuration.authenticator?.mechanisms ?? []
        session.authWithoutTLS = configuration.authWithoutTLSOnLoopback && connection.isLoopback
        session.requireAuth = listener != .smtp
        return session
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        let remote = context.remoteAddress
        connection.clientAddress = remote?.ipAddress ?? "unknown"
        connection.clientPort = remote?.port ?? 0
        connection.serverAddress = context.localAddress?.ipAddress ?? "unknown"
        connection.listener = listener
        machine = ServerStateMachine(configuration: sessionConfiguration())
        machine.isTLS = listener == .submissions
        logger[metadataKey: "conn"] = "\(connection.id)"
        logger[metadataKey: "client"] = "\(connection.clientAddress)"
        SMTPMetrics.connectionOpened(listener)

        switch registry.admit(context.channel, client: connection.clientAddress) {
        case .admitted:
            admitted = true
        case .tooMany:
            return hangUp([.tooManyConnections], .tooManyConnections, context)
        case .shuttingDown:
            return close(context, after: [.shuttingDown])
        }
        session = backend.makeSession(for: connection)
        sessionTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .nanoseconds(configuration.sessionTimeout.timeAmount)
        ) {
            self.hangUp([.sessionExpired], .sessionDeadline, context)
            // The hang-up waits for a backend call in progress, but not for ever.
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(30)) {
                self.close(context, after: [.sessionExpired])
            }
        }
        armIdleTimer(context)
        sendGreeting(context)
        context.fireChannelActive()
    }

    /// The 220 greeting. With a greeting delay (on mail exchange listeners only: submission clients are known
    /// users) the first line of a two-line 220 goes out at once and the last after the delay; until then any
    /// input is a pregreet violation (Postfix postscreen's test). The "220-" line keeps patient clients waiting
    /// for the rest and catches bots that talk as soon as they see a 220.
    private func sendGreeting(_ context: ChannelHandlerContext) {
        let delay = configuration.limits.greetingDelay
        guard delay > .zero, listener == .smtp else {
            limiter.greetingSent()
            send([machine.greetingReply], context)
            context.flush()
            return
        }
        let text = machine.delayedGreetingReply.wireText
        let firstLineEnd = text.firstRange(of: "\r\n")!.upperBound
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: String(text[..<firstLineEnd]))), promise: nil)
        greetingTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay.timeAmount)) {
            guard !self.isClosed, self.pendingHangUp == nil else { return }
            self.limiter.greetingSent()
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: String(text[firstLineEnd...]))), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        SMTPMetrics.connectionClosed(listener)
        mode = .closed
        idleTimer?.cancel()
        sessionTimer?.cancel()
        greetingTimer?.cancel()
        dataRateTimer?.cancel()
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
                    "errors": "\(machine.errorCount)",
                ])
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        SMTPMetrics.received(bytes: incoming.readableBytes)
        guard !isClosed, pendingHangUp == nil else { return }
        // Input read ahead while a backend call is out is timed as of the call's start: the server, not the
        // client, is slow then (the call's end credits the pause to the data rate).
        let now = waiting ? waitingSince : Self.now()
        if let violation = limiter.received(incoming.readableBytes, at: now) {
            return hangUp(violation, context)
        }
        buffer.writeBuffer(&incoming)
        process(context)
        // After processing: the mode the bytes left us in (command, DATA or BDAT) decides the timeout.
        armIdleTimer(context)
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
        if bufferFull || isClosed || pendingHangUp != nil || !context.channel.isWritable {
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
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            logger.debug("client closed its side", metadata: ["buffered": "\(buffer.readableBytes)"])
            process(context)
            return
        }
        if case TLSUserEvent.handshakeCompleted = event {
            let version = try? context.pipeline.syncOperations.nioSSL_tlsVersion()
            tlsVersion = version.map(Self.describe)
            SMTPMetrics.tlsHandshakeCompleted()
            logger.debug("TLS established", metadata: ["tls": "\(tlsVersion ?? "?")"])
            return
        }
        guard let event = event as? ShutdownEvent else { return context.fireUserInboundEventTriggered(event) }
        switch event {
        case .drain:
            draining = true
            if case .command = mode, !waiting, machine.transaction == nil { close(context, after: [.shuttingDown]) }
        case .now:
            close(context, after: [.shuttingDown])
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TCP FIN inside TLS without close_notify: what came before it is still answered, as after a clean
        // end of input (the `inputClosed` event follows).
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return }
        SMTPMetrics.connectionError(error, tlsEstablished: tlsVersion != nil)
        logger.debug("connection error: \(error)")
        close(context, after: [])
    }

    private var isClosed: Bool { if case .closed = mode { true } else { false } }

    private func releaseHeldRead(_ context: ChannelHandlerContext) {
        if heldRead, !waiting, !isClosed, context.channel.isWritable {
            heldRead = false
            context.read()
        }
    }

    // MARK: Framing

    /// Runs the buffered input through the current mode until more input is needed or a backend call is pending.
    private func process(_ context: ChannelHandlerContext) {
        loop: while !waiting {
            switch mode {
            case .closed:
                return
            case .command:
                if draining, machine.transaction == nil {
                    close(context, after: [.shuttingDown])
                    return
                }
                let next = nextLine()
                if case .needMore = next { break loop }
                if let violation = limiter.command(at: Self.now()) { return hangUp(violation, context) }
                switch next {
                // Input already buffered behind the line was sent without waiting for its reply.
                case .line(let line):
                    SMTPMetrics.command(line, inAuthExchange: machine.awaitingAuthResponse)
                    perform(machine.receive(line: line, pipelined: buffer.readableBytes > 0), context)
                case .tooLong:
                    mode = .discardingLine
                    perform(machine.lineTooLong(), context)
                case .needMore: break loop
                }
            case .discardingLine:
                if discardThroughLineEnd() { mode = .command } else { break loop }
            case .data(var reader):
                if reader.isComplete {
                    mode = .command
                    perform(machine.dataReceived(size: bodySize, sawBareLineEnding: reader.sawBareLineEnding), context)
                    continue
                }
                guard buffer.readableBytes > 0 else { break loop }
                // Usually a slice of `buffer`, no copy; copied once when a read has stuffed dots or bare line ends.
                let decoded = reader.consume(buffer, allocator: context.channel.allocator)
                buffer.moveReaderIndex(forwardBy: decoded.consumed)
                bodyWireBytes += decoded.consumed
                mode = .data(reader)
                bodySize += decoded.count
                let limit = configuration.session.maxMessageSize
                if let body = decoded.body, limit == 0 || bodySize <= limit {
                    deliver(body, context)
                }
            case .chunk(let remaining, let deliverChunk):
                if remaining == 0 {
                    mode = .command
                    let refusal = openRefusal
                    openRefusal = nil
                    perform(machine.chunkReceived(openRefusal: refusal), context)
                    continue
                }
                guard buffer.readableBytes > 0 else { break loop }
                let count = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: count)!
                bodyWireBytes += count
                mode = .chunk(remaining: remaining - count, deliver: deliverChunk)
                if deliverChunk { deliver(slice, context) }
            }
        }
        buffer.discardReadBytes()
        // Reads of a body grow the buffer to tens of KiB: kept, that would stay with every connection left idle
        // after its message.
        if case .command = mode, buffer.capacity > Self.idleBufferCapacity,
            buffer.readableBytes <= Self.idleBufferCapacity / 2
        {
            buffer = ByteBuffer(bytes: buffer.readableBytesView)
        }
        if !waiting || buffer.readableBytes == 0 { context.flush() }
        // Everything complete that arrived before the end of input has been answered; an incomplete command or
        // message is dropped.
        if inputEnded, !waiting, !isClosed { close(context, after: []) }
    }

    private enum LineResult {
        case line([UInt8])
        case tooLong
        case needMore
    }

    /// The next command line, ended by CRLF only: a bare LF stays inside the line, where the parser refuses it.
    private func nextLine() -> LineResult {
        let limit = machine.lineLimit(forLineStarting: buffer.readableBytesView.prefix(5))
        guard let length = lineLength(searchingAtMost: limit) else {
            return buffer.readableBytes >= limit ? .tooLong : .needMore
        }
        let line = buffer.readBytes(length: length - 2)!
        buffer.moveReaderIndex(forwardBy: 2)
        return .line(line)
    }

    private func discardThroughLineEnd() -> Bool {
        if let length = lineLength(searchingAtMost: buffer.readableBytes) {
            buffer.moveReaderIndex(forwardBy: length)
            return true
        }
        // Keep a trailing CR: its LF may be in the next read.
        let keep = buffer.readableBytesView.last == .cr ? 1 : 0
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes - keep)
        return false
    }

    /// The length of the first line, CRLF included, if it ends within the first `limit` readable bytes.
    private func lineLength(searchingAtMost limit: Int) -> Int? {
        let view = buffer.readableBytesView
        let end = view.startIndex + min(limit, view.count)
        var index = view.startIndex
        while let lf = view[index..<end].firstIndex(of: .lf) {
            if lf > view.startIndex, view[lf - 1] == .cr { return lf - view.startIndex + 1 }
            index = lf + 1
        }
        return nil
    }

    // MARK: Actions

    private func perform(_ action: Action, _ context: ChannelHandlerContext) {
        switch action {
        case .send(let replies, let closing):
            if closing { close(context, after: replies) } else { send(replies, context) }
        case .hangUp(let replies, let reason):
            hangUp(replies, reason, context)
        case .checkSender(let path, let parameters):
            let session = self.session!
            call(context, { try await session.mail(from: path, parameters: parameters) }) { result in
                self.perform(self.machine.senderChecked(self.refusal(result)), context)
            }
        case .checkRecipient(let recipient):
            let session = self.session!
            call(context, { try await session.rcpt(recipient) }) { result in
                self.perform(self.machine.recipientChecked(recipient, refusal: self.refusal(result)), context)
            }
        case .lookup(let kind, let name):
            let session = self.session!
            call(context, { kind == .verify ? await session.verify(name) : await session.expand(name) }) { result in
                self.perform(self.machine.lookupAnswered((try? result.get()) ?? .localError), context)
            }
        case .reset(let reply):
            let session = self.session!
            call(context, { await session.reset() }) { _ in self.send([reply], context) }
        case .openMessage(let envelope):
            open(envelope, context) { refusal in
                if refusal == nil {
                    self.mode = .data(DotUnstuffer(bareLineEndings: self.configuration.session.bareLineEndings))
                }
                self.perform(self.machine.messageOpened(refusal: refusal), context)
            }
        case .receiveChunk(let size, let envelope, let deliver):
            if let envelope {
                open(envelope, context) { refusal in
                    self.openRefusal = refusal
                    self.mode = .chunk(remaining: size, deliver: refusal == nil)
                }
            } else {
                mode = .chunk(remaining: size, deliver: deliver && sink != nil)
            }
        case .commit:
            commit(context)
        case .startTLS(let reply):
            startTLS(reply, context)
        case .authenticate(let mechanism, let initialResponse):
            guard let authenticator = configuration.authenticator, !throttle.isBlocked(connection.clientAddress) else {
                logger.notice("AUTH refused: too many failures from this address")
                SMTPMetrics.auth(.throttled)
                return perform(machine.authStepped(.failure(.throttled)), context)
            }
            let exchange = authenticator.makeExchange(mechanism: mechanism, connection: connection)
            self.exchange = exchange
            authStep(exchange, initialResponse, context)
        case .continueAuthentication(let response):
            guard let exchange else { return perform(machine.authStepped(.failure(.temporary)), context) }
            authStep(exchange, response, context)
        case .authenticated(let user):
            let session = self.session!
            exchange = nil
            logger.info("authenticated", metadata: ["user": "\(user)"])
            SMTPMetrics.auth(.success)
            call(context, { await session.authenticated(as: user) }) { _ in
                self.perform(self.machine.authenticationRecorded(), context)
            }
        case .abortMessage(let reply):
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
            ) { _ in
                self.logTransaction(reply)
                self.send([reply], context)
            }
        }
    }

    private func authStep(_ exchange: any SASLExchange, _ response: [UInt8]?, _ context: ChannelHandlerContext) {
        let pool = authPool
        authTask = call(context, { await pool.step(exchange, response) }) { result in
            self.authTask = nil
            let step = (try? result.get()) ?? .failure(.temporary)
            if case .failure(let failure) = step, failure == .badCredentials || failure == .malformed {
                // Never the payload: only that it failed, and from where.
                self.logger.notice("authentication failed", metadata: ["reason": "\(failure)"])
                self.throttle.recordFailure(self.connection.clientAddress)
                SMTPMetrics.auth(.failure)
                self.exchange = nil
            }
            self.perform(self.machine.authStepped(step), context)
        }
    }

    /// RFC 3207: the 220 leaves in plaintext, then TLS starts before another byte is read. Whatever the client
    /// sent after STARTTLS in plaintext is thrown away (CVE-2011-0411), never read as a command inside TLS.
    private func startTLS(_ reply: Reply, _ context: ChannelHandlerContext) {
        guard let makeContext = configuration.tls else { return close(context, after: [.localError]) }
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
            close(context, after: [])
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
    private func open(_ envelope: Envelope, _ context: ChannelHandlerContext, then: @escaping (Reply?) -> Void) {
        let id = TransactionID.make()
        transactionID = id
        self.envelope = envelope
        bodySize = 0
        bodyWireBytes = 0
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
        ) { result in
            switch result {
            case .success(let sink):
                self.sink = sink
                then(nil)
            case .failure(let error):
                then(self.refusal(error))
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
        call(context, { try await sink.write(full) }) { result in
            if case .failure(let error) = result { self.sinkFailure = self.refusal(error) }
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
            { () async -> Reply in
                defer { _ = session }
                guard let sink else { return .localError }
                if let failure {
                    await sink.abort()
                    await session.reset()
                    return failure
                }
                do {
                    if let rest { try await sink.write(rest) }
                    try await sink.commit()
                    await session.reset()
                    return Reply(250, .init(2, 0, 0), "OK: queued as \(id)")
                } catch {
                    await sink.abort()
                    await session.reset()
                    return (error as? Reply) ?? .localError
                }
            }
        ) { result in
            let reply = (try? result.get()) ?? .localError
            SMTPMetrics.committed(since: endOfData)
            if reply.isPositive { self.limiter.messageAccepted(octets: self.bodyWireBytes) }
            self.logTransaction(reply)
            self.perform(self.machine.messageCommitted(reply), context)
        }
    }

    // MARK: Effects

    /// Runs `operation` as a task (on this event loop unless it moves elsewhere); input processing pauses until
    /// `then` has run on the event loop.
    @discardableResult
    private func call<Value: Sendable>(
        _ context: ChannelHandlerContext, _ operation: @escaping @Sendable () async throws -> Value,
        then: @escaping (Result<Value, any Error>) -> Void
    ) -> Task<Void, Never> {
        waiting = true
        let started = Self.now()
        waitingSince = started
        let promise = context.eventLoop.makePromise(of: Value.self)
        let task = Task(executorPreference: executor(context)) {
            do { promise.succeed(try await operation()) } catch { promise.fail(error) }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.waiting = false
            guard !self.isClosed else { return }
            // The client is not to blame for the time the backend took.
            self.limiter.serverPaused(for: Self.now() - started)
            then(result)
            if let pending = self.pendingHangUp, !self.waiting {
                self.pendingHangUp = nil
                return self.hangUp(pending.replies, pending.reason, context)
            }
            self.process(context)
            self.armIdleTimer(context)
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

    /// Ends the connection for a broken rule or a limit: logged and counted, the replies sent, then closed. While a
    /// backend call is outstanding (a commit, say) the hang-up waits for it, and input is no longer read.
    private func hangUp(_ replies: [Reply], _ reason: HangUpReason, _ context: ChannelHandlerContext) {
        guard !isClosed else { return }
        if waiting {
            if pendingHangUp == nil { pendingHangUp = (replies, reason) }
            return
        }
        logger.notice(
            "closing connection: \(reason.rawValue)",
            metadata: [
                "reply": "\(replies.last.map { "\($0.code) \($0.enhancedCode?.description ?? "")" } ?? "none")",
                "bytes": "\(limiter.sessionBytes)",
            ])
        SMTPMetrics.hangUp(reason)
        close(context, after: replies)
    }

    private func hangUp(_ violation: ConnectionLimiter.Violation, _ context: ChannelHandlerContext) {
        hangUp(violation.reply.map { [$0] } ?? [], violation.reason, context)
    }

    /// Sends the replies, then closes once they are on the wire.
    private func close(_ context: ChannelHandlerContext, after replies: [Reply]) {
        guard !isClosed else { return }
        mode = .closed
        idleTimer?.cancel()
        greetingTimer?.cancel()
        dataRateTimer?.cancel()
        replies.forEach(SMTPMetrics.replied)
        let text = replies.map(\.wireText).joined()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Moves the idle deadline. The timer itself is only rescheduled when the deadline comes earlier than the time
    /// it is set for: cancelling and scheduling a timer on every command cost more than a whole SMTP reply.
    private func armIdleTimer(_ context: ChannelHandlerContext) {
        guard !isClosed else {
            idleTimer?.cancel()
            return
        }
        let timeout: Duration
        switch mode {
        case .data, .chunk: timeout = configuration.dataTimeout
        default: timeout = configuration.commandTimeout
        }
        idleDeadline = .now() + .nanoseconds(timeout.timeAmount)
        if idleTimer == nil || idleDeadline < idleTimerFires {
            scheduleIdleTimer(context)
        }
        armDataRateTimer(context)
    }

    private func scheduleIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimerFires = idleDeadline
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: idleDeadline) {
            guard !self.isClosed else { return }
            if self.waiting {
                self.armIdleTimer(context)
            } else if NIODeadline.now() < self.idleDeadline {
                self.scheduleIdleTimer(context)
            } else {
                self.logger.notice("idle timeout")
                self.close(context, after: [.timeout])
            }
        }
    }

    /// Starts or stops timing a message body (DATA content, or a BDAT transaction from its first chunk to its
    /// last) as the state says, and arms the timer that catches a body falling below the minimum rate even when
    /// nothing more arrives. While a backend call is outstanding the timer does nothing: the call's end re-arms it.
    private func armDataRateTimer(_ context: ChannelHandlerContext) {
        let receivingBody: Bool
        switch mode {
        case .data, .chunk: receivingBody = true
        default: receivingBody = machine.transaction?.chunked == true
        }
        limiter.receivingBody(receivingBody, at: Self.now())
        guard !isClosed, let deadline = limiter.dataRateDeadline else {
            dataRateTimer?.cancel()
            dataRateTimer = nil
            return
        }
        // Cancelling and scheduling on every read of a body cost 2% of the CPU of 100 KB messages.
        if dataRateTimer != nil && dataRateTimerFires <= deadline { return }
        dataRateTimer?.cancel()
        dataRateTimerFires = deadline
        dataRateTimer = context.eventLoop.assumeIsolated().scheduleTask(
            deadline: .uptimeNanoseconds(UInt64(max(deadline.timeAmount, 0)))
        ) {
            self.dataRateTimer = nil
            guard !self.isClosed, !self.waiting else { return }
            if let violation = self.limiter.checkDataRate(at: Self.now()) {
                self.hangUp(violation, context)
            } else {
                self.armDataRateTimer(context)
            }
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
                "size": "\(bodySize)",
                "result": "\(reply.code) \(reply.enhancedCode?.description ?? "")",
            ])
        envelope = nil
    }
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
}
