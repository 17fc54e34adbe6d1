/// Maps a mailbox address to its Maildir path, `<mail dir>/<domain>/<local part>`, so that no address can name a
/// path outside the mail directory: bytes outside a safe set become `%XX`, and so does a leading dot.
enum MailboxPath {
    static func path(for address: Directory.MailboxAddress, under root: String) -> String {
        "\(root)/\(component(address.domain.lowercased()))/\(component(address.localPart.lowercased()))"
    }

    static func component(_ name: String) -> String {
        var out = ""
        for (index, byte) in name.utf8.enumerated() {
            let safe =
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte >= 0x80 || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+")
                || (byte == UInt8(ascii: ".") && index > 0)
            if safe {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).paddedHex
            }
        }
        // UTF-8 bytes were appended one scalar per byte above; rebuild them as UTF-8.
        return String(decoding: out.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }, as: UTF8.self)
    }
}

extension String {
    fileprivate var paddedHex: String { count == 1 ? "0" + self : self }
}
