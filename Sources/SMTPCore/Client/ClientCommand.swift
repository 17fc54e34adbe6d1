/// A command an SMTP client sends (RFC 5321 §4.1.1), with its wire form.
public enum ClientCommand: Sendable, Hashable {
    case ehlo(String)
    case helo(String)
    case startTLS
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4); the response is sent base64-encoded, `=` when empty.
    case auth(mechanism: String, initialResponse: [UInt8]?)
    /// One line of a SASL exchange, base64-encoded.
    case authResponse([UInt8])
    /// `*`: the client gives up the SASL exchange.
    case authCancel
    /// `MAIL FROM:<path> [params]`; the parameters are already in their wire form (see `OutboundTransaction`).
    case mail(ReversePath, parameters: [String])
    case rcpt(ForwardPath, parameters: [String])
    case data
    case rset
    case noop
    case quit

    /// The command line with its CRLF.
    public var wireText: String {
        let line: String =
            switch self {
            case .ehlo(let name): "EHLO \(name)"
            case .helo(let name): "HELO \(name)"
            case .startTLS: "STARTTLS"
            case .auth(let mechanism, nil): "AUTH \(mechanism)"
            case .auth(let mechanism, let response?):
                "AUTH \(mechanism) \(response.isEmpty ? "=" : Base64.encode(response))"
            case .authResponse(let response): Base64.encode(response)
            case .authCancel: "*"
            case .mail(let path, let parameters): (["MAIL FROM:\(path)"] + parameters).joined(separator: " ")
            case .rcpt(let path, let parameters): (["RCPT TO:\(path)"] + parameters).joined(separator: " ")
            case .data: "DATA"
            case .rset: "RSET"
            case .noop: "NOOP"
            case .quit: "QUIT"
            }
        return line + "\r\n"
    }

    /// Whether the line is safe to send: no CR, LF or other control character that could end it early and smuggle
    /// in a command of the caller's choosing.
    public var isSafe: Bool {
        !wireText.utf8.dropLast(2).contains { $0 < 0x20 || $0 == 0x7F }
    }
}
