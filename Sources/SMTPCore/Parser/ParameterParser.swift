/// Parses the ESMTP parameters after the path of `MAIL` and `RCPT` (RFC 5321 §4.1.2):
/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`.
enum ParameterParser {
    static let unknownParameter = Reply(555, .init(5, 5, 4), "Unsupported parameter")

    static func syntax(_ text: String) -> Reply { Reply(501, .init(5, 5, 4), text) }

    /// Splits the rest of the line into uppercased keywords and raw values.
    static func split(_ scanner: inout ByteScanner) throws(Reply) -> [(keyword: String, value: String?)] {
        var parameters: [(keyword: String, value: String?)] = []
        if !scanner.isAtEnd, scanner.peek != .space { throw syntax("Expected a space after the address") }
        while true {
            scanner.skipSpaces()
            if scanner.isAtEnd { return parameters }
            let token = scanner.token()
            let parts = token.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            let keyword = parts[0]
            guard let first = keyword.first, first.isLetDig,
                keyword.allSatisfy({ $0.isLetDig || $0 == UInt8(ascii: "-") })
            else { throw syntax("Bad parameter syntax") }
            var value: String?
            if parts.count == 2 {
                // esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)
                guard !parts[1].isEmpty, parts[1].allSatisfy({ (33...126).contains($0) && $0 != 61 || $0 >= 0x80 }),
                    let string = String(validating: parts[1], as: UTF8.self)
                else { throw syntax("Bad parameter value") }
                value = string
            }
            let name = keyword.asciiUppercasedString
            if parameters.contains(where: { $0.keyword == name }) { throw syntax("Duplicate parameter \(name)") }
            parameters.append((name, value))
        }
    }

    static func mailParameters(_ list: [(keyword: String, value: String?)]) throws(Reply) -> MailParameters {
        var result = MailParameters()
        for (keyword, value) in list {
            switch keyword {
            case "SIZE":
                // size-value = 1*20DIGIT
                guard let value, value.utf8.count <= 20, value.utf8.allSatisfy(\.isASCIIDigit) else {
                    throw syntax("Syntax: SIZE=<octets>")
                }
                result.size = Int(value) ?? Int.max
            case "BODY":
                guard let value, let body = BodyType(rawValue: value.utf8.asciiUppercasedString) else {
                    throw syntax("Syntax: BODY=7BIT|8BITMIME|BINARYMIME")
                }
                result.body = body
            case "SMTPUTF8":
                guard value == nil else { throw syntax("SMTPUTF8 takes no value") }
                result.smtpUTF8 = true
            case "RET":
                guard let value, let ret = DSNReturn(rawValue: value.utf8.asciiUppercasedString) else {
                    throw syntax("Syntax: RET=FULL|HDRS")
                }
                result.dsnReturn = ret
            case "ENVID":
                guard let value, let decoded = decodePrintable(value), value.utf8.count <= 100 else {
                    throw syntax("Syntax: ENVID=<xtext, at most 100 characters>")
                }
                result.envelopeID = decoded
            case "AUTH":
                // auth-param = "AUTH=" ( xtext / "<>" )  (RFC 4954 §5)
                guard let value, let decoded = value == "<>" ? "<>" : XText.decode(value) else {
                    throw syntax("Syntax: AUTH=<xtext address> or AUTH=<>")
                }
                result.auth = decoded
            default:
                throw unknownParameter
            }
        }
        return result
    }

    static func rcptParameters(_ list: [(keyword: String, value: String?)]) throws(Reply) -> RcptParameters {
        var result = RcptParameters()
        for (keyword, value) in list {
            switch keyword {
            case "NOTIFY":
                // notify-esmtp-value = "NEVER" / 1#notify-list-element
                guard let value else { throw syntax("Syntax: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY") }
                var notify = DSNNotify()
                let elements = value.utf8.asciiUppercasedString.split(separator: ",", omittingEmptySubsequences: false)
                for element in elements {
                    switch element {
                    case "NEVER": notify.never = true
                    case "SUCCESS": notify.success = true
                    case "FAILURE": notify.failure = true
                    case "DELAY": notify.delay = true
                    default: throw syntax("Syntax: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY")
                    }
                }
                if notify.never && elements.count > 1 { throw syntax("NOTIFY=NEVER cannot be combined") }
                result.notify = notify
            case "ORCPT":
                // orcpt-value = addr-type ";" xtext
                guard let value, let semicolon = value.firstIndex(of: ";"),
                    case let type = String(value[..<semicolon]), !type.isEmpty,
                    type.utf8.allSatisfy({ $0.isLetDig || $0 == UInt8(ascii: "-") }),
                    let address = decodePrintable(String(value[value.index(after: semicolon)...])), !address.isEmpty
                else { throw syntax("Syntax: ORCPT=addr-type;xtext") }
                result.originalRecipient = OriginalRecipient(addressType: type, address: address)
            default:
                throw unknownParameter
            }
        }
        return result
    }

    /// Decodes xtext whose value is to be echoed into headers and DSNs (`Original-Envelope-Id:`,
    /// `Original-Recipient:`): control characters such as an encoded CR LF (`+0D+0A`) are refused.
    private static func decodePrintable(_ xtext: String) -> String? {
        guard let decoded = XText.decode(xtext), !decoded.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            return nil
        }
        return decoded
    }
}

/// `xtext` (RFC 3461 §4): printable ASCII except `+` and `=`, with `+XX` hexadecimal escapes.
public enum XText {
    public static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if (33...126).contains(byte) && byte != UInt8(ascii: "=") {
                bytes.append(byte)
            } else if byte >= 0x80 {
                bytes.append(byte)  // utf-8-addr-xtext of RFC 6533
            } else {
                return nil
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (33...126).contains(byte) && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "+" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
