import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import Synchronization

/// One SMTP session with a server (RFC 5321), as an SMTP client: connect, then any number of `authenticate`,
/// `send` and `reset` calls, then `quit`. The protocol decisions are `ClientStateMachine`'s; this actor does the
/// I/O, the timeouts and TLS.
///
/// ```swift
/// let connection = try await SMTPClientConnection.connect(
///     host: "mail.example.org", port: 587, configuration: .init(heloName: "me.example.org", security: .startTLS))
/// try await connection.authenticate(user: "me@example.org", password: "secret")
/// let result = try await connection.send(from: sender, to: [recipient], message: message)
/// await connection.quit()
/// ```
public actor SMTPClientConnection {
    public let configuration: SMTPClientConfiguration
    /// The server's 220 greeting.
    public private(set) var greeting: Reply?
    /// The address connected to.
    public nonisolated let remoteAddress: SocketAddress?

    private let channel: any Channel
    private let reader: NIOLoopBound<ReplyReader>
    private let serverName: String?
    private var machine: ClientStateMachine

    /// What the server offered in its last EHLO reply (empty after HELO).
    public var extensions: ServerExtensions { machine.extensions }
    /// Whether the session is encrypted (implicit TLS or STARTTLS).
    public var isTLS: Bool { machine.isTLS }
    /// Whether another transaction may start: the session is ready and the connection open.
    public var isUsable: Bool { machine.isReady && channel.isActive }

    private init(
        channel: any Channel, reader: NIOLoopBound<ReplyReader>, configuration: SMTPClientConfiguration,
        serverName: String?
    ) {
        self.channel = channel
        self.reader = reader
        self.configuration = configuration
        self.serverName = serverName
        self.remoteAddress = channel.remoteAddress
        self.machine = ClientStateMachine(
            heloName: configuration.heloName, tlsPolicy: configuration.tlsPolicy,
            isTLS: configuration.security == .implicitTLS)
    }

    /// Connects to `host:port`, reads the greeting, says EHLO (HELO if refused) and starts TLS as configured.
    /// `serverName` is the name TLS verifies and sends in SNI; by default `host`. An IP address is sent as no name.
    public static func connect(
        host: String, port: Int, serverName: String? = nil, configuration: SMTPClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(SMTPClientError) -> SMTPClientConnection {
        // SNI and certificate names are host names: an IP address (an MX host's, a smarthost's) is sent as none.
        let name = [serverName ?? host].first { !Self.isIPAddress($0) }
        let sslContext: NIOSSLContext?
        do {
            sslContext =
                configuration.security == .plaintext ? nil : try NIOSSLContext(configuration: configuration.tls)
        } catch {
            throw .tls("\(error)")
        }
        let implicit = configuration.security == .implicitTLS
        // The reader is made on the channel's loop; it is kept here rather than looked up in the pipeline later,
        // where it is gone once a server that sent garbage has been hung up on.
        let slot = ReaderSlot()
        let parser = ReplyParser(
            maximumLineLength: configuration.maximumReplyLineLength, maximumLines: configuration.maximumReplyLines)
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicit, let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: name))
                    }
                    let reader = ReplyReader(parser: parser)
                    try channel.pipeline.syncOperations.addHandler(reader)
                    slot.reader.withLock { $0 = NIOLoopBound(reader, eventLoop: channel.eventLoop) }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw .connectionFailed("\(host):\(port): \(error)")
        }
        guard let reader = slot.reader.withLock({ $0 }) else {
            channel.close(promise: nil)
            throw .connectionFailed("\(host):\(port): channel set up without a reply reader")
        }
        let connection = SMTPClientConnection(
            channel: channel, reader: reader, configuration: configuration, serverName: name)
        try await connection.open(sslContext: sslContext)
        return connection
    }

    /// Starts a client session on a connection that is already open, as after ATRN or TURN (RFC 2645), where the
    /// side that was the server becomes the client on the same TCP connection: adds the reply reader to the
    /// pipeline (whose other inbound handlers must be gone), turns `autoRead` on, waits for the peer's 220 and says
    /// EHLO. Bytes the previous owner read but did not use go in `buffered`; to lose none, hand the channel over
    /// with `autoRead` off. Use `security: .implicitTLS` when the connection is already encrypted.
    public static func adopt(
        _ channel: any Channel, buffered: ByteBuffer? = nil, serverName: String? = nil,
        configuration: SMTPClientConfiguration
    ) async throws(SMTPClientError) -> SMTPClientConnection {
        let sslContext: NIOSSLContext?
        do {
            sslContext =
                configuration.security == .plaintext || configuration.security == .implicitTLS
                ? nil : try NIOSSLContext(configuration: configuration.tls)
        } catch {
            throw .tls("\(error)")
        }
        var parser = ReplyParser(
            maximumLineLength: configuration.maximumReplyLineLength, maximumLines: configuration.maximumReplyLines)
        if let buffered { parser.append(buffered.readableBytesView) }
        let reader: NIOLoopBound<ReplyReader>
        do {
            reader = try await channel.eventLoop.submit { [parser] in
                let reader = ReplyReader(parser: parser)
                try channel.pipeline.syncOperations.addHandler(reader)
                try channel.syncOptions?.setOption(.autoRead, value: true)
                channel.read()
                return NIOLoopBound(reader, eventLoop: channel.eventLoop)
            }.get()
        } catch {
            throw .connectionFailed("cannot take over the connection: \(error)")
        }
        let connection = SMTPClientConnection(
            channel: channel, reader: reader, configuration: configuration,
            serverName: serverName.flatMap { Self.isIPAddress($0) ? nil : $0 })
        try await connection.open(sslContext: sslContext)
        return connection
    }

    private var sslContext: NIOSSLContext?

    private func open(sslContext: NIOSSLContext?) async throws(SMTPClientError) {
        self.sslContext = sslContext
        let greeting = try await nextReply()
        self.greeting = greeting
        _ = try await drive(machine.replyReceived(greeting))
    }

    /// Authenticates with a password (RFC 4954): PLAIN or LOGIN, whichever the server offers first in that order
    /// unless `mechanism` says which. Refused unless the session is encrypted or `allowPlaintext` is set.
    public func authenticate(
        user: String, password: String, mechanism: ClientSASL.Mechanism? = nil, allowPlaintext: Bool = false
    ) async throws(SMTPClientError) {
        guard isTLS || allowPlaintext else {
            throw .authenticationFailed(Reply(530, .init(5, 7, 11), "Not sending a password without TLS"))
        }
        guard let chosen = mechanism ?? ClientSASL.choose(offered: extensions.authMechanisms) else {
            throw .authenticationFailed(
                Reply(504, .init(5, 5, 4), "No common AUTH mechanism; server offers \(extensions.authMechanisms)"))
        }
        try await authenticate(using: ClientSASL(mechanism: chosen, user: user, password: password))
    }

    /// Authenticates with any SASL mechanism, such as SMTPAuth's `SCRAMClient` for SCRAM-SHA-256. The caller
    /// decides whether the session is safe enough (`isTLS`).
    public func authenticate(using mechanism: some SASLClientMechanism) async throws(SMTPClientError) {
        var sasl = mechanism
        var action = machine.authenticate(mechanism: sasl.name, initialResponse: sasl.initialResponse())
        var cancelled = false
        while true {
            switch try await drive(action) {
            case .authChallenge(let challenge):
                if let answer = sasl.respond(to: challenge) {
                    action = machine.authRespond(answer)
                } else {
                    cancelled = true
                    action = machine.authCancel()
                }
            case .authFinished(let reply):
                if cancelled {
                    throw .authenticationFailed(
                        Reply(535, .init(5, 7, 8), "Authentication abandoned: the server's challenge was not valid"))
                }
                guard reply.code == 235 else { throw .authenticationFailed(reply) }
                guard sasl.acceptsSuccess else {
                    // The server said yes without proving it knows the credentials: not the server we meant.
                    await close()
                    throw .authenticationFailed(
                        Reply(535, .init(5, 7, 8), "The server did not prove its identity (\(sasl.name))"))
                }
                return
            case let other: throw .sessionEnded(Reply(451, .init(4, 5, 0), "Unexpected client state \(other)"))
            }
        }
    }

    /// Sends one message: `body` is the message as stored (CRLF line ends, no dot-stuffing). Returns a result per
    /// recipient; throws when the session itself failed (then no recipient got the message, unless the failure
    /// came after the end of data: the caller must treat the recipients as not delivered and retry).
    public func send(_ transaction: OutboundTransaction, body: ByteBuffer) async throws(SMTPClientError)
        -> TransactionResult
    {
        switch try await drive(machine.startTransaction(transaction), body: body) {
        case .transactionFinished(let result), .transactionAborted(let result, _): return result
        case let other: throw .sessionEnded(Reply(451, .init(4, 5, 0), "Unexpected client state \(other)"))
        }
    }

    /// Sends `message` (a complete RFC 5322 message with CRLF line ends) from `sender` to `recipients`.
    public func send(from sender: ReversePath, to recipients: [Recipient], message: ByteBuffer)
        async throws(SMTPClientError) -> TransactionResult
    {
        let transaction = OutboundTransaction(
            sender: sender, recipients: recipients, size: message.readableBytes,
            hasEightBitBody: OutboundTransaction.isEightBit(message.readableBytesView))
        return try await send(transaction, body: message)
    }

    /// RSET (RFC 5321 §4.1.1.5).
    public func reset() async throws(SMTPClientError) {
        _ = try await drive(machine.reset())
    }

    /// QUIT and close. Errors are ignored: the session is over either way.
    public func quit() async {
        _ = try? await drive(machine.quit())
        try? await channel.close()
    }

    /// Closes the connection without QUIT.
    public func close() async {
        try? await channel.close()
    }

    // MARK: I/O

    /// Carries out actions until the state machine hands control back to the caller.
    private func drive(_ first: ClientAction, body: ByteBuffer? = nil) async throws(SMTPClientError) -> ClientAction {
        var action = first
        while true {
            switch action {
            case .send(let commands):
                try await write(ByteBuffer(string: commands.map(\.wireText).joined()))
                action = machine.replyReceived(try await nextReply())
            case .read:
                action = machine.replyReceived(try await nextReply())
            case .startTLS:
                try await startTLS()
                action = machine.tlsEstablished()
            case .sendBody(let discard):
                try await writeBody(discard ? nil : body)
                action = machine.bodySent()
            case .close(let reply):
                channel.close(promise: nil)
                if let reply { throw .sessionEnded(reply) }
                return action
            case .transactionAborted:
                channel.close(promise: nil)
                return action
            case .ready, .authChallenge, .authFinished, .transactionFinished:
                return action
            }
        }
    }

    private func nextReply() async throws(SMTPClientError) -> Reply {
        let wait = machine.awaiting ?? .command
        let timeout = TimeAmount(configuration.timeouts[wait])
        let reader = self.reader
        let channel = self.channel
        do {
            // A cancelled task (a daemon shutting down) does not wait out an RFC timeout of minutes: the connection
            // closes and the reply fails at once.
            return try await withTaskCancellationHandler {
                try await channel.eventLoop.flatSubmit {
                    reader.value.next(wait, timeout: timeout, on: reader.eventLoop)
                }.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw .connectionFailed("\(error)")
        }
    }

    private func write(_ buffer: ByteBuffer) async throws(SMTPClientError) {
        do {
            try await channel.writeAndFlush(buffer)
        } catch {
            throw .connectionClosed
        }
    }

    /// The body in blocks, each of which must be written within the data-block timeout (§4.5.3.2.5).
    private func writeBody(_ body: ByteBuffer?) async throws(SMTPClientError) {
        var stuffer = DotStuffer()
        if var body {
            while body.readableBytes > 0 {
                let block = body.readSlice(length: min(body.readableBytes, 64 * 1024))!
                let stuffed = stuffer.stuff(block.readableBytesView)
                try await writeWithin(configuration.timeouts.dataBlock, ByteBuffer(bytes: stuffed))
            }
        }
        try await writeWithin(configuration.timeouts.dataBlock, ByteBuffer(bytes: stuffer.terminator()))
    }

    private func writeWithin(_ timeout: Duration, _ buffer: ByteBuffer) async throws(SMTPClientError) {
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
        defer { timer.cancel() }
        let started = ContinuousClock.now
        do {
            try await channel.writeAndFlush(buffer)
        } catch {
            // The timer closed the channel, or the server did.
            throw ContinuousClock.now - started >= timeout ? .timeout(.dataBlock) : .connectionClosed
        }
    }

    /// Puts TLS in front of the reply reader (RFC 3207). A server that sent anything after its 220 is refused:
    /// those bytes would otherwise be read as if they had come through TLS.
    private func startTLS() async throws(SMTPClientError) {
        guard let sslContext else { throw .tls("no TLS configuration") }
        let reader = self.reader
        let channel = self.channel
        let name = serverName
        do {
            try await channel.eventLoop.submit {
                guard !reader.value.hasUnreadInput else {
                    throw SMTPClientError.protocolViolation("data after the STARTTLS reply, before TLS")
                }
                try channel.pipeline.syncOperations.addHandler(
                    try NIOSSLClientHandler(context: sslContext, serverHostname: name), position: .first)
            }.get()
        } catch let error as SMTPClientError {
            channel.close(promise: nil)
            throw error
        } catch {
            channel.close(promise: nil)
            throw .tls("\(error)")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Carries the reply reader out of the channel initializer.
private final class ReaderSlot: Sendable {
    let reader = Mutex<NIOLoopBound<ReplyReader>?>(nil)
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
