/// A minimal SASLprep (RFC 4013), applied to user names and passwords before they are compared or hashed.
///
/// What it does: the RFC 4013 §2.1 mappings, that is characters "commonly mapped to nothing" (RFC 3454 B.1,
/// such as U+00AD SOFT HYPHEN and U+200B ZERO WIDTH SPACE) are removed and non-ASCII spaces (RFC 3454 C.1.2,
/// such as U+00A0 NO-BREAK SPACE) become U+0020. What it leaves out: NFKC normalisation (the standard library
/// offers none without Foundation) and the prohibited-output and bidirectional checks. ASCII strings, which is
/// what nearly every address and password is, pass through unchanged either way, so a SCRAM client that runs
/// the full SASLprep derives the same keys as this server.
enum SASLPrep {
    static func prepare(_ string: String) -> String {
        // Fast path: nothing to map in ASCII.
        if string.utf8.allSatisfy({ $0 < 0x80 }) { return string }
        var scalars = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            // B.1 first, as other implementations do: U+200B is in both tables and is removed.
            if isMappedToNothing(scalar.value) { continue }
            scalars.append(isNonASCIISpace(scalar.value) ? " " : scalar)
        }
        return String(scalars)
    }

    /// The user name as the users file and the lookup see it: prepared and lowercased, or nil when it is empty
    /// or holds control characters, which no address can contain.
    static func userName(_ raw: String) -> String? {
        let name = prepare(raw).lowercased()
        guard !name.isEmpty, !name.unicodeScalars.contains(where: isControl) else { return nil }
        return name
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// RFC 3454 table B.1.
    private static func isMappedToNothing(_ value: UInt32) -> Bool {
        switch value {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: true
        default: false
        }
    }

    /// RFC 3454 table C.1.2.
    private static func isNonASCIISpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }
}
