/// The server side of one SMTP session (RFC 5321 §4.1.4, §3.3) as a value: it takes command lines and the
/// outcomes of backend calls, and returns what to do. It does no I/O and reads no clock.
///
/// The caller must not feed a new line while an action that calls back into the state machine is outstanding.
public struct ServerStateMachine: Sendable {
    public let configuration: SessionConfiguration

    /// Whether the connection is encrypted: set by the I/O layer for implicit TLS, and by STARTTLS.
    public var isTLS = false
    /// The identity the client authenticated as (RFC 4954), if it did.
    public private(set) var authenticatedUser: String?
    public var isAuthenticated: Bool { authenticatedUser != nil }
    /// Whether the next line is a response in a SASL exchange rather than a command.
    public private(set) var awaitingAuthResponse = false
    public private(set) var authFailures = 0

    public private(set) var errorCount = 0
    /// The name from the last HELO/EHLO, and whether it was EHLO.
    public private(set) var greeting: (name: String, extended: Bool)?
    /// Whether an EHLO reply has offered PIPELINING on this connection (STARTTLS does not take that back).
    public private(set) var pipeliningOffered = false
    public private(set) var transaction: Transaction?
    private var pending: Pending?

    /// What is waiting for an answer from the I/O layer.
    private enum Pending: Sendable {
        case sender(ReversePath, MailParameters)
        case recipient
        case openData
        case data
        case chunk(last: Bool, refusal: Reply?)
        case commit
        case auth
        case authenticated(String)
    }

    /// A transaction between MAIL and the end of its body.
    public struct Transaction: Sendable, Hashable {
        public var sender: ReversePath
        public var parameters: MailParameters
        public var recipients: [Recipient] = []
        /// Set once the first BDAT chunk arrived: DATA is then out of sequence.
        public var chunked = false
        /// Octets received so far through BDAT.
        public var chunkedSize = 0
        /// A refusal that ends the BDAT transaction once its LAST chunk has been read.
        public var chunkRefusal: Reply?
    }

    public init(configuration: SessionConfiguration) {
        self.configuration = configuration
    }

    /// The 220 greeting (RFC 5321 §4.3.1).
    public var greetingReply: Reply {
        Reply(220, nil, "\(configuration.hostname) ESMTP Swallow ready")
    }

    /// The greeting in two lines, for a delayed greeting: the I/O layer sends the first line at once and the last
    /// after the delay, as Postfix's postscreen does, so that a client that talks after the first line is caught.
    public var delayedGreetingReply: Reply {
        Reply(220, nil, lines: ["\(configuration.hostname) ESMTP", greetingReply.lines[0]])
    }

    /// The `with` keyword for trace headers (RFC 3848, RFC 6531 §3.7.3).
    public var protocolName: String {
        guard greeting?.extended == true else { return "SMTP" }
        let utf8 = transaction?.parameters.smtpUTF8 == true
        var name = utf8 ? "UTF8SMTP" : "ESMTP"
        if isTLS { name += "S" }
        if isAuthenticated { name += "A" }
        return name
    }

    // MARK: Commands

    /// RFC 4954 §4: AUTH lines, and the responses of an exchange, may be up to 12288 octets; other commands 512.
    public static let authLineLength = 12288

    /// The longest line acceptable next, given how the buffered line starts.
    public func lineLimit(forLineStarting prefix: some Collection<UInt8>) -> Int {
        if awaitingAuthResponse { return Self.authLineLength }
        // Byte by byte, without building arrays: this runs for every line the server reads.
        var index = prefix.startIndex
        for expected in "AUTH ".utf8 {
            guard index != prefix.endIndex, prefix[index].asciiUppercased == expected else {
                return CommandParser.maxLineLength
            }
            prefix.formIndex(after: &index)
        }
        return Self.authLineLength
    }

