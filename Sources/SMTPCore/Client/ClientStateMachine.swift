/// The client side of one SMTP session (RFC 5321 §3, §4.1) as a value: it takes replies and the caller's
/// requests, and returns what to do. It does no I/O and reads no clock; `awaiting` names the timeout that applies.
///
/// A session goes greeting → EHLO (HELO when EHLO is refused) → STARTTLS and EHLO again (as the policy says) →
/// ready; then any number of AUTH exchanges and transactions, each of which ends ready again, and QUIT.
/// A request made in the wrong phase answers `.close` with a 503-like local reply rather than trapping.
public struct ClientStateMachine: Sendable {
    /// Whether to use STARTTLS (RFC 3207).
    public enum TLSPolicy: Sendable, Hashable {
        /// Never: plaintext, or TLS from the start (implicit TLS is the I/O layer's business).
        case never
        /// When offered; a refused STARTTLS goes on in plaintext (opportunistic TLS).
        case opportunistic
        /// Only over TLS: a server without STARTTLS, or that refuses it, is a temporary failure.
        case required
    }

    public let heloName: String
    public let tlsPolicy: TLSPolicy
    /// Whether the connection is encrypted (set by `tlsEstablished()`, or by the caller for implicit TLS).
    public var isTLS: Bool
    /// The extensions of the last EHLO reply (empty after HELO).
    public private(set) var extensions = ServerExtensions()
    public private(set) var awaiting: ClientWait? = .greeting

    private var state: State = .greeting

    private enum State: Sendable {
        case greeting
        case ehlo
        case helo
        case startTLS
        case tlsHandshake
        case ready
        case auth
        case transaction(Transaction)
        case resetting
        case quitting
        case closed
    }

    /// A transaction in flight: the replies still expected, in order, and what is known so far.
    private struct Transaction: Sendable {
        enum Expected: Sendable, Equatable { case mail, rcpt(Int), data, endOfData, rset }
        var transaction: OutboundTransaction
        var pipelined: Bool
        var expected: [Expected] = []
        var mailReply: Reply?
        var rcptReplies: [Reply?]
        var dataReply: Reply?
        var endReply: Reply?
        /// A result decided before the end (a refused MAIL or DATA); replies still expected are read and ignored.
        var outcome: TransactionResult?
    }

    public init(heloName: String, tlsPolicy: TLSPolicy = .opportunistic, isTLS: Bool = false) {
        self.heloName = heloName
        self.tlsPolicy = tlsPolicy
        self.isTLS = isTLS
    }

    /// Whether a transaction, AUTH, RSET or QUIT may be started.
    public var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    // MARK: Replies

    public mutating func replyReceived(_ reply: Reply) -> ClientAction {
        switch state {
        case .greeting:
            guard reply.code == 220 else { return fail(reply) }
            return sendEHLO()
        case .ehlo:
            if reply.code == 250 {
                extensions = ServerExtensions(ehloReply: reply)
                return afterEHLO()
            }
            // RFC 5321 §3.2: a server that does not know EHLO answers 500/502/504/550; fall back to HELO.
            guard reply.isPermanentFailure, reply.code != 554 else { return fail(reply) }
            state = .helo
            awaiting = .command
            return .send([.helo(heloName)])
        case .helo:
            guard reply.code == 250 else { return fail(reply) }
            extensions = ServerExtensions()
            if tlsPolicy == .required && !isTLS {
                return fail(Self.tlsUnavailable)
            }
            return becomeReady()
        case .startTLS:
            if reply.code == 220 {
                state = .tlsHandshake
                awaiting = nil
                return .startTLS
            }
            if tlsPolicy == .required || reply.code == 421 { return fail(reply) }
            return becomeReady()
        case .auth:
            if reply.code == 334 {
                let text = reply.lines.first ?? ""
                guard let challenge = Base64.decode(text) else {
                    // A challenge we cannot read: cancel; the server answers 501 and the exchange ends.
                    awaiting = .command
                    return .send([.authCancel])
                }
                awaiting = nil
                return .authChallenge(challenge)
            }
            if reply.code == 421 { return fail(reply) }
            state = .ready
            awaiting = nil
            return .authFinished(reply)
        case .transaction(var transaction):
            return transactionReply(reply, &transaction)
        case .resetting:
            guard reply.code == 250 else { return fail(reply) }
            return becomeReady()
        case .quitting:
            state = .closed
            awaiting = nil
            return .close(nil)
        case .tlsHandshake, .ready, .closed:
            // Nothing was asked: an unsolicited reply (often a 421 before the server hangs up).
            return fail(reply.isTransientFailure || reply.isPermanentFailure ? reply : Self.unexpectedReply(reply))
        }
    }

