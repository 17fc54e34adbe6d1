@testable import SMTPCore

/// What decoding a DATA body gives: the content, how much input was used, and what was seen.
struct DecodedBody: Equatable, CustomStringConvertible {
    var output: [UInt8]
    var consumed: Int
    var isComplete: Bool
    var sawBareLineEnding: Bool

    var description: String {
        "output \(String(decoding: output, as: UTF8.self).debugDescription), consumed \(consumed), "
            + "complete \(isComplete), bare \(sawBareLineEnding)"
    }
}

/// RFC 5321 §4.5.2 decoding written as plainly as possible, on the whole input at once, for comparison with the
/// fast `DotUnstuffer`: lines end with CRLF only; a line that is "." ends the body; a leading dot is removed;
/// a bare CR or LF is kept (or turned into CRLF) and does not start a line. Octets whose meaning depends on input
/// that has not come (a CR, or a dot at a line start, at the very end) are not part of the output yet.
func referenceDecode(_ input: [UInt8], _ mode: DotUnstuffer.BareLineEndings) -> DecodedBody {
    let cr = UInt8(ascii: "\r")
    let lf = UInt8(ascii: "\n")
    let dot = UInt8(ascii: ".")
    var output: [UInt8] = []
    var bare = false
    var atLineStart = true
    var index = 0
    func at(_ offset: Int) -> UInt8? { offset < input.count ? input[offset] : nil }

    while index < input.count {
        if atLineStart, input[index] == dot {
            // The end marker, or a stuffed dot: either way the dot is not content.
            if at(index + 1) == cr, at(index + 2) == lf {
                return DecodedBody(output: output, consumed: index + 3, isComplete: true, sawBareLineEnding: bare)
            }
            index += 1
            atLineStart = false
            continue
        }
        atLineStart = false
        let byte = input[index]
        if byte == cr {
            guard let next = at(index + 1) else { break }  // undecided until more input comes
            if next == lf {
                output += [cr, lf]
                index += 2
                atLineStart = true
                continue
            }
            bare = true
            output += mode == .normalize ? [cr, lf] : [cr]
        } else if byte == lf {
            bare = true
            output += mode == .normalize ? [cr, lf] : [lf]
        } else {
            output.append(byte)
        }
        index += 1
    }
    return DecodedBody(output: output, consumed: input.count, isComplete: false, sawBareLineEnding: bare)
}
