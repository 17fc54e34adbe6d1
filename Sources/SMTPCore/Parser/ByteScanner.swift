/// A cursor over the bytes of one command line, used by the parsers.
struct ByteScanner {
    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8], index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var isAtEnd: Bool { index >= bytes.count }
    var peek: UInt8? { isAtEnd ? nil : bytes[index] }
    var rest: ArraySlice<UInt8> { bytes[index...] }

    mutating func next() -> UInt8? {
        guard let byte = peek else { return nil }
        index += 1
        return byte
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// Consumes `literal` compared without regard to ASCII case.
    mutating func consumeCaseInsensitive(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.count - index >= expected.count else { return false }
        for (offset, byte) in expected.enumerated() where byte.asciiUppercased != bytes[index + offset].asciiUppercased
        {
            return false
        }
        index += expected.count
        return true
    }

    mutating func skipSpaces() {
        while peek == .space { index += 1 }
    }

    /// Bytes up to the next space or the end.
    mutating func token() -> ArraySlice<UInt8> {
        let start = index
        while let byte = peek, byte != .space { index += 1 }
        return bytes[start..<index]
    }
}

extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let dot = UInt8(ascii: ".")

    private static let atextSpecials = Array("!#$%&'*+-/=?^_`{|}~".utf8)

    var asciiUppercased: UInt8 { (0x61...0x7A).contains(self) ? self - 0x20 : self }
    var isASCIIAlpha: Bool { (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
    var isASCIIDigit: Bool { (0x30...0x39).contains(self) }
    var isLetDig: Bool { isASCIIAlpha || isASCIIDigit }

    /// `atext` of RFC 5322 §3.2.3, plus UTF-8 octets (RFC 6531 §3.3), which the caller checks against SMTPUTF8.
    var isAtext: Bool {
        if isLetDig || self >= 0x80 { return true }
        return Self.atextSpecials.contains(self)
    }
}

extension Collection<UInt8> {
    var asciiUppercasedString: String { String(decoding: map(\.asciiUppercased), as: UTF8.self) }
}
