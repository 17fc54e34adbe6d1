/// Reads a DATA body (RFC 5321 §4.5.2): removes dot-stuffing and finds the end of the body, which only
/// `<CRLF>.<CRLF>` marks.
///
/// A bare LF or a bare CR never ends a line for this reader, so no byte sequence other than CRLF "." CRLF can end
/// the body early and smuggle a second message (CVE-2023-51764 and relatives). Bare line endings are either kept
/// and reported (`sawBareLineEnding`, for the caller to refuse the message) or turned into CRLF.
///
/// The reader keeps a constant amount of state and works on whatever slice of input it is given.
public struct DotUnstuffer: Sendable {
    public enum BareLineEndings: Sendable, Hashable {
        /// Keep them and report them; the server refuses such a message.
        case reject
        /// Replace a bare LF or bare CR with CRLF.
        case normalize
    }

    private enum State: Sendable {
        /// After a CRLF, or at the start of the body (the CRLF of the DATA line counts).
        case lineStart
        case midLine
        /// After a CR whose LF has not been seen yet.
        case carriageReturn
        /// After a "." at the start of a line.
        case dot
        /// After "." CR at the start of a line.
        case dotCarriageReturn
        case done
    }

    private var state = State.lineStart
    private let bareLineEndings: BareLineEndings
    public private(set) var sawBareLineEnding = false
    public var isComplete: Bool { if case .done = state { true } else { false } }

    public init(bareLineEndings: BareLineEndings = .reject) {
        self.bareLineEndings = bareLineEndings
    }

    /// Consumes bytes from `input` until the end of the body or of the input, appending the message content to
    /// `output`. Returns how many bytes were consumed; bytes after the end marker are left for the caller.
    public mutating func consume(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Int {
        var index = 0
        while index < input.count {
            if case .done = state { return index }
            let byte = input[index]
            switch state {
            case .lineStart:
                if byte == .dot {
                    state = .dot
                } else {
                    midLine(byte, &output)
                }
            case .midLine:
                midLine(byte, &output)
            case .carriageReturn:
                if byte == .lf {
                    output.append(contentsOf: [.cr, .lf])
                    state = .lineStart
                } else {
                    bareCR(&output)
                    midLine(byte, &output)
                }
            case .dot:
                if byte == .cr {
                    state = .dotCarriageReturn
                } else {
                    // "If the first character is a period and there are other characters on the line, the first
                    // character is deleted."
                    midLine(byte, &output)
                }
            case .dotCarriageReturn:
                if byte == .lf {
                    state = .done
                } else {
                    bareCR(&output)
                    midLine(byte, &output)
                }
            case .done:
                return index
            }
            index += 1
        }
        return index
    }

    private mutating func midLine(_ byte: UInt8, _ output: inout [UInt8]) {
        switch byte {
        case .cr:
            state = .carriageReturn
        case .lf:
            sawBareLineEnding = true
            if bareLineEndings == .normalize { output.append(.cr) }
            output.append(.lf)
            state = .midLine
        default:
            output.append(byte)
            state = .midLine
        }
    }

    private mutating func bareCR(_ output: inout [UInt8]) {
        sawBareLineEnding = true
        output.append(.cr)
        if bareLineEndings == .normalize { output.append(.lf) }
        state = .midLine
    }
}