    /// The TLS handshake after STARTTLS succeeded: the session starts again with EHLO (RFC 3207 §4.2).
    public mutating func tlsEstablished() -> ClientAction {
        guard case .tlsHandshake = state else { return fail(Self.outOfSequence) }
        isTLS = true
        extensions = ServerExtensions()
        return sendEHLO()
    }

    // MARK: Requests

    /// Starts a SASL exchange (RFC 4954).
    public mutating func authenticate(mechanism: String, initialResponse: [UInt8]?) -> ClientAction {
        guard case .ready = state else { return fail(Self.outOfSequence) }
        state = .auth
        awaiting = .command
        return .send([.auth(mechanism: mechanism, initialResponse: initialResponse)])
    }

    /// The response to the last `authChallenge`.
    public mutating func authRespond(_ response: [UInt8]) -> ClientAction {
        guard case .auth = state, awaiting == nil else { return fail(Self.outOfSequence) }
        awaiting = .command
        return .send([.authResponse(response)])
    }

    /// Gives up the SASL exchange in progress (`*`); the server's reply (501) then ends it.
    public mutating func authCancel() -> ClientAction {
        guard case .auth = state, awaiting == nil else { return fail(Self.outOfSequence) }
        awaiting = .command
        return .send([.authCancel])
    }

    /// Starts a transaction. What the server cannot take is refused here, for every recipient, with a permanent
    /// local reply and nothing sent: UTF-8 addresses without SMTPUTF8 (RFC 6531 §3.2), an 8-bit body without
    /// 8BITMIME (no down-conversion), a body over the SIZE limit (RFC 1870).
    public mutating func startTransaction(_ transaction: OutboundTransaction) -> ClientAction {
        if case .closed = state { return .close(Self.sessionClosed) }
        guard case .ready = state else { return fail(Self.outOfSequence) }
        if let refusal = refusal(for: transaction) {
            return .transactionFinished(TransactionResult(all: transaction.recipients, reply: refusal, isLocal: true))
        }
        let mail = ClientCommand.mail(transaction.sender, parameters: mailParameters(transaction))
        let rcpts = transaction.recipients.map { ClientCommand.rcpt($0.path, parameters: rcptParameters($0)) }
        guard mail.isSafe, rcpts.allSatisfy(\.isSafe), !transaction.recipients.isEmpty else {
            return .transactionFinished(
                TransactionResult(all: transaction.recipients, reply: Self.unsafeAddress, isLocal: true))
        }
        var state = Transaction(
            transaction: transaction, pipelined: extensions.pipelining,
            rcptReplies: Array(repeating: nil, count: transaction.recipients.count))
        awaiting = .mail
        if state.pipelined {
            // RFC 2920 §3.1: MAIL, every RCPT and DATA in one write.
            state.expected = [.mail] + transaction.recipients.indices.map { .rcpt($0) } + [.data]
            self.state = .transaction(state)
            return .send([mail] + rcpts + [.data])
        }
        state.expected = [.mail]
        self.state = .transaction(state)
        return .send([mail])
    }

    /// The body and its terminator are written: wait for the reply to the end of data.
    public mutating func bodySent() -> ClientAction {
        guard case .transaction(var transaction) = state, transaction.expected.first == .endOfData else {
            return fail(Self.outOfSequence)
        }
        transaction.expected = [.endOfData]
        state = .transaction(transaction)
        awaiting = .dataTermination
        return .read
    }

    public mutating func reset() -> ClientAction {
        guard case .ready = state else { return fail(Self.outOfSequence) }
        state = .resetting
        awaiting = .command
        return .send([.rset])
    }

