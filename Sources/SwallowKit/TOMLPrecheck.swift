/// Text that would make TOMLKit's parser (toml++ 3.4.0) abort the process instead of reporting an error, found
/// by the configuration fuzzer (Fuzz/, target `config`). SwiftPM builds C++ dependencies without `NDEBUG`, so
/// toml++'s `assert`s are live, and `swallow` died of SIGABRT on such a configuration. None of these shapes is
/// valid TOML, so they are refused here, before toml++ sees them:
///
/// - a value that starts with a valid date and has a `T` not followed by a digit (`1979-05-27T.0.1`): toml++
///   classifies a value by the characters in it and calls `parse_time` after the `T`, which asserts a digit;
/// - a table header whose `[` (or `[[`) is followed by something that cannot start a key (`[ = 1`, `[.a]`):
///   `parse_table_header` calls `parse_key`, which asserts a key character or a quote;
/// - a `}` where an array expects an element (`["a", }`): `parse_array` calls `parse_value`, which asserts that
///   it does not start at a value terminator.
///
/// This is a list of shapes found so far, not a TOML validator: toml++ may have more such `assert`s.
enum TOMLPrecheck {
    struct Problem {
        var line: Int
        var column: Int
        var message: String
    }

    /// The first of those shapes outside strings and comments.
    static func problem(in text: String) -> Problem? {
        let bytes = Array(text.utf8)
        var index = 0
        var line = 1
        var lineStart = 0
        /// Brackets and braces open in a value (a multi-line array can put `[` first on a line).
        var open: [UInt8] = []
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func startsWith(_ literal: String) -> Bool {
            let literal = Array(literal.utf8)
            return index + literal.count <= bytes.count && bytes[index..<index + literal.count].elementsEqual(literal)
        }
        /// Skips to just past `terminator`; `escapes` for basic strings, where a backslash quotes the next byte.
        func skip(past terminator: String, escapes: Bool, singleLine: Bool) {
            while index < bytes.count {
                if escapes, bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if startsWith(terminator) {
                    index += terminator.utf8.count
                    return
                }
                if bytes[index] == UInt8(ascii: "\n") {
                    if singleLine { return }
                    line += 1
                    lineStart = index + 1
                }
                index += 1
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "["), open.isEmpty,
                bytes[lineStart..<index].allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            {
                // A table header: its key must start right after `[` or `[[` and blanks.
                var next = index + 1
                if next < bytes.count, bytes[next] == UInt8(ascii: "[") { next += 1 }
                while next < bytes.count, bytes[next] == UInt8(ascii: " ") || bytes[next] == UInt8(ascii: "\t") {
                    next += 1
                }
                if next < bytes.count, !startsKeyOrEndsHeader(bytes[next]) {
                    return Problem(
                        line: line, column: next - lineStart + 1,
                        message:
                            "a table header must start with a key, not '\(String(decoding: [bytes[next]], as: UTF8.self))'"
                    )
                }
                // The rest of the header is a key: skip it, quoted parts included, through its `]`.
                index = next
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") {
                    if bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") {
                        let quote = String(decoding: [bytes[index]], as: UTF8.self)
                        index += 1
                        skip(past: quote, escapes: quote == "\"", singleLine: true)
                        continue
                    }
                    index += 1
                    if bytes[index - 1] == UInt8(ascii: "]") {
                        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1 }
                        break
                    }
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","):
                if byte != UInt8(ascii: ",") { open.append(byte) }
                index += 1
                // Where an array expects an element, toml++ must not find a `}`.
                if open.last == UInt8(ascii: "["), let next = nextSignificant(bytes, from: index),
                    bytes[next] == UInt8(ascii: "}")
                {
                    let column = next - (bytes[..<next].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
                    let lines = bytes[..<next].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                    return Problem(line: lines, column: column, message: "expected an array element, saw '}'")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !open.isEmpty { open.removeLast() }
                index += 1
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = index + 1
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""):
                if startsWith("\"\"\"") {
                    index += 3
                    skip(past: "\"\"\"", escapes: true, singleLine: false)
                } else {
                    index += 1
                    skip(past: "\"", escapes: true, singleLine: true)
                }
            case UInt8(ascii: "'"):
                if startsWith("'''") {
                    index += 3
                    skip(past: "'''", escapes: false, singleLine: false)
                } else {
                    index += 1
                    skip(past: "'", escapes: false, singleLine: true)
                }
            default:
                if isDigit(byte), index == 0 || !isTokenByte(bytes[index - 1]), isDateThenBadTime(bytes, index) {
                    let token = bytes[index..<min(index + 12, bytes.count)]
                    return Problem(
                        line: line, column: index - lineStart + 1,
                        message: "invalid date-time '\(String(decoding: token, as: UTF8.self))': a time must follow 'T'"
                    )
                }
                index += 1
            }
        }
        return nil
    }

    /// `DDDD-DD-DD` then `T` or `t` and no digit after it.
    private static func isDateThenBadTime(_ bytes: [UInt8], _ start: Int) -> Bool {
        let shape = "dddd-dd-ddT"
        guard start + shape.utf8.count <= bytes.count else { return false }
        for (offset, expected) in shape.utf8.enumerated() {
            let byte = bytes[start + offset]
            switch expected {
            case UInt8(ascii: "d"): guard isDigit(byte) else { return false }
            case UInt8(ascii: "T"): guard byte == UInt8(ascii: "T") || byte == UInt8(ascii: "t") else { return false }
            default: guard byte == expected else { return false }
            }
        }
        let after = start + shape.utf8.count
        return after >= bytes.count || !isDigit(bytes[after])
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    /// The index of the next byte after blanks, line breaks and comments, as toml++ skips them inside arrays.
    private static func nextSignificant(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            default:
                return index
            }
        }
        return nil
    }

    /// A bare-key character, a quote, or the `]` that toml++ reports as an error itself (a third `[` it does not).
    private static func startsKeyOrEndsHeader(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]")]
                .contains(byte)
    }

    /// Bytes that continue a bare key or a value, so that a date inside one does not start a value.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || [UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: ":")].contains(
                byte)
    }
}
