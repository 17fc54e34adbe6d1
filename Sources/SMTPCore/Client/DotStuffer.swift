/// Prepares a message body for DATA (RFC 5321 §4.5.2): a period at the start of a line is doubled, and the body
/// ends with CRLF "." CRLF. Works across chunks, so a body can be streamed from disk.
///
/// A bare LF or CR is not repaired: a body is sent as it was stored (Swallow stores only CRLF bodies), but a body
/// whose last line has no line end gets one before the terminator, as the terminator must start a line.
public struct DotStuffer: Sendable {
    private var atLineStart = true
    private var lastByte: UInt8?

    public init() {}

    /// The bytes to send for `chunk`, in order.
    public mutating func stuff(_ chunk: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count + 8)
        for byte in chunk {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
            lastByte = byte
        }
        return out
    }

    /// The end of data: CRLF "." CRLF, or only "." CRLF when the body already ended with CRLF (an empty body is
    /// just the terminator).
    public func terminator() -> [UInt8] {
        switch lastByte {
        case nil: Array(".\r\n".utf8)
        case UInt8(ascii: "\n"): Array(".\r\n".utf8)
        case UInt8(ascii: "\r"): Array("\n.\r\n".utf8)
        default: Array("\r\n.\r\n".utf8)
        }
    }
}
