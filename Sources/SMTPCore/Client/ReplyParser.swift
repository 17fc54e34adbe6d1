/// Cuts a server's byte stream into `Reply` values (RFC 5321 §4.2), with bounded memory.
///
/// Feed received bytes with `append(_:)`, then call `next()` until it returns nil. A reply line may end in CRLF or
/// a bare LF (servers that send bare LF exist; a client loses nothing by reading them). An enhanced status code
/// (RFC 2034) is recognised at the start of the text when its class matches the reply code's first digit, and
/// taken off every line that carries it.
public struct ReplyParser: Sendable {
    /// RFC 5321 §4.5.3.1.5 allows 512 octets; real servers send longer texts, so the default is more tolerant.
    public static let defaultMaximumLineLength = 2048
    /// EHLO replies are the longest in practice (a few dozen lines).
    public static let defaultMaximumLines = 128

    public let maximumLineLength: Int
    public let maximumLines: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var pendingCode: Int?
    private var pendingLines: [[UInt8]] = []

    public init(
        maximumLineLength: Int = ReplyParser.defaultMaximumLineLength,
        maximumLines: Int = ReplyParser.defaultMaximumLines
    ) {
        self.maximumLineLength = maximumLineLength
        self.maximumLines = maximumLines
    }

    /// Whether bytes of an incomplete reply are held: after a STARTTLS 220 there must be none (a server, or a
    /// man in the middle, must not inject plaintext replies that would be read as if they came through TLS).
    public var hasBufferedBytes: Bool { readIndex < buffer.count || !pendingLines.isEmpty }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or nil when more bytes are needed. After an error the parser must not be used
    /// again.
    public mutating func next() throws(ReplySyntaxError) -> Reply? {
        while true {
            guard let newline = buffer[readIndex...].firstIndex(of: UInt8(ascii: "\n")) else {
                if buffer.count - readIndex > maximumLineLength { throw .lineTooLong(limit: maximumLineLength) }
                compact()
                return nil
            }
            var end = newline
            if end > readIndex && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard newline + 1 - readIndex <= maximumLineLength else { throw .lineTooLong(limit: maximumLineLength) }
            let line = Array(buffer[readIndex..<end])
            readIndex = newline + 1
            if let reply = try take(line) {
                compact()
                return reply
            }
        }
    }

    // Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
    // Reply-code = %x32-35 %x30-35 %x30-39
    private mutating func take(_ line: [UInt8]) throws(ReplySyntaxError) -> Reply? {
        guard line.count >= 3, (0x32...0x35).contains(line[0]), (0x30...0x35).contains(line[1]),
            (0x30...0x39).contains(line[2])
        else { throw .malformedLine(String(decoding: line.prefix(80), as: UTF8.self)) }
        let code = Int(line[0] - 0x30) * 100 + Int(line[1] - 0x30) * 10 + Int(line[2] - 0x30)
        let separator = line.count > 3 ? line[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw .malformedLine(String(decoding: line.prefix(80), as: UTF8.self))
        }
        if let pendingCode, pendingCode != code { throw .inconsistentCode(expected: pendingCode, found: code) }
        guard pendingLines.count < maximumLines else { throw .tooManyLines(limit: maximumLines) }
        pendingCode = code
        pendingLines.append(line.count > 4 ? Array(line[4...]) : [])
        guard separator == UInt8(ascii: " ") else { return nil }
        defer {
            pendingCode = nil
            pendingLines = []
        }
        return Self.reply(code: code, lines: pendingLines)
    }

    private static func reply(code: Int, lines: [[UInt8]]) -> Reply {
        let enhanced = lines.first.flatMap { EnhancedStatusCode.prefix(of: $0, statusClass: code / 100) }
        let texts = lines.map { line -> String in
            var text = line[...]
            if let enhanced, let found = EnhancedStatusCode.prefix(of: line, statusClass: code / 100),
                found.0 == enhanced.0
            {
                text = text.dropFirst(found.length)
                if text.first == UInt8(ascii: " ") { text = text.dropFirst() }
            }
            return String(decoding: text, as: UTF8.self)
        }
        return Reply(code, enhanced?.0, lines: texts)
    }

    /// Drops consumed bytes once they are half the buffer, so that a long session does not keep every reply.
    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 4 * maximumLineLength)
            readIndex = 0
        } else if readIndex > buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}

extension EnhancedStatusCode {
    // status-code = class "." subject "." detail ; class = "2" / "4" / "5"; subject, detail = 1*3digit
    /// The enhanced code at the start of `text` and its length, when its class is `statusClass` and it is followed
    /// by a space or the end of the text.
    static func prefix(of text: [UInt8], statusClass: Int) -> (EnhancedStatusCode, length: Int)? {
        guard [2, 4, 5].contains(statusClass), text.count >= 5, text[0] == UInt8(48 + statusClass),
            text[1] == UInt8(ascii: ".")
        else { return nil }
        var index = 2
        func number() -> Int? {
            var value = 0
            let start = index
            while index < text.count, index - start < 3, (0x30...0x39).contains(text[index]) {
                value = value * 10 + Int(text[index] - 0x30)
                index += 1
            }
            return index > start ? value : nil
        }
        guard let subject = number(), index < text.count, text[index] == UInt8(ascii: ".") else { return nil }
        index += 1
        guard let detail = number() else { return nil }
        guard index == text.count || text[index] == UInt8(ascii: " ") else { return nil }
        return (EnhancedStatusCode(statusClass, subject, detail), index)
    }
}
