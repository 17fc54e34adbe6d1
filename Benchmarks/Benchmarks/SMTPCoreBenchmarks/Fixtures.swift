/// Inputs shaped like real SMTP traffic, built once before the measurements.
enum Fixtures {
    /// A DATA body of exactly `size` octets as it travels on the wire: a few header lines, then 76-character
    /// base64-like lines (the MIME maximum) in CRLF form, every 32nd line dot-stuffed, ended by `.` CRLF.
    static func body(size: Int) -> [UInt8] {
        let header = Array(
            ("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: benchmark\r\n"
                + "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n").utf8)
        let end = Array(".\r\n".utf8)
        precondition(size >= header.count + end.count + 80)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var random = RandomBytes(seed: 0x5EED)
        var bytes = header
        bytes.reserveCapacity(size)
        let room = size - header.count - end.count
        let (fullLines, extra) = room.quotientAndRemainder(dividingBy: 78)
        for line in 0..<fullLines {
            // A remainder of one octet cannot be a line of its own (CRLF is two): the first line takes it.
            let length = line == 0 && extra == 1 ? 77 : 76
            let start = bytes.count
            for _ in 0..<length { bytes.append(alphabet[Int(random.next() & 63)]) }
            // A line the sender had to stuff: it began with a dot, so it goes out with two.
            if line % 32 == 31 {
                bytes[start] = UInt8(ascii: ".")
                bytes[start + 1] = UInt8(ascii: ".")
            }
            bytes.append(contentsOf: [13, 10])
        }
        if extra >= 2 {
            for _ in 0..<(extra - 2) { bytes.append(alphabet[Int(random.next() & 63)]) }
            bytes.append(contentsOf: [13, 10])
        }
        bytes.append(contentsOf: end)
        precondition(bytes.count == size)
        return bytes
    }

    /// Command lines (without CRLF) in the proportions of a session with parameters: EHLO, MAIL with ESMTP
    /// parameters, several RCPT with DSN parameters, RSET, NOOP.
    static let commandLines: [[UInt8]] = [
        "EHLO mail-relay.example.com",
        "MAIL FROM:<alice.sender@example.com> SIZE=48213 BODY=8BITMIME",
        "RCPT TO:<bob@example.org>",
        "RCPT TO:<carol.recipient@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol.recipient@example.org",
        "RCPT TO:<dave@sub.example.net>",
        "MAIL FROM:<> RET=HDRS ENVID=QQ314159",
        "RCPT TO:<postmaster@example.org> NOTIFY=NEVER",
        "EHLO [192.0.2.1]",
        "MAIL FROM:<very.long.local.part+tag@mail.department.example.com> SIZE=1000000 SMTPUTF8",
        "RCPT TO:<\"quoted local\"@example.org>",
        "RSET",
        "NOOP",
    ].map { Array($0.utf8) }
}

/// A small deterministic generator (xorshift64*), so every run measures the same input.
struct RandomBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
