/// How long a client waits for each reply (RFC 5321 §4.5.3.2). The defaults are the RFC's minimums.
public struct ClientTimeouts: Sendable, Hashable {
    /// §4.5.3.2.1: the 220 greeting.
    public var greeting: Duration = .seconds(300)
    /// Replies to EHLO, HELO, STARTTLS, AUTH, RSET and QUIT, for which the RFC names no value: as MAIL's.
    public var command: Duration = .seconds(300)
    /// §4.5.3.2.2: the reply to MAIL.
    public var mail: Duration = .seconds(300)
    /// §4.5.3.2.3: the reply to each RCPT.
    public var rcpt: Duration = .seconds(300)
    /// §4.5.3.2.4: the 354 to DATA.
    public var dataInitiation: Duration = .seconds(120)
    /// §4.5.3.2.5: each block of body data written.
    public var dataBlock: Duration = .seconds(180)
    /// §4.5.3.2.6: the reply to the final "." of the body.
    public var dataTermination: Duration = .seconds(600)

    public init() {}

    /// Every timeout the same, for tests.
    public init(all duration: Duration) {
        greeting = duration
        command = duration
        mail = duration
        rcpt = duration
        dataInitiation = duration
        dataBlock = duration
        dataTermination = duration
    }

    public subscript(_ kind: ClientWait) -> Duration {
        switch kind {
        case .greeting: greeting
        case .command: command
        case .mail: mail
        case .rcpt: rcpt
        case .dataInitiation: dataInitiation
        case .dataBlock: dataBlock
        case .dataTermination: dataTermination
        }
    }
}

/// Which reply a client is waiting for (or, for `dataBlock`, which write), to choose its timeout.
public enum ClientWait: String, Sendable, Hashable {
    case greeting, command, mail, rcpt, dataInitiation, dataBlock, dataTermination
}
