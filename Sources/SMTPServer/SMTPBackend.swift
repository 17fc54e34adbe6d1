import NIOCore
import SMTPCore

/// Facts about one client connection, handed to the backend when the session starts.
public struct ConnectionInfo: Sendable, Hashable {
    /// A short unique id for log lines.
    public var id: String
    /// The client's IP address, without port.
    public var clientAddress: String
    public var clientPort: Int
    /// The address the client connected to.
    public var serverAddress: String
    /// What the listener the client connected to is for.
    public var listener: ListenerKind

    public init(
        id: String, clientAddress: String, clientPort: Int, serverAddress: String, listener: ListenerKind = .smtp
    ) {
        self.id = id
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.serverAddress = serverAddress
        self.listener = listener
    }

    /// Whether the client connects from 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        clientAddress.hasPrefix("127.") || clientAddress == "::1" || clientAddress.hasPrefix("::ffff:127.")
    }
}

/// What a program embedding Swallow provides: a session per connection (go-smtp's `Backend`).
public protocol SMTPBackend: Sendable {
    func makeSession(for connection: ConnectionInfo) -> any SMTPSession
}

/// The backend's side of one SMTP session. The server calls these methods one at a time, in protocol order.
///
/// A method refuses by throwing a `Reply` (for example `Reply.noSuchUser`); any other error becomes
/// 451 4.3.0 and is logged.
public protocol SMTPSession: Sendable {
    /// `MAIL FROM`. The default accepts every sender.
    func mail(from sender: ReversePath, parameters: MailParameters) async throws
    /// `RCPT TO`, once per recipient.
    func rcpt(_ recipient: Recipient) async throws
    /// The body is about to arrive (DATA or the first BDAT chunk). Returns where to write it.
    /// - Parameter id: the transaction id, also used in the `Received:` header and the 250 reply.
    func openMessage(_ envelope: Envelope, id: String) async throws -> any MessageSink
    /// `VRFY`, when the policy lets it through. The default answers 252.
    func verify(_ name: String) async -> Reply
    /// `EXPN`, when the policy lets it through. The default answers 502.
    func expand(_ name: String) async -> Reply
    /// The client authenticated (AUTH succeeded) as `user`; later MAIL and RCPT calls are on its behalf.
    func authenticated(as user: String) async
    /// The transaction is over (RSET, HELO/EHLO, after a message), whatever its outcome.
    func reset() async
    /// The connection is closed.
    func logout() async
}

extension SMTPSession {
    public func mail(from sender: ReversePath, parameters: MailParameters) async throws {}
    public func verify(_ name: String) async -> Reply { .cannotVerify }
    public func expand(_ name: String) async -> Reply { .expnDisabled }
    public func authenticated(as user: String) async {}
    public func reset() async {}
    public func logout() async {}
}

/// Where the message body goes, chunk by chunk, so that memory does not grow with the message.
public protocol MessageSink: Sendable {
    /// Appends bytes of the message. The first write is the server's `Received:` header.
    func write(_ bytes: ByteBuffer) async throws
    /// The message is complete: make it durable. The server answers 250 only after this returns.
    func commit() async throws
    /// The message is abandoned (client left, too large, refused): nothing may remain of it.
    func abort() async
}

/// Checks AUTH credentials (RFC 4954): the mechanisms offered and one exchange per AUTH command.
public protocol SMTPAuthenticator: Sendable {
    /// SASL mechanism names, in the order EHLO lists them.
    var mechanisms: [String] { get }
    func makeExchange(mechanism: String, connection: ConnectionInfo) -> any SASLExchange
}

/// The server side of one SASL exchange. Steps are called one at a time, off the event loop, so slow password
/// hashing is fine here.
public protocol SASLExchange: Sendable {
    /// `response` is the client's decoded response; nil for an AUTH command without an initial response.
    func step(_ response: [UInt8]?) async -> AuthStep
}
