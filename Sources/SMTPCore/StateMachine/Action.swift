/// What the I/O layer must do next, as decided by `ServerStateMachine`.
///
/// Actions that consult the backend are answered by calling the matching method of the state machine with the
/// outcome; that method returns the next action.
public enum Action: Sendable, Hashable {
    /// Send these replies in order; then close the connection if `close` is set.
    case send([Reply], close: Bool)
    /// The client broke a rule or reached a limit: send these replies (maybe none), close the connection, and
    /// log and count the reason.
    case hangUp([Reply], reason: HangUpReason)
    /// Ask the backend about the sender, then call `senderChecked(_:)`.
    case checkSender(ReversePath, MailParameters)
    /// Ask the backend about a recipient, then call `recipientChecked(_:refusal:)`.
    case checkRecipient(Recipient)
    /// Ask the backend to verify (VRFY) or expand (EXPN) a name, then call `lookupAnswered(_:)`.
    case lookup(LookupKind, String)
    /// Tell the backend the transaction is abandoned, then send the reply.
    case reset(then: Reply)
    /// DATA: ask the backend for a place to write the message, then call `messageOpened(refusal:)`.
    case openMessage(Envelope)
    /// BDAT: read exactly `size` octets. When `open` is set, first ask the backend for a place to write the
    /// message as for DATA; when `deliver` is false, the octets are read and thrown away. Then call
    /// `chunkReceived(size:openRefusal:)`.
    case receiveChunk(size: Int, open: Envelope?, deliver: Bool)
    /// The body is complete and acceptable: make the message durable, then call `messageCommitted(_:)`.
    case commit
    /// Throw the message away, tell the backend the transaction is over, and send the reply.
    case abortMessage(Reply)
    /// Send the 220, then start TLS before reading anything else; bytes already received are discarded
    /// (RFC 3207 §6, CVE-2011-0411). The state machine has already forgotten the session's greeting.
    case startTLS(Reply)
    /// Start a SASL exchange with this mechanism; `initialResponse` is decoded (nil: none was given). Then call
    /// `authStepped(_:)` with the outcome.
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    /// Feed the client's decoded response to the exchange in progress, then call `authStepped(_:)`.
    case continueAuthentication([UInt8])
    /// Tell the backend who the client is, then call `authenticationRecorded()`.
    case authenticated(String)

    public static func reply(_ reply: Reply) -> Action { .send([reply], close: false) }
}

public enum LookupKind: Sendable, Hashable {
    case verify
    case expand
}
