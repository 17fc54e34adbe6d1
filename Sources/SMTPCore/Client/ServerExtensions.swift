/// What a server offers in its EHLO reply (RFC 5321 §4.1.1.1): one keyword and its parameters per line after
/// the first. An empty value after HELO.
public struct ServerExtensions: Sendable, Hashable {
    /// Every keyword, uppercased, with its parameters as sent.
    public var keywords: [String: [String]]

    public init(keywords: [String: [String]] = [:]) {
        self.keywords = keywords
    }

    // ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
    //             / ( "250-" Domain [ SP ehlo-greet ] CRLF *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
    // ehlo-line   = ehlo-keyword *( SP ehlo-param )
    /// The extensions of an EHLO reply. Lines that are not `ehlo-line`s are ignored rather than refused: a server
    /// with an odd line still takes mail.
    public init(ehloReply: Reply) {
        var keywords: [String: [String]] = [:]
        for line in ehloReply.lines.dropFirst() {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first, first.utf8.allSatisfy({ Self.isKeywordByte($0) }) else { continue }
            keywords[first.uppercased()] = words.dropFirst().map(String.init)
        }
        self.keywords = keywords
    }

    public func offers(_ keyword: String) -> Bool { keywords[keyword.uppercased()] != nil }

    public var pipelining: Bool { offers("PIPELINING") }
    public var startTLS: Bool { offers("STARTTLS") }
    public var eightBitMIME: Bool { offers("8BITMIME") }
    public var smtpUTF8: Bool { offers("SMTPUTF8") }
    public var dsn: Bool { offers("DSN") }
    public var chunking: Bool { offers("CHUNKING") }
    public var enhancedStatusCodes: Bool { offers("ENHANCEDSTATUSCODES") }

    /// The SIZE limit (RFC 1870 §4): nil when SIZE is not offered or offered without a number, or 0 ("no fixed
    /// maximum"); otherwise the largest message the server takes, in octets.
    public var maximumSize: Int? {
        guard let value = keywords["SIZE"]?.first, let size = Int(value), size > 0 else { return nil }
        return size
    }

    /// The SASL mechanisms of `AUTH` (RFC 4954 §3), uppercased.
    public var authMechanisms: [String] { (keywords["AUTH"] ?? []).map { $0.uppercased() } }

    // ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    private static func isKeywordByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == UInt8(ascii: "-")
    }
}
