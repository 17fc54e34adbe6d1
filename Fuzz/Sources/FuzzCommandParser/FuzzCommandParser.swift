import FuzzSupport
import SMTPCore

/// Fuzzes `CommandParser` with one command line per input (a trailing CRLF or LF is removed, as the framing
/// does), and checks what a parse produces:
/// - a refusal is a well-formed 5xx reply;
/// - a parsed command agrees with `CommandParser.verb(of:)`, holds no control characters, and its path, written
///   out again, parses to the same path;
/// - a line with an SMTP verb is never taken for an HTTP request;
/// - xtext decoding and encoding round-trip, and a `Received:` header built from a parsed path has no line
///   break of its own.
@_cdecl("FuzzCommandParser_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        var line = bytes(data, size)
        if line.last == UInt8(ascii: "\n") { line.removeLast() }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        check(line)
        return 0
    }
}

private func check(_ line: [UInt8]) {
    let verb = CommandParser.verb(of: line)
    // No SMTP command is taken for an HTTP request (the ALPACA check hangs up on those).
    if CommandParser.isHTTPRequest(line) { require(verb == nil, "\(verb!) line taken for an HTTP request") }
    switch CommandParser.parse(line) {
    case .failure(let reply):
        requireWellFormed(reply)
        require((500...599).contains(reply.code), "the parser refused with \(reply)")
        require(reply.enhancedCode?.statusClass == 5, "enhanced code of \(reply)")
    case .success(let command):
        require(verb != nil, "parsed \(command) from a line whose verb is unknown")
        require(!line.contains(where: { $0 < 0x20 || $0 == 0x7F }), "parsed a line with control characters")
        check(command, verb: verb!, line: line)
    }
    if let text = String(validating: line, as: UTF8.self) {
        checkXText(text)
    }
}

private func check(_ command: Command, verb: Verb, line: [UInt8]) {
    switch command {
    case .helo(let name), .ehlo(let name):
        require(verb == .helo || verb == .ehlo, "\(command) from verb \(verb)")
        require(!name.isEmpty && name.utf8.allSatisfy { (33...126).contains($0) }, "HELO name \(name)")
    case .mail(let path, let parameters):
        require(verb == .mail, "\(command) from verb \(verb)")
        if let mailbox = path.mailbox { checkMailbox(mailbox) }
        // The path written out again parses to the same path (a source route is dropped on the way).
        let again = CommandParser.parse(Array("MAIL FROM:\(path)".utf8))
        require(again == .success(.mail(path, MailParameters())), "MAIL FROM:\(path) parses to \(again)")
        if let id = parameters.envelopeID {
            require(!id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), "ENVID with a control character")
        }
        if let size = parameters.size { require(size >= 0, "SIZE \(size)") }
        let envelope = Envelope(
            sender: path, parameters: parameters, recipients: [], heloName: String(decoding: line, as: UTF8.self),
            protocolName: "ESMTP")
        checkReceived(envelope)
    case .rcpt(let path, let parameters):
        require(verb == .rcpt, "\(command) from verb \(verb)")
        if let mailbox = path.mailbox { checkMailbox(mailbox) }
        let again = CommandParser.parse(Array("RCPT TO:\(path)".utf8))
        require(again == .success(.rcpt(path, RcptParameters())), "RCPT TO:\(path) parses to \(again)")
        if let original = parameters.originalRecipient {
            require(!original.addressType.isEmpty && !original.address.isEmpty, "ORCPT \(original)")
            require(!original.address.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), "ORCPT with a control character")
        }
        if let notify = parameters.notify, notify.never {
            require(!notify.success && !notify.failure && !notify.delay, "NOTIFY=NEVER combined: \(notify)")
        }
        let envelope = Envelope(
            sender: .null, recipients: [Recipient(path: path, parameters: parameters)],
            heloName: String(decoding: line, as: UTF8.self), protocolName: "ESMTP")
        checkReceived(envelope)
    case .data: require(verb == .data, "DATA from \(verb)")
    case .rset: require(verb == .rset, "RSET from \(verb)")
    case .noop: require(verb == .noop, "NOOP from \(verb)")
    case .quit: require(verb == .quit, "QUIT from \(verb)")
    case .turn: require(verb == .turn, "TURN from \(verb)")
    case .startTLS: require(verb == .startTLS, "STARTTLS from \(verb)")
    case .help: require(verb == .help, "HELP from \(verb)")
    case .vrfy(let name), .expn(let name):
        require(verb == .vrfy || verb == .expn, "\(command) from verb \(verb)")
        require(!name.isEmpty, "empty VRFY/EXPN argument")
    case .bdat(let size, _):
        require(verb == .bdat, "BDAT from \(verb)")
        require(size >= 0, "BDAT size \(size)")
    case .auth(let mechanism, let response):
        require(verb == .auth, "AUTH from \(verb)")
        require(!mechanism.isEmpty && !mechanism.contains(" "), "AUTH mechanism '\(mechanism)'")
        require(!mechanism.utf8.contains { (0x61...0x7A).contains($0) }, "AUTH mechanism not uppercased: \(mechanism)")
        if let response { require(!response.isEmpty && !response.contains(" "), "AUTH response '\(response)'") }
    }
}

private func checkMailbox(_ mailbox: Mailbox) {
    require(!mailbox.localPart.isEmpty && !mailbox.domain.isEmpty, "empty part in \(mailbox)")
    require(mailbox.localPart.utf8.count <= 64, "local part of \(mailbox.localPart.utf8.count) octets")
    require(mailbox.domain.utf8.count <= 255, "domain of \(mailbox.domain.utf8.count) octets")
    require(!mailbox.description.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), "control character in \(mailbox)")
    require(!mailbox.domain.utf8.contains(UInt8(ascii: " ")), "space in domain \(mailbox.domain)")
    _ = mailbox.canonicalLocalPart
    _ = mailbox.isASCII
    _ = mailbox.hasAddressLiteral
}

/// The header may break lines only where it means to: CRLF followed by a tab, and a final CRLF.
private func checkReceived(_ envelope: Envelope) {
    let header = Array(
        ReceivedHeader.render(
            envelope: envelope, clientAddress: "192.0.2.1", hostname: "mx.example", id: "ID",
            date: "Sun, 29 Nov 2026 22:09:00 +0000"
        ).utf8)
    for (index, byte) in header.enumerated() {
        if byte == 0x0D {
            require(index + 1 < header.count && header[index + 1] == 0x0A, "bare CR in Received header")
        } else if byte == 0x0A {
            require(index > 0 && header[index - 1] == 0x0D, "bare LF in Received header")
            require(index == header.count - 1 || header[index + 1] == 0x09, "Received header line not folded")
        }
    }
}

private func checkXText(_ text: String) {
    let encoded = XText.encode(text)
    require(XText.decode(encoded) == text, "xtext round trip of \(text.debugDescription) via \(encoded)")
    if let decoded = XText.decode(text) {
        require(XText.decode(XText.encode(decoded)) == decoded, "xtext round trip of \(decoded.debugDescription)")
    }
}
