@testable import SMTPCore

/// Shared helpers for the SMTPCore tests.

extension String {
    /// The UTF-8 bytes of the string, as a command line or body is handed to the core.
    var bytes: [UInt8] { Array(utf8) }
}

/// Parses `line` and returns the command, or nil when it is refused.
func parsedCommand(_ line: String) -> Command? {
    parsedCommand(line.bytes)
}

func parsedCommand(_ line: [UInt8]) -> Command? {
    try? CommandParser.parse(line).get()
}

/// Parses `line` and returns the reply that refuses it, or nil when it parses.
func refusal(_ line: String) -> Reply? {
    refusal(line.bytes)
}

func refusal(_ line: [UInt8]) -> Reply? {
    if case .failure(let reply) = CommandParser.parse(line) { return reply }
    return nil
}

/// The mailbox of a `MAIL FROM:<…>` line, or nil when it is refused or null.
func senderMailbox(_ path: String) -> Mailbox? {
    guard case .mail(let reversePath, _) = parsedCommand("MAIL FROM:\(path)") else { return nil }
    return reversePath.mailbox
}

/// The parameters of a `MAIL FROM:<a@example.com> …` line, or nil when it is refused.
func mailParameters(_ parameters: String) -> MailParameters? {
    guard case .mail(_, let result) = parsedCommand("MAIL FROM:<a@example.com> \(parameters)") else { return nil }
    return result
}

/// The parameters of a `RCPT TO:<b@example.com> …` line, or nil when it is refused.
func rcptParameters(_ parameters: String) -> RcptParameters? {
    guard case .rcpt(_, let result) = parsedCommand("RCPT TO:<b@example.com> \(parameters)") else { return nil }
    return result
}

/// A syntactically valid domain of exactly `length` octets: labels of at most 63 letters separated by dots.
func domain(length: Int) -> String {
    precondition(length > 0)
    var characters = (0..<length).map { ($0 + 1) % 64 == 0 && $0 != length - 1 ? Character(".") : Character("d") }
    // Never end on a 64-letter label: split it with a dot one octet earlier.
    if length % 64 == 0 { characters[length - 2] = "." }
    let result = String(characters)
    precondition(result.utf8.count == length && !result.contains("..") && !result.hasSuffix("."))
    return result
}

extension Reply {
    /// Code and enhanced code, for compact comparisons.
    var codes: String { "\(code) \(enhancedCode.map(\.description) ?? "-")" }
}

extension Action {
    /// The replies of a `.send` action, or nil for any other action.
    var replies: [Reply]? {
        if case .send(let replies, _) = self { return replies }
        if case .hangUp(let replies, _) = self { return replies }
        return nil
    }

    /// The single reply of `.reply(_)`, or nil.
    var singleReply: Reply? {
        if case .send(let replies, close: false) = self, replies.count == 1 { return replies[0] }
        return nil
    }

    var closes: Bool {
        if case .send(_, close: true) = self { return true }
        if case .hangUp = self { return true }
        return false
    }
}
