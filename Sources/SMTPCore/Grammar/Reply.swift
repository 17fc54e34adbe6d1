/// An SMTP reply (RFC 5321 §4.2): a three-digit code, an optional enhanced status code and one or more text lines.
///
/// A reply is also an `Error`: a backend throws one to refuse a sender, a recipient or a message with exactly
/// that reply, the way go-smtp's `SMTPError` works.
public struct Reply: Sendable, Hashable, Error, CustomStringConvertible {
    public var code: Int
    public var enhancedCode: EnhancedStatusCode?
    public var lines: [String]

    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode?, lines: [String]) {
        precondition((200...599).contains(code), "SMTP reply codes are three digits from 2xx to 5xx")
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode?, _ text: String) {
        self.init(code, enhancedCode, lines: [text])
    }

    /// 2xx and 3xx.
    public var isPositive: Bool { code < 400 }
    /// 4xx: the client may try again later.
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    /// 5xx: the client must not repeat the same request.
    public var isPermanentFailure: Bool { code >= 500 }

    /// The reply as it goes on the wire: `code-text` for every line but the last, `code text` for the last,
    /// each ending in CRLF, each carrying the enhanced code when there is one. Line breaks inside a text line are
    /// replaced so that a reply can never inject another.
    public var wireText: String {
        var out = ""
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            var text = line.replacingControlCharacters()
            if let enhancedCode { text = text.isEmpty ? "\(enhancedCode)" : "\(enhancedCode) \(text)" }
            out += "\(code)\(separator)\(text)\r\n"
        }
        return out
    }

    public var description: String {
        lines.count == 1 ? "\(code) \(enhancedCode.map { "\($0) " } ?? "")\(lines[0])" : wireText
    }
}

extension String {
    fileprivate func replacingControlCharacters() -> String {
        guard utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return self }
        return String(unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }
}
