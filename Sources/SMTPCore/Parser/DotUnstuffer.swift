/// Reads a DATA body (RFC 5321 §4.5.2): removes dot-stuffing and finds the end of the body, which only
/// `<CRLF>.<CRLF>` marks.
///
/// A bare LF or a bare CR never ends a line for this reader, so no byte sequence other than CRLF "." CRLF can end
/// the body early and smuggle a second message (CVE-2023-51764 and relatives). Bare line endings are either kept
/// and reported (`sawBareLineEnding`, for the caller to refuse the message) or turned into CRLF.
///
/// The reader keeps a constant amount of state and works on whatever slice of input it is given. It scans for the
/// next CR or LF a word at a time and hands over whole runs of unchanged input, so that large bodies decode at
/// memory speed; only line boundaries go through the state machine.
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
    /// Whether the body so far had a CR not followed by LF, or an LF not preceded by CR.
    public private(set) var sawBareLineEnding = false
    /// Whether the end marker has been read; `consume` takes nothing more.
    public var isComplete: Bool { if case .done = state { true } else { false } }

    public init(bareLineEndings: BareLineEndings = .reject) {
        self.bareLineEndings = bareLineEndings
    }

    /// Consumes bytes from `input` until the end of the body or of the input, appending the message content to
    /// `output`. Returns how many bytes were consumed; bytes after the end marker are left for the caller.
    public mutating func consume(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Int {
        // Moved in and out rather than copied: the array stays uniquely referenced, so appends do not copy it.
        var collector = ByteArrayOutput()
        swap(&collector.bytes, &output)
        defer { swap(&collector.bytes, &output) }
        return decode(input, into: &collector)
    }

    /// Consumes bytes from `input` until the end of the body or of the input, handing the message content to
    /// `output` as runs of `input` and single added octets. Returns how many bytes were consumed; bytes after the
    /// end marker are left for the caller.
    ///
    /// A CR at the very end of `input` is consumed but handed over only with the next input, once it is known
    /// whether it ends a line or the body.
    public mutating func consume(_ input: UnsafeRawBufferPointer, into output: inout some DotUnstufferOutput) -> Int {
        decode(input, into: &output)
    }

    private mutating func decode<Output: DotUnstufferOutput>(
        _ input: UnsafeRawBufferPointer, into output: inout Output
    ) -> Int {
        guard let base = input.baseAddress, input.count > 0, !isComplete else { return 0 }
        // Locals rather than stored properties, so that the loop keeps them in registers.
        var state = self.state
        var sawBareLineEnding = self.sawBareLineEnding
        let normalize = bareLineEndings == .normalize
        defer {
            self.state = state
            self.sawBareLineEnding = sawBareLineEnding
        }
        let end = input.count
        var index = 0
        // input[runStart..<index] is body content, unchanged, not yet handed to `output`: runs are handed over
        // only where the decoder drops or adds an octet.
        var runStart = 0

        while index < end {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            switch state {
            case .midLine:
                guard let found = LineEndingSearch.first(in: base, from: index, to: end) else {
                    index = end
                    continue
                }
                index = found &+ 1
                if base.load(fromByteOffset: found, as: UInt8.self) == .cr {
                    // Stays in the run for now; the next octet decides what it is.
                    state = .carriageReturn
                } else {
                    // A bare LF. It does not start a line: a dot after it is content, not stuffing.
                    sawBareLineEnding = true
                    if normalize {
                        output.appendRun(runStart..<found, of: input)
                        output.appendByte(.cr)
                        runStart = found
                    }
                }
            case .lineStart:
                if byte == .dot {
                    // The stuffed dot (or the dot of the end marker) is not content.
                    output.appendRun(runStart..<index, of: input)
                    index &+= 1
                    runStart = index
                    state = .dot
                } else {
                    state = .midLine
                }
            case .carriageReturn:
                // The CR is the octet before, in the run, unless it ended the previous input: then it was held back.
                let heldBack = index == 0
                if byte == .lf {
                    if heldBack { output.appendByte(.cr) }
                    index &+= 1
                    state = .lineStart
                } else {
                    // A bare CR; this octet is read again as the start of what follows it.
                    sawBareLineEnding = true
                    if heldBack {
                        output.appendByte(.cr)
                        if normalize { output.appendByte(.lf) }
                    } else if normalize {
                        output.appendRun(runStart..<index, of: input)
                        output.appendByte(.lf)
                        runStart = index
                    }
                    state = .midLine
                }
            case .dot:
                if byte == .cr {
                    // Kept out of the run: with an LF it is part of the end marker.
                    index &+= 1
                    runStart = index
                    state = .dotCarriageReturn
                } else {
                    // "If the first character is a period and there are other characters on the line, the first
                    // character is deleted." This octet is read again as ordinary content.
                    state = .midLine
                }
            case .dotCarriageReturn:
                if byte == .lf {
                    // The end marker. Nothing is pending: the run was handed over before the dot.
                    state = .done
                    return index &+ 1
                }
                // ". CR x": the dot was stuffing and the CR is a bare CR; x is read again.
                sawBareLineEnding = true
                output.appendByte(.cr)
                if normalize { output.appendByte(.lf) }
                state = .midLine
            case .done:
                return index
            }
        }
        // A CR that ends the input waits for the next input to tell whether it ends a line (see `.carriageReturn`).
        output.appendRun(runStart..<(state == .carriageReturn ? end &- 1 : end), of: input)
        return end
    }
}

extension DotUnstufferOutput {
    /// Hands over `range` unless it is empty.
    @inline(__always)
    fileprivate mutating func appendRun(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        if !range.isEmpty { appendInput(range, of: input) }
    }
}
