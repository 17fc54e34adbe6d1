/// Parses one command line (without its CRLF) into a `Command`, or the reply that refuses it.
///
/// The grammar is RFC 5321 §4.1.1 with the parameters of SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
/// (RFC 6531), DSN (RFC 3461) and CHUNKING (RFC 3030). As many clients do, one or more spaces are accepted where
/// the grammar has exactly one, and a space after `FROM:` / `TO:` is tolerated.
public enum CommandParser {
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    public static let maxLineLength = 512

    /// The command word of `line`, or nil when it is not one Swallow knows.
    ///
    /// Called for every line (up to three times), so it allocates nothing: the word, upper-cased, is packed into
    /// an integer and looked up; the length is checked too, since leading zero bytes would not change the number.
    public static func verb(of line: [UInt8]) -> Verb? {
        var packed: UInt64 = 0
        var count = 0
        for byte in line {
            if byte == .space { break }
            count += 1
            guard count <= 8 else { return nil }
            packed = packed << 8 | UInt64(byte.asciiUppercased)
        }
        guard let verb = verbsByPackedName[packed], verb.rawValue.utf8.count == count else { return nil }
        return verb
    }

    private static let verbsByPackedName: [UInt64: Verb] = Dictionary(
        uniqueKeysWithValues: Verb.allCases.map { verb in
            (verb.rawValue.utf8.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, verb)
        })

    /// HTTP request methods (RFC 9110 §9, RFC 5789); none is an SMTP command.
    static let httpMethods: [[UInt8]] = [
        "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
    ].map { Array($0.utf8) }

    /// Whether `line` is an HTTP request line rather than an SMTP command: an HTTP method and a space, or
    /// `HTTP/1.` anywhere in a line whose first word is not an SMTP command. A browser tricked into talking to an
    /// SMTP port (the ALPACA cross-protocol attack) sends this.
    public static func isHTTPRequest(_ line: [UInt8]) -> Bool {
        var scanner = ByteScanner(line)
        let word = scanner.token()
        if scanner.peek == .space,
            httpMethods.contains(where: { $0.elementsEqual(word, by: { $0 == $1.asciiUppercased }) })
        {
            return true
        }
        guard verb(of: line) == nil else { return false }
        let marker = httpVersionMarker
        guard line.count >= marker.count else { return false }
        return (0...(line.count - marker.count)).contains { start in
            line[start..<(start + marker.count)].elementsEqual(marker)
        }
    }

    private static let httpVersionMarker = Array("HTTP/1.".utf8)

    public static func parse(_ line: [UInt8]) -> Result<Command, Reply> {
        do throws(Reply) {
            return .success(try parseOrThrow(line))
        } catch {
            return .failure(error)
        }
    }

    static func parseOrThrow(_ line: [UInt8]) throws(Reply) -> Command {
        if line.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw Reply(500, .init(5, 5, 2), "Invalid character (control, CR, LF or NUL) in command line")
        }
        guard let verb = verb(of: line) else { throw .unknownCommand }
        var scanner = ByteScanner(line, index: verb.rawValue.utf8.count)
        let hasArguments = scanner.consume(.space)
        scanner.skipSpaces()

        switch verb {
        case .helo, .ehlo:
            let name = scanner.token()
            scanner.skipSpaces()
            guard !name.isEmpty, scanner.isAtEnd, name.allSatisfy({ (33...126).contains($0) }),
                let string = String(validating: name, as: UTF8.self)
            else { throw Reply(501, .init(5, 5, 4), "Syntax: \(verb.rawValue) hostname") }
            return verb == .helo ? .helo(string) : .ehlo(string)
        case .mail:
            guard hasArguments, scanner.consumeCaseInsensitive("FROM:") else {
                throw Reply(501, .init(5, 5, 4), "Syntax: MAIL FROM:<address> [parameters]")
            }
            scanner.skipSpaces()
            let path: ReversePath
            do {
                path = try AddressParser.parseReversePath(&scanner)
            } catch {
                throw error == .tooLong
                    ? Reply(501, .init(5, 1, 7), "Sender address too long")
                    : Reply(501, .init(5, 1, 7), "Bad sender address syntax")
            }
            return .mail(path, try ParameterParser.mailParameters(try ParameterParser.split(&scanner)))
        case .rcpt:
            guard hasArguments, scanner.consumeCaseInsensitive("TO:") else {
                throw Reply(501, .init(5, 5, 4), "Syntax: RCPT TO:<address> [parameters]")
            }
            scanner.skipSpaces()
            let path: ForwardPath
            do {
                path = try AddressParser.parseForwardPath(&scanner)
            } catch {
                throw error == .tooLong
                    ? Reply(501, .init(5, 1, 3), "Recipient address too long")
                    : Reply(501, .init(5, 1, 3), "Bad recipient address syntax")
            }
            return .rcpt(path, try ParameterParser.rcptParameters(try ParameterParser.split(&scanner)))
        case .data, .rset, .quit, .turn, .startTLS:
            guard scanner.isAtEnd else {
                throw Reply(501, .init(5, 5, 4), "Syntax: \(verb.rawValue) takes no arguments")
            }
            switch verb {
            case .data: return .data
            case .rset: return .rset
            case .quit: return .quit
            case .turn: return .turn
            default: return .startTLS
            }
        case .noop:
            return .noop
        case .help:
            let topic = scanner.token()
            return .help(topic.isEmpty ? nil : String(decoding: topic, as: UTF8.self))
        case .vrfy, .expn:
            let argument = scanner.rest
            guard !argument.isEmpty, let string = String(validating: argument, as: UTF8.self) else {
                throw Reply(501, .init(5, 5, 4), "Syntax: \(verb.rawValue) <name or address>")
            }
            return verb == .vrfy ? .vrfy(string) : .expn(string)
        case .bdat:
            let size = scanner.token()
            scanner.skipSpaces()
            let last = scanner.consumeCaseInsensitive("LAST")
            scanner.skipSpaces()
            guard !size.isEmpty, size.count <= 15, size.allSatisfy(\.isASCIIDigit), scanner.isAtEnd,
                let octets = Int(String(decoding: size, as: UTF8.self))
            else { throw Reply(501, .init(5, 5, 4), "Syntax: BDAT chunk-size [LAST]") }
            return .bdat(size: octets, last: last)
        case .auth:
            let mechanism = scanner.token()
            scanner.skipSpaces()
            let response = scanner.token()
            guard !mechanism.isEmpty else {
                throw Reply(501, .init(5, 5, 4), "Syntax: AUTH mechanism [initial-response]")
            }
            return .auth(
                mechanism: mechanism.asciiUppercasedString,
                initialResponse: response.isEmpty ? nil : String(decoding: response, as: UTF8.self))
        }
    }
}
