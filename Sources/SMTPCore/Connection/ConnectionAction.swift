/// What the driver of a `ServerConnection` must do next.
///
/// The actions that ask something of the backend (or of TLS) are answered by calling the matching method of the
/// connection: until then it reads no input. The others are done at once, and the driver goes on reading.
public enum ConnectionAction: Sendable, Hashable {
    /// Send these replies.
    case send([Reply])
    /// Send this text as it is: the two halves of a delayed greeting.
    case write(String)
    /// Send these replies (maybe none), then close the connection.
    case close(after: [Reply], reason: CloseReason)
    /// Ask the backend about the sender; answer with `senderChecked(_:at:)`.
    case checkSender(ReversePath, MailParameters)
    /// Ask the backend about a recipient; answer with `recipientChecked(_:refusal:at:)`.
    case checkRecipient(Recipient)
    /// VRFY or EXPN; answer with `lookupAnswered(_:at:)`.
    case lookup(LookupKind, String)
    /// Tell the backend the transaction is over; answer with `resetDone(at:)`.
    case reset
    /// Ask the backend for a place to write a message (DATA, or the first BDAT chunk); answer with
    /// `messageOpened(refusal:at:)`.
    case openMessage(Envelope)
    /// Make the message durable (after handing over the body gathered so far); answer with
    /// `messageCommitted(_:at:)`.
    case commit
    /// Throw the message away and tell the backend the transaction is over; answer with `resetDone(at:)`.
    case abortMessage
    /// Send the reply (220), throw away every byte received so far and not yet processed (RFC 3207 §6,
    /// CVE-2011-0411), and start TLS before reading anything else. Nothing to answer.
    case startTLS(Reply)
    /// Start a SASL exchange; answer with `authStepped(_:at:)`. The driver may answer `.failure(.throttled)`
    /// without starting one, for a client that failed too often recently.
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    /// Feed the response to the exchange in progress; answer with `authStepped(_:at:)`.
    case continueAuthentication([UInt8])
    /// Tell the backend who the client is; answer with `authenticationRecorded(at:)`.
    case authenticated(String)
}

/// Why a connection closes.
public enum CloseReason: Sendable, Hashable {
    /// The client said QUIT.
    case quit
    /// The client ended its input; everything it sent before has been answered.
    case endOfInput
    /// No command or data within the timeout.
    case idleTimeout
    /// The server shuts down.
    case shuttingDown
    /// The server made room for a new connection by closing this one, which had not said HELO or EHLO.
    case evicted
    /// A rule broken or a limit reached: logged and counted by reason.
    case hangUp(HangUpReason)
}
