/// A parsed SMTP command (RFC 5321 §4.1 and the extensions Swallow implements).
public enum Command: Sendable, Hashable {
    case helo(String)
    case ehlo(String)
    case mail(ReversePath, MailParameters)
    case rcpt(ForwardPath, RcptParameters)
    case data
    /// `BDAT chunk-size [LAST]` (RFC 3030).
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case help(String?)
    case vrfy(String)
    case expn(String)
    case turn
    case startTLS
    case auth(mechanism: String, initialResponse: String?)
}

/// The command word of a line, known before its arguments are parsed, so that sequencing can be checked first.
public enum Verb: String, Sendable, Hashable, CaseIterable {
    case helo = "HELO"
    case ehlo = "EHLO"
    case mail = "MAIL"
    case rcpt = "RCPT"
    case data = "DATA"
    case bdat = "BDAT"
    case rset = "RSET"
    case noop = "NOOP"
    case quit = "QUIT"
    case help = "HELP"
    case vrfy = "VRFY"
    case expn = "EXPN"
    case turn = "TURN"
    case startTLS = "STARTTLS"
    case auth = "AUTH"
}
