/// The `Received:` trace header a server prepends to a message it accepts (RFC 5321 §4.4, RFC 5322 §3.6.7).
public enum ReceivedHeader {
    /// - Parameters:
    ///   - date: the date and time in RFC 5322 form (`Sun, 29 Nov 2026 22:09:00 +0000`); the caller owns the clock.
    ///   - tls: the negotiated TLS version (`TLSv1.3`), recorded in a comment as Postfix and Exim do.
    /// A recipient is named in a `for` clause when the message has exactly one.
    public static func render(
        envelope: Envelope, clientAddress: String, hostname: String, id: String, date: String, tls: String? = nil
    ) -> String {
        let helo = envelope.heloName.filter { $0.isASCII && !$0.isWhitespace && $0 != "(" && $0 != ")" }
        var header = "Received: from \(helo.isEmpty ? "unknown" : helo) ([\(clientAddress)])\r\n"
        if let tls { header += "\t(using \(tls))\r\n" }
        header += "\tby \(hostname) (Swallow) with \(envelope.protocolName) id \(id)"
        if envelope.recipients.count == 1 {
            header += "\r\n\tfor \(envelope.recipients[0].path)"
        }
        header += ";\r\n\t\(date)\r\n"
        return header
    }
}