    /// A complete command line, without its CRLF. `pipelined` tells whether more input had already arrived behind
    /// it: the client sent that without waiting for this line's reply.
    public mutating func receive(line: [UInt8], pipelined: Bool = false) -> Action {
        precondition(pending == nil, "a new line arrived while an action was outstanding")
        if awaitingAuthResponse { return authResponse(line) }
        // ALPACA and other cross-protocol attacks: nothing is echoed to a client that speaks HTTP.
        if CommandParser.isHTTPRequest(line) { return .hangUp([], reason: .httpRequest) }
        if pipelined, configuration.rejectEarlyPipelining, !mayPipeline, CommandParser.verb(of: line) != .quit {
            return .hangUp([.earlyPipelining], reason: .earlyPipelining)
        }
        if line.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return error(Reply(500, .init(5, 5, 2), "Invalid character (control, CR, LF or NUL) in command line"))
        }
        guard let verb = CommandParser.verb(of: line) else { return error(.unknownCommand) }
        if let refusal = sequenceRefusal(for: verb) { return error(refusal) }
        switch CommandParser.parse(line) {
        case .failure(let reply): return error(reply)
        case .success(let command): return handle(command)
        }
    }

    /// RFC 2920: a client may send commands without waiting for replies once EHLO has offered PIPELINING, that is
    /// after the EHLO reply. Before that (and for the whole of a HELO session) it must wait, as spam software
    /// often does not (Postfix's `smtpd_forbid_unauth_pipelining`). Authenticated clients are trusted, and so is
    /// a client that waited for an EHLO reply before STARTTLS: it has shown it listens, and scripted TLS clients
    /// (`openssl s_client -starttls smtp` with its input prepared) send the new EHLO and more at once.
    public var mayPipeline: Bool { pipeliningOffered || isAuthenticated }

    /// A command line longer than `CommandParser.maxLineLength` was read and thrown away.
    public mutating func lineTooLong() -> Action {
        error(.lineTooLong)
    }

    /// RFC 5321 §4.1.4: what may come when. Checked before the arguments, as most servers do.
    private func sequenceRefusal(for verb: Verb) -> Reply? {
        switch verb {
        case .mail:
            if greeting == nil { return .needHelo }
            if transaction != nil { return .nestedMail }
        case .rcpt:
            if transaction == nil { return .needMail }
            if transaction?.chunked == true { return .badSequence }
        case .data:
            guard let transaction else { return .needMail }
            if transaction.recipients.isEmpty { return .needRecipient }
            if transaction.chunked { return Reply(503, .init(5, 5, 1), "DATA cannot follow BDAT") }
            if transaction.parameters.body == .binaryMIME {
                return Reply(503, .init(5, 5, 1), "BODY=BINARYMIME requires BDAT")
            }
        case .bdat:
            if !configuration.chunking { return .notImplemented }
        case .startTLS:
            if isTLS { return .alreadyTLS }
            guard configuration.startTLS else { return .notImplemented }
            if greeting == nil { return .needHelo }
            if transaction != nil { return .badSequence }
        case .auth:
            guard !configuration.authMechanisms.isEmpty else { return .notImplemented }
            if greeting == nil { return .needHelo }
            if isAuthenticated { return .authAlreadyDone }
            if transaction != nil { return .authInTransaction }
        default:
            break
        }
        return nil
    }

    private mutating func handle(_ command: Command) -> Action {
        switch command {
        case .helo(let name), .ehlo(let name):
            let extended: Bool
            if case .ehlo = command { extended = true } else { extended = false }
            greeting = (name, extended)
            if extended { pipeliningOffered = true }
            let reply = extended ? ehloReply(name) : Reply(250, nil, "\(configuration.hostname) Hello \(name)")
            return resetTransaction(then: reply)
        case .mail(let path, let parameters):
            return mail(path, parameters)
        case .rcpt(let path, let parameters):
            return rcpt(Recipient(path: path, parameters: parameters))
        case .data:
            pending = .openData
            return .openMessage(envelope(for: transaction!))
        case .bdat(let size, let last):
            return bdat(size: size, last: last)
        case .rset:
            return resetTransaction(then: .resetOK)
        case .noop:
            return .reply(.ok)
        case .quit:
            return .send([.bye], close: true)
        case .help(let topic):
            return .reply(HelpText.reply(for: topic))
        case .vrfy(let name):
            guard allows(configuration.vrfy) else { return .reply(.cannotVerify) }
            return .lookup(.verify, name)
        case .expn(let name):
            guard allows(configuration.expn) else { return error(.expnDisabled) }
            return .lookup(.expand, name)
        case .turn:
            // Never a role reversal for an anonymous client; for an authenticated one it needs the outbound queue.
            return error(isAuthenticated ? .turnNotAvailable : .turnRefused)
        case .startTLS:
            // RFC 3207 §4.2: after the handshake the client starts over with EHLO, and nothing learned before
            // (greeting, authentication) counts.
            greeting = nil
            authenticatedUser = nil
            isTLS = true
            return .startTLS(.readyToStartTLS)
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism, initialResponse)
        }
    }

    private func allows(_ policy: LookupPolicy) -> Bool {
        switch policy {
        case .disabled: false
        case .enabled: true
        case .authenticated: isAuthenticated
        }
    }

    private func ehloReply(_ name: String) -> Reply {
        var lines = ["\(configuration.hostname) Hello \(name)", "PIPELINING"]
        lines.append(configuration.maxMessageSize > 0 ? "SIZE \(configuration.maxMessageSize)" : "SIZE")
        lines.append("8BITMIME")
        if configuration.smtpUTF8 { lines.append("SMTPUTF8") }
        lines.append("ENHANCEDSTATUSCODES")
        if configuration.chunking { lines += ["CHUNKING", "BINARYMIME"] }
        if configuration.dsn { lines.append("DSN") }
        if allows(configuration.vrfy) { lines.append("VRFY") }
        if allows(configuration.expn) { lines.append("EXPN") }
        if configuration.startTLS && !isTLS { lines.append("STARTTLS") }
        if !configuration.authMechanisms.isEmpty && (isTLS || configuration.authWithoutTLS) {
            lines.append("AUTH " + configuration.authMechanisms.joined(separator: " "))
        }
        lines.append("HELP")
        return Reply(250, nil, lines: lines)
    }

    private mutating func resetTransaction(then reply: Reply) -> Action {
        guard transaction != nil else { return .reply(reply) }
        transaction = nil
        return .reset(then: reply)
    }

    private mutating func mail(_ path: ReversePath, _ parameters: MailParameters) -> Action {
        if configuration.requireAuth && !isAuthenticated { return error(.authRequired) }
        if parameters.auth != nil && configuration.authMechanisms.isEmpty {
            return error(ParameterParser.unknownParameter)
        }
        if parameters.smtpUTF8 && !configuration.smtpUTF8 { return error(ParameterParser.unknownParameter) }
        if (parameters.dsnReturn != nil || parameters.envelopeID != nil) && !configuration.dsn {
            return error(ParameterParser.unknownParameter)
        }
        if parameters.body == .binaryMIME && !configuration.chunking { return error(ParameterParser.unknownParameter) }
        if let mailbox = path.mailbox, !mailbox.isASCII, !parameters.smtpUTF8 { return .reply(.nonASCIIAddress) }
        if let size = parameters.size, configuration.maxMessageSize > 0, size > configuration.maxMessageSize {
            return .reply(.messageTooBig)
        }
        pending = .sender(path, parameters)
        return .checkSender(path, parameters)
    }

    /// The backend's verdict on the sender: nil accepts it.
    public mutating func senderChecked(_ refusal: Reply?) -> Action {
        guard case .sender(let path, let parameters) = pending else { preconditionFailure("no sender pending") }
        pending = nil
        if let refusal { return .reply(refusal) }
        transaction = Transaction(sender: path, parameters: parameters)
        return .reply(.senderOK)
    }

    private mutating func rcpt(_ recipient: Recipient) -> Action {
        if (recipient.parameters.notify != nil || recipient.parameters.originalRecipient != nil) && !configuration.dsn {
            return error(ParameterParser.unknownParameter)
        }
        if let mailbox = recipient.path.mailbox, !mailbox.isASCII, transaction?.parameters.smtpUTF8 != true {
            return .reply(.nonASCIIAddress)
        }
        if transaction!.recipients.count >= configuration.maxRecipients { return .reply(.tooManyRecipients) }
        pending = .recipient
        return .checkRecipient(recipient)
    }

    /// The backend's verdict on a recipient: nil accepts it.
    public mutating func recipientChecked(_ recipient: Recipient, refusal: Reply?) -> Action {
        guard case .recipient = pending else { preconditionFailure("no recipient pending") }
        pending = nil
        if let refusal { return .reply(refusal) }
        transaction!.recipients.append(recipient)
        return .reply(.recipientOK)
    }

    /// The backend's answer to VRFY or EXPN.
    public mutating func lookupAnswered(_ reply: Reply) -> Action {
        .reply(reply)
    }

    // MARK: Message content

    private func envelope(for transaction: Transaction) -> Envelope {
        Envelope(
            sender: transaction.sender, parameters: transaction.parameters, recipients: transaction.recipients,
            heloName: greeting?.name ?? "", protocolName: protocolName)
    }

    /// The backend's answer to `openMessage`: nil means the body may come (354).
    public mutating func messageOpened(refusal: Reply?) -> Action {
        guard case .openData = pending else { preconditionFailure("no DATA pending") }
        if let refusal {
            pending = nil
            transaction = nil
            return .reset(then: refusal)
        }
        pending = .data
        return .reply(.startMailInput)
    }

    /// The DATA body ended with `<CRLF>.<CRLF>`. `size` counts the octets after dot-unstuffing.
    public mutating func dataReceived(size: Int, sawBareLineEnding: Bool) -> Action {
        guard case .data = pending else { preconditionFailure("no DATA body pending") }
        return bodyComplete(size: size, sawBareLineEnding: sawBareLineEnding)
    }

    private mutating func bodyComplete(size: Int, sawBareLineEnding: Bool) -> Action {
        if configuration.maxMessageSize > 0, size > configuration.maxMessageSize {
            return endTransaction(.abortMessage(.messageTooBig))
        }
        if sawBareLineEnding && configuration.bareLineEndings == .reject {
            return endTransaction(.abortMessage(.badLineEndings))
        }
        pending = .commit
        return .commit
    }

    private mutating func endTransaction(_ action: Action) -> Action {
        pending = nil
        transaction = nil
        return action
    }

    /// The outcome of `commit`: the 250 with the queue id, or the refusal (451 4.3.0, 452 4.3.1, …).
    public mutating func messageCommitted(_ reply: Reply) -> Action {
        guard case .commit = pending else { preconditionFailure("no commit pending") }
        return endTransaction(.reply(reply))
    }

    // BDAT chunk-size [LAST]  (RFC 3030 §2): the octets are always read, even when the command is refused.
    private mutating func bdat(size: Int, last: Bool) -> Action {
        let refusal: Reply?
        if var transaction, !transaction.recipients.isEmpty {
            refusal = transaction.chunkRefusal
            let total = transaction.chunkedSize.addingReportingOverflow(size)
            if refusal == nil, configuration.maxMessageSize > 0,
                total.overflow || total.partialValue > configuration.maxMessageSize
            {
                transaction.chunkRefusal = .messageTooBig
            }
            let first = !transaction.chunked
            transaction.chunked = true
            transaction.chunkedSize = total.overflow ? Int.max : total.partialValue
            self.transaction = transaction
            pending = .chunk(last: last, refusal: nil)
            let deliver = transaction.chunkRefusal == nil
            return .receiveChunk(
                size: size, open: first && deliver ? envelope(for: transaction) : nil, deliver: deliver)
        } else {
            refusal = transaction == nil ? .needMail : .needRecipient
            pending = .chunk(last: last, refusal: refusal)
            return .receiveChunk(size: size, open: nil, deliver: false)
        }
    }

    /// A BDAT chunk has been read. `openRefusal` is the backend's refusal when the action asked to open the
    /// message.
    public mutating func chunkReceived(openRefusal: Reply? = nil) -> Action {
        guard case .chunk(let last, let sequenceRefusal) = pending else { preconditionFailure("no chunk pending") }
        pending = nil
        if let sequenceRefusal { return error(sequenceRefusal) }
        if let openRefusal, transaction?.chunkRefusal == nil { transaction?.chunkRefusal = openRefusal }
        guard last else {
            if let refusal = transaction?.chunkRefusal { return .reply(refusal) }
            return .reply(Reply(250, .init(2, 0, 0), "\(transaction!.chunkedSize) octets received"))
        }
        if let refusal = transaction?.chunkRefusal { return endTransaction(.abortMessage(refusal)) }
        pending = .data
        return bodyComplete(size: transaction!.chunkedSize, sawBareLineEnding: false)
    }

    // MARK: Authentication (RFC 4954)

    private mutating func auth(_ mechanism: String, _ initialResponse: String?) -> Action {
        guard isTLS || configuration.authWithoutTLS else { return error(.authNeedsTLS) }
        guard configuration.authMechanisms.contains(mechanism) else { return error(.authUnknownMechanism) }
        var response: [UInt8]?
        if let initialResponse {
            // "=" is an empty initial response, distinct from none at all (RFC 4954 §4).
            guard let decoded = initialResponse == "=" ? [] : Base64.decode(initialResponse.utf8) else {
                return authFailed(.authMalformed)
            }
            response = decoded
        }
        pending = .auth
        return .authenticate(mechanism: mechanism, initialResponse: response)
    }

    private mutating func authResponse(_ line: [UInt8]) -> Action {
        awaitingAuthResponse = false
        if line == [UInt8(ascii: "*")] { return authFailed(.authCancelled) }
        guard let decoded = Base64.decode(line) else { return authFailed(.authMalformed) }
        pending = .auth
        return .continueAuthentication(decoded)
    }

    /// The outcome of one step of the exchange started by `.authenticate` or `.continueAuthentication`.
    public mutating func authStepped(_ step: AuthStep) -> Action {
        guard case .auth = pending else { preconditionFailure("no authentication pending") }
        pending = nil
        switch step {
        case .challenge(let bytes):
            awaitingAuthResponse = true
            return .reply(Reply(334, nil, Base64.encode(bytes)))
        case .success(let user):
            pending = .authenticated(user)
            return .authenticated(user)
        case .failure(.badCredentials):
            return authFailed(.authFailed)
        case .failure(.malformed):
            return authFailed(.authMalformed)
        case .failure(.throttled):
            return .reply(.authThrottled)
        case .failure(.temporary):
            return .reply(Reply(454, .init(4, 7, 0), "Temporary authentication failure"))
        }
    }

    /// The backend has been told who the client is (`.authenticated`): the exchange ends with 235.
    public mutating func authenticationRecorded() -> Action {
        guard case .authenticated(let user) = pending else { preconditionFailure("no authentication recorded") }
        pending = nil
        authenticatedUser = user
        return .reply(.authSucceeded)
    }

    private mutating func authFailed(_ reply: Reply) -> Action {
        authFailures += 1
        if configuration.maxAuthFailures > 0, authFailures >= configuration.maxAuthFailures {
            return .hangUp(
                [reply, Reply(421, .init(4, 7, 0), "Too many failed authentications; closing")],
                reason: .tooManyAuthFailures)
        }
        return error(reply)
    }

    // MARK: Errors

    /// Counts a protocol error; at `maxErrors`, the reply is followed by 421 and the connection closes.
    private mutating func error(_ reply: Reply) -> Action {
        errorCount += 1
        if configuration.maxErrors > 0, errorCount >= configuration.maxErrors {
            return .hangUp([reply, .tooManyErrors], reason: .tooManyErrors)
        }
        return .reply(reply)
    }
}
