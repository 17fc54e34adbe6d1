/// What the I/O layer must do next, as decided by `ClientStateMachine`.
public enum ClientAction: Sendable, Hashable {
    /// Write these commands (all at once: they are pipelined when there are several), then read a reply and call
    /// `replyReceived(_:)`.
    case send([ClientCommand])
    /// Read another reply and call `replyReceived(_:)`.
    case read
    /// Start TLS on the connection before anything else is read or written; then call `tlsEstablished()`. Any
    /// bytes the server sent after its 220 must be refused (they would pass as TLS-protected).
    case startTLS
    /// The session is ready for a transaction, AUTH, RSET or QUIT.
    case ready(ServerExtensions)
    /// The server's SASL challenge, decoded: compute the response and call `authRespond(_:)`.
    case authChallenge([UInt8])
    /// AUTH ended with this reply: 235 authenticated, anything else refused. The session is ready again.
    case authFinished(Reply)
    /// Write the dot-stuffed body and its terminator (`DotStuffer`), then call `bodySent()`. When `discard` is
    /// set no recipient was accepted although the server asked for data: write only the terminator.
    case sendBody(discard: Bool)
    /// The transaction is over with one result per recipient; the session is ready again.
    case transactionFinished(TransactionResult)
    /// The server ended the session (421) in the middle of the transaction: close the connection. Recipients it had
    /// already refused keep that reply; the others get the 421, to be tried again.
    case transactionAborted(TransactionResult, Reply)
    /// Close the connection. The reply says why when the session failed (4xx: try again later; 5xx: the server
    /// refuses this client for good); nil after QUIT.
    case close(Reply?)
}
