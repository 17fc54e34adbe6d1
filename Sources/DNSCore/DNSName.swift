/// A domain name as labels (RFC 1035 §3.1), compared without regard to ASCII case.
public struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// The labels, without the root: `["mx", "example", "org"]`.
    public private(set) var labels: [[UInt8]]

    /// RFC 1035 §2.3.4.
    public static let maximumLength = 255
    public static let maximumLabelLength = 63

    public init(labels: [[UInt8]]) {
        self.labels = labels
    }

    /// A name from its text form (`mx.example.org` or `mx.example.org.`); nil when a label is empty or too long,
    /// or the name is too long.
    public init?(_ text: String) {
        var trimmed = Substring(text)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        let labels =
            trimmed.isEmpty
            ? [] : trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= Self.maximumLabelLength }) else { return nil }
        guard labels.reduce(1, { $0 + $1.count + 1 }) <= Self.maximumLength else { return nil }
        self.labels = labels
    }

    /// The root name (no labels): the exchange of a null MX (RFC 7505).
    public var isRoot: Bool { labels.isEmpty }

    public var description: String {
        labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        lhs.labels.count == rhs.labels.count
            && zip(lhs.labels, rhs.labels).allSatisfy { a, b in
                a.count == b.count && zip(a, b).allSatisfy { lowercase($0) == lowercase($1) }
            }
    }

    public func hash(into hasher: inout Hasher) {
        for label in labels {
            hasher.combine(label.count)
            for byte in label { hasher.combine(Self.lowercase(byte)) }
        }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

    // MARK: Wire form

    /// The uncompressed wire form: length-prefixed labels and a zero octet.
    public func encode(into out: inout [UInt8]) {
        for label in labels {
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
        }
        out.append(0)
    }

    // <domain-name> = *<label> ( 0x00 / pointer ) ; pointer = 11xxxxxx xxxxxxxx (RFC 1035 §4.1.4)
    /// Reads a name at `offset` of `message`, following compression pointers, and advances `offset` past the name
    /// as it appears there. A pointer must point strictly before the place it was found, so no loop is possible.
    static func decode(_ message: [UInt8], at offset: inout Int) throws(DNSDecodeError) -> DNSName {
        var labels: [[UInt8]] = []
        var length = 1
        var position = offset
        var jumped = false
        var limit = position
        while true {
            guard position < message.count else { throw .truncated }
            let byte = message[position]
            switch byte & 0xC0 {
            case 0x00:
                if byte == 0 {
                    if !jumped { offset = position + 1 }
                    return DNSName(labels: labels)
                }
                let count = Int(byte)
                guard position + 1 + count <= message.count else { throw .truncated }
                length += count + 1
                guard length <= maximumLength else { throw .badName }
                labels.append(Array(message[(position + 1)..<(position + 1 + count)]))
                position += 1 + count
            case 0xC0:
                guard position + 1 < message.count else { throw .truncated }
                let target = Int(byte & 0x3F) << 8 | Int(message[position + 1])
                if !jumped { offset = position + 2 }
                // Strictly backwards from the start of the name part being read: loops are impossible.
                guard target < limit else { throw .badPointer }
                jumped = true
                limit = target
                position = target
            default:
                throw .badName
            }
        }
    }
}
