import SMTPCore

/// A message waiting in the outbound queue: its envelope (RFC 5321 §2.3.1, RFC 3461's DSN parameters), who
/// submitted it, and per recipient what has happened so far. The body is stored beside it, by the queue.
///
/// Plain values and strings only, so that any queue implementation (files, PostgreSQL rows) can store it.
public struct QueuedMessage: Sendable, Hashable, Codable {
    public var id: String
    /// The reverse path without brackets; empty for the null sender `<>` (bounces), which never gets a bounce.
    public var sender: String
    public var recipients: [QueuedRecipient]
    /// When the message was accepted, in seconds since 1970 (UTC).
    public var arrival: Double
    /// When the next attempt is due, in seconds since 1970.
    public var nextAttempt: Double
    public var attempts: Int
    /// `ENVID=` and `RET=` (RFC 3461), to pass on and to quote in a DSN.
    public var envelopeID: String?
    public var dsnReturn: String?
    /// The SASL identity that submitted the message.
    public var authenticatedUser: String?
    /// The body's size in octets and whether it has 8-bit octets (it then needs 8BITMIME downstream).
    public var size: Int
    public var eightBit: Bool
    /// Submitted with `SMTPUTF8` (RFC 6531): passed on, and refused by a next hop without it.
    public var smtpUTF8: Bool
    /// Whether the sender was warned that delivery is delayed (once per message).
    public var delayWarned: Bool = false

    public init(
        id: String, sender: String, recipients: [QueuedRecipient], arrival: Double, size: Int, eightBit: Bool,
        smtpUTF8: Bool = false, envelopeID: String? = nil, dsnReturn: String? = nil, authenticatedUser: String? = nil
    ) {
        self.smtpUTF8 = smtpUTF8
        self.id = id
        self.sender = sender
        self.recipients = recipients
        self.arrival = arrival
        self.nextAttempt = arrival
        self.attempts = 0
        self.size = size
        self.eightBit = eightBit
        self.envelopeID = envelopeID
        self.dsnReturn = dsnReturn
        self.authenticatedUser = authenticatedUser
    }

    /// The reverse path as SMTP writes it.
    public var reversePath: ReversePath {
        guard let mailbox = Mailbox(address: sender) else { return .null }
        return .mailbox(mailbox)
    }

    /// Recipients still to be delivered.
    public var pending: [QueuedRecipient] { recipients.filter { $0.status == .pending } }
    /// Whether every recipient is delivered or has failed for good: the message can leave the queue.
    public var isFinished: Bool { recipients.allSatisfy { $0.status != .pending } }
}

/// One recipient of a queued message.
public struct QueuedRecipient: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case pending, delivered, failed
    }

    /// `local@domain`, as given in RCPT TO.
    public var address: String
    /// `NOTIFY=` words (SUCCESS, FAILURE, DELAY, NEVER); nil when not given.
    public var notify: [String]?
    /// `ORCPT=` as `type;address`.
    public var originalRecipient: String?
    public var status: Status
    public var attempts: Int
    /// The last reply for this recipient (the server's, or one the client made), for logs and DSNs.
    public var lastReply: StoredReply?
    /// The host that gave `lastReply`, as `name[address]`.
    public var lastHost: String?

    public init(address: String, notify: [String]? = nil, originalRecipient: String? = nil) {
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
        self.status = .pending
        self.attempts = 0
    }

    /// The domain mail for this recipient is routed by.
    public var domain: String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return address[address.index(after: at)...].lowercased()
    }

    public var recipient: Recipient {
        var parameters = RcptParameters()
        if let notify {
            parameters.notify = DSNNotify(
                never: notify.contains("NEVER"), success: notify.contains("SUCCESS"),
                failure: notify.contains("FAILURE"), delay: notify.contains("DELAY"))
        }
        if let original = originalRecipient, let semicolon = original.firstIndex(of: ";") {
            parameters.originalRecipient = OriginalRecipient(
                addressType: String(original[..<semicolon]),
                address: String(original[original.index(after: semicolon)...]))
        }
        let path: ForwardPath = Mailbox(address: address).map { .mailbox($0) } ?? .postmaster
        return Recipient(path: path, parameters: parameters)
    }

    /// Whether the sender wants a DSN on failure: unless NOTIFY says otherwise (RFC 3461 §4.1), yes.
    public var wantsFailureNotice: Bool { notify.map { $0.contains("FAILURE") } ?? true }
    /// Whether the sender wants a delay warning: with `NOTIFY=DELAY`, or without NOTIFY (as Postfix does).
    public var wantsDelayNotice: Bool { notify.map { $0.contains("DELAY") } ?? true }
}

/// A reply as the queue stores it.
public struct StoredReply: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: Int
    public var enhancedCode: String?
    public var text: String

    public init(_ reply: Reply) {
        code = reply.code
        enhancedCode = reply.enhancedCode?.description
        // One line without control characters: it is quoted in logs and in DSN header fields.
        text = String(
            reply.lines.joined(separator: " ").unicodeScalars.map {
                $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0)
            })
    }

    public var description: String { "\(code) \(enhancedCode.map { "\($0) " } ?? "")\(text)" }
    /// The enhanced status code, or the generic one for the reply class (RFC 3463 §3.1: x.0.0).
    public var status: String { enhancedCode ?? "\(code / 100).0.0" }
}

extension Mailbox {
    /// The mailbox of `local@domain` (split at the last `@`), nil when there is none.
    public init?(address: String) {
        guard let at = address.lastIndex(of: "@"), at != address.startIndex,
            address.index(after: at) != address.endIndex
        else { return nil }
        self.init(localPart: String(address[..<at]), domain: String(address[address.index(after: at)...]))
    }
}