    /// QUIT (RFC 5321 §4.1.1.10); the server's 221 (or anything) then closes.
    public mutating func quit() -> ClientAction {
        switch state {
        case .closed: return .close(nil)
        default:
            state = .quitting
            awaiting = .command
            return .send([.quit])
        }
    }

    // MARK: Transactions

    private mutating func transactionReply(_ reply: Reply, _ transaction: inout Transaction) -> ClientAction {
        guard !transaction.expected.isEmpty else { return fail(Self.unexpectedReply(reply)) }
        let expected = transaction.expected.removeFirst()
        if reply.code == 421 {
            // The server is closing: every recipient not yet decided gets the 421 and is tried again later.
            let result =
                transaction.outcome
                ?? TransactionResult(
                    recipients: zip(transaction.transaction.recipients, transaction.rcptReplies).map {
                        recipient, rcptReply in
                        guard let rcptReply, !rcptReply.isPositive else {
                            return RecipientResult(recipient: recipient, reply: reply)
                        }
                        return RecipientResult(recipient: recipient, reply: rcptReply)
                    })
            state = .closed
            awaiting = nil
            return .transactionAborted(result, reply)
        }
        switch expected {
        case .mail:
            transaction.mailReply = reply
            if !reply.isPositive {
                transaction.outcome = TransactionResult(
                    all: transaction.transaction.recipients, reply: reply, isLocal: false)
            } else if !transaction.pipelined {
                transaction.expected = [.rcpt(0)]
                return sendNext(.rcpt(0), &transaction)
            }
        case .rcpt(let index):
            transaction.rcptReplies[index] = reply
            if !transaction.pipelined && transaction.outcome == nil {
                let next = index + 1
                if next < transaction.transaction.recipients.count {
                    transaction.expected = [.rcpt(next)]
                    return sendNext(.rcpt(next), &transaction)
                }
                if transaction.rcptReplies.contains(where: { $0.map { $0.code < 400 } ?? false }) {
                    transaction.expected = [.data]
                    awaiting = .dataInitiation
                    state = .transaction(transaction)
                    return .send([.data])
                }
                return finishWithoutData(&transaction)
            }
        case .data:
            transaction.dataReply = reply
            let anyAccepted = transaction.rcptReplies.contains { $0.map { $0.code < 400 } ?? false }
            if reply.code == 354 {
                transaction.expected = [.endOfData]
                state = .transaction(transaction)
                awaiting = nil
                return .sendBody(discard: transaction.outcome != nil || !anyAccepted)
            }
            if transaction.outcome == nil { return finishWithoutData(&transaction) }
        case .endOfData:
            transaction.endReply = reply
        case .rset:
            // The RSET after a failed transaction: the results are known already.
            guard reply.code == 250 else { return fail(reply) }
        }
        if let next = transaction.expected.first {
            awaiting = Self.wait(for: next)
            state = .transaction(transaction)
            return .read
        }
        return finish(transaction)
    }

    private mutating func sendNext(_ expected: Transaction.Expected, _ transaction: inout Transaction) -> ClientAction {
        guard case .rcpt(let index) = expected else { return fail(Self.outOfSequence) }
        let recipient = transaction.transaction.recipients[index]
        awaiting = .rcpt
        state = .transaction(transaction)
        return .send([.rcpt(recipient.path, parameters: rcptParameters(recipient))])
    }

    /// No DATA (every RCPT refused) or DATA refused: the results are known; RSET so that the next MAIL starts clean.
    private mutating func finishWithoutData(_ transaction: inout Transaction) -> ClientAction {
        transaction.outcome = results(transaction, finalReply: transaction.dataReply ?? Self.noRecipientAccepted)
        transaction.expected = [.rset]
        awaiting = .command
        state = .transaction(transaction)
        return .send([.rset])
    }

    private mutating func finish(_ transaction: Transaction) -> ClientAction {
        let result: TransactionResult
        if let outcome = transaction.outcome {
            result = outcome
        } else {
            result = results(transaction, finalReply: transaction.endReply ?? Self.noRecipientAccepted)
        }
        return becomeReady(finishing: result)
    }

    private func results(_ transaction: Transaction, finalReply: Reply) -> TransactionResult {
        TransactionResult(
            recipients: zip(transaction.transaction.recipients, transaction.rcptReplies).map { recipient, reply in
                guard let reply else { return RecipientResult(recipient: recipient, reply: finalReply) }
                return RecipientResult(recipient: recipient, reply: reply.code < 400 ? finalReply : reply)
            })
    }

