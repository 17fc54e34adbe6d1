/// Why `ReplyParser` refused what a server sent. The connection cannot continue after one: the client no longer
/// knows which reply belongs to which command.
public enum ReplySyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A line longer than the parser's limit, or unterminated past it.
    case lineTooLong(limit: Int)
    /// A multi-line reply with more lines than the parser's limit.
    case tooManyLines(limit: Int)
    /// A line that does not start with a reply code from 200 to 599 followed by a space, a hyphen or the line end.
    case malformedLine(String)
    /// A continuation line whose code differs from the reply's first line.
    case inconsistentCode(expected: Int, found: Int)

    public var description: String {
        switch self {
        case .lineTooLong(let limit): "reply line longer than \(limit) octets"
        case .tooManyLines(let limit): "reply of more than \(limit) lines"
        case .malformedLine(let line): "malformed reply line \(line.debugDescription)"
        case .inconsistentCode(let expected, let found): "reply line with code \(found) inside a \(expected) reply"
        }
    }
}
