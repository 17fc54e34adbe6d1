/// Parses paths and mailboxes of RFC 5321 §4.1.2, with the UTF-8 forms of RFC 6531 §3.3.
///
/// The parser accepts UTF-8 in local parts and domains; whether it is allowed depends on the transaction's
/// `SMTPUTF8` parameter and is decided by the state machine (`Mailbox.isASCII`).
enum AddressParser {
    static let maxLocalPartLength = 64
    static let maxDomainLength = 255
    static let maxPathLength = 256

    enum Failure: Error { case syntax, tooLong }

    // Path = "<" [ A-d-l ":" ] Mailbox ">"   (the source route is accepted and ignored, §4.1.1.3 / §C)
    // Reverse-path = Path / "<>"
    static func parseReversePath(_ scanner: inout ByteScanner) throws(Failure) -> ReversePath {
        guard scanner.consume(UInt8(ascii: "<")) else { throw .syntax }
        if scanner.consume(UInt8(ascii: ">")) { return .null }
        let mailbox = try parseRouteAndMailbox(&scanner)
        return .mailbox(mailbox)
    }

    // Forward-path = Path / "<Postmaster>"
    static func parseForwardPath(_ scanner: inout ByteScanner) throws(Failure) -> ForwardPath {
        guard scanner.consume(UInt8(ascii: "<")) else { throw .syntax }
        let start = scanner.index
        if scanner.consumeCaseInsensitive("postmaster>") { return .postmaster }
        scanner.index = start
        return .mailbox(try parseRouteAndMailbox(&scanner))
    }

    private static func parseRouteAndMailbox(_ scanner: inout ByteScanner) throws(Failure) -> Mailbox {
        let start = scanner.index
        // A-d-l = At-domain *( "," At-domain ) ; At-domain = "@" Domain
        if scanner.peek == UInt8(ascii: "@") {
            repeat {
                guard scanner.consume(UInt8(ascii: "@")) else { throw .syntax }
                _ = try parseDomainOrLiteral(&scanner)
            } while scanner.consume(UInt8(ascii: ","))
            guard scanner.consume(UInt8(ascii: ":")) else { throw .syntax }
        }
        let mailbox = try parseMailbox(&scanner)
        guard scanner.consume(UInt8(ascii: ">")) else { throw .syntax }
        if scanner.index - start - 1 > maxPathLength { throw .tooLong }
        return mailbox
    }

    // Mailbox = Local-part "@" ( Domain / address-literal )
    static func parseMailbox(_ scanner: inout ByteScanner) throws(Failure) -> Mailbox {
        let localPart = try parseLocalPart(&scanner)
        guard scanner.consume(UInt8(ascii: "@")) else { throw .syntax }
        let domain = try parseDomainOrLiteral(&scanner)
        return Mailbox(localPart: localPart, domain: domain)
    }

    // Local-part = Dot-string / Quoted-string
    private static func parseLocalPart(_ scanner: inout ByteScanner) throws(Failure) -> String {
        let start = scanner.index
        if scanner.consume(UInt8(ascii: "\"")) {
            // Quoted-string = DQUOTE *QcontentSMTP DQUOTE ; qtextSMTP = %d32-33 / %d35-91 / %d93-126
            // quoted-pairSMTP = %d92 %d32-126
            while true {
                guard let byte = scanner.next() else { throw .syntax }
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = scanner.next(), (32...126).contains(escaped) else { throw .syntax }
                } else if !((32...126).contains(byte) || byte >= 0x80) {
                    throw .syntax
                }
            }
        } else {
            // Dot-string = Atom *("." Atom) ; Atom = 1*atext
            try parseDotSeparated(&scanner) { $0.isAtext }
        }
        let bytes = scanner.bytes[start..<scanner.index]
        if bytes.count > maxLocalPartLength { throw .tooLong }
        return try utf8String(bytes)
    }

    // Domain = sub-domain *("." sub-domain) ; sub-domain = Let-dig [Ldh-str]  (U-labels allowed, RFC 6531)
    // address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]"
    static func parseDomainOrLiteral(_ scanner: inout ByteScanner) throws(Failure) -> String {
        let start = scanner.index
        if scanner.consume(UInt8(ascii: "[")) {
            while let byte = scanner.peek, byte != UInt8(ascii: "]") {
                // dcontent = %d33-90 / %d94-126
                guard (33...90).contains(byte) || (94...126).contains(byte) else { throw .syntax }
                scanner.index += 1
            }
            guard scanner.consume(UInt8(ascii: "]")), scanner.index - start > 2 else { throw .syntax }
        } else {
            try parseDotSeparated(&scanner) { $0.isLetDig || $0 == UInt8(ascii: "-") || $0 >= 0x80 }
            let labels = scanner.bytes[start..<scanner.index].split(separator: .dot)
            for label in labels where label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                throw .syntax
            }
        }
        if scanner.index - start > maxDomainLength { throw .tooLong }
        return try utf8String(scanner.bytes[start..<scanner.index])
    }

    private static func parseDotSeparated(
        _ scanner: inout ByteScanner, allowed: (UInt8) -> Bool
    ) throws(Failure) {
        while true {
            let atomStart = scanner.index
            while let byte = scanner.peek, allowed(byte) { scanner.index += 1 }
            guard scanner.index > atomStart else { throw .syntax }
            guard scanner.peek == .dot else { return }
            scanner.index += 1
        }
    }

    private static func utf8String(_ bytes: ArraySlice<UInt8>) throws(Failure) -> String {
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .syntax }
        return string
    }
}