    private mutating func becomeReady(finishing result: TransactionResult? = nil) -> ClientAction {
        state = .ready
        awaiting = nil
        if let result { return .transactionFinished(result) }
        return .ready(extensions)
    }

    private static func wait(for expected: Transaction.Expected) -> ClientWait {
        switch expected {
        case .mail: .mail
        case .rcpt: .rcpt
        case .data: .dataInitiation
        case .endOfData: .dataTermination
        case .rset: .command
        }
    }

    // MARK: Parameters and refusals

    private func refusal(for transaction: OutboundTransaction) -> Reply? {
        if transaction.requiresSMTPUTF8 && !extensions.smtpUTF8 {
            return Reply(
                553, .init(5, 6, 7),
                "The receiving server does not offer SMTPUTF8, which this message's UTF-8 addresses need")
        }
        if transaction.hasEightBitBody && !extensions.eightBitMIME {
            return Reply(
                554, .init(5, 6, 3),
                "The receiving server does not offer 8BITMIME; the 8-bit message is refused, not down-converted")
        }
        if let limit = extensions.maximumSize, transaction.size > limit {
            return Reply(
                552, .init(5, 3, 4),
                "Message of \(transaction.size) octets exceeds the receiving server's limit of \(limit)")
        }
        return nil
    }

    private func mailParameters(_ transaction: OutboundTransaction) -> [String] {
        var parameters: [String] = []
        if extensions.offers("SIZE") { parameters.append("SIZE=\(transaction.size)") }
        if transaction.hasEightBitBody { parameters.append("BODY=8BITMIME") }
        if transaction.requiresSMTPUTF8 { parameters.append("SMTPUTF8") }
        if extensions.dsn {
            if let ret = transaction.dsnReturn { parameters.append("RET=\(ret.rawValue)") }
            if let id = transaction.envelopeID { parameters.append("ENVID=\(XText.encode(id))") }
        }
        return parameters
    }

    private func rcptParameters(_ recipient: Recipient) -> [String] {
        guard extensions.dsn else { return [] }
        var parameters: [String] = []
        if let notify = recipient.parameters.notify {
            let words =
                notify.never
                ? ["NEVER"]
                : [(notify.success, "SUCCESS"), (notify.failure, "FAILURE"), (notify.delay, "DELAY")].filter(\.0).map(
                    \.1)
            if !words.isEmpty { parameters.append("NOTIFY=\(words.joined(separator: ","))") }
        }
        if let original = recipient.parameters.originalRecipient {
            parameters.append("ORCPT=\(original.addressType);\(XText.encode(original.address))")
        }
        return parameters
    }

    // MARK: Session

    private mutating func sendEHLO() -> ClientAction {
        state = .ehlo
        awaiting = .command
        return .send([.ehlo(heloName)])
    }

    private mutating func afterEHLO() -> ClientAction {
        guard !isTLS, tlsPolicy != .never else { return becomeReady() }
        guard extensions.startTLS else {
            return tlsPolicy == .required ? fail(Self.tlsUnavailable) : becomeReady()
        }
        state = .startTLS
        awaiting = .command
        return .send([.startTLS])
    }

    private mutating func fail(_ reply: Reply) -> ClientAction {
        state = .closed
        awaiting = nil
        return .close(reply)
    }

    // Local replies: what the client reports when it gives up by itself.
    static let tlsUnavailable = Reply(
        454, .init(4, 7, 0), "TLS is required for this destination but the server does not offer STARTTLS")
    static let outOfSequence = Reply(503, .init(5, 5, 1), "Client request out of sequence")
    static let sessionClosed = Reply(421, .init(4, 4, 2), "The session has ended")
    static let noRecipientAccepted = Reply(554, .init(5, 5, 0), "No recipient was accepted")
    static let unsafeAddress = Reply(
        501, .init(5, 1, 3), "Address or parameter with control characters; not sent")
    static func unexpectedReply(_ reply: Reply) -> Reply {
        Reply(451, .init(4, 5, 0), "Unexpected reply from the server: \(reply)")
    }
}
