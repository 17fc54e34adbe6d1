/// A DNS message (RFC 1035 §4.1): the header fields a stub resolver needs, the question and the records.
public struct DNSMessage: Sendable, Hashable {
    /// RFC 1035 §4.1.1 RCODE values a resolver acts on.
    public enum ResponseCode: Sendable, Hashable {
        case noError, formatError, serverFailure, nameError, notImplemented, refused
        case other(UInt8)

        init(_ value: UInt8) {
            switch value {
            case 0: self = .noError
            case 1: self = .formatError
            case 2: self = .serverFailure
            case 3: self = .nameError
            case 4: self = .notImplemented
            case 5: self = .refused
            default: self = .other(value)
            }
        }
    }

    public var id: UInt16
    public var isResponse: Bool
    /// TC: the answer did not fit in UDP; ask again over TCP.
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var responseCode: ResponseCode
    public var questions: [(name: DNSName, type: DNSRecordType)]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]

    public static func == (lhs: DNSMessage, rhs: DNSMessage) -> Bool {
        lhs.id == rhs.id && lhs.isResponse == rhs.isResponse && lhs.isTruncated == rhs.isTruncated
            && lhs.responseCode == rhs.responseCode && lhs.answers == rhs.answers && lhs.authorities == rhs.authorities
            && lhs.questions.map(\.name) == rhs.questions.map(\.name)
            && lhs.questions.map(\.type) == rhs.questions.map(\.type)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(answers)
    }

    /// Records in the answer section for `name` of `type`.
    public func answers(for name: DNSName, type: DNSRecordType) -> [DNSRecord] {
        answers.filter { $0.name == name && $0.type == type }
    }

    // MARK: Encoding

    /// A recursive query for one name and type, class IN.
    public static func query(id: UInt16, name: DNSName, type: DNSRecordType) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        name.encode(into: &out)
        out += [UInt8(type.code >> 8), UInt8(type.code & 0xFF), 0, 1]
        return out
    }

    // MARK: Decoding

    /// Decodes a whole message. Counts in the header are trusted only as far as the bytes go: a section that
    /// claims more records than the message holds is an error, so the work is bounded by the message length.
    public init(decoding message: [UInt8]) throws(DNSDecodeError) {
        guard message.count >= 12 else { throw .truncated }
        id = UInt16(message[0]) << 8 | UInt16(message[1])
        isResponse = message[2] & 0x80 != 0
        isTruncated = message[2] & 0x02 != 0
        recursionDesired = message[2] & 0x01 != 0
        responseCode = ResponseCode(message[3] & 0x0F)
        func count(_ index: Int) -> Int { Int(message[index]) << 8 | Int(message[index + 1]) }
        var offset = 12
        var questions: [(name: DNSName, type: DNSRecordType)] = []
        for _ in 0..<count(4) {
            let name = try DNSName.decode(message, at: &offset)
            guard offset + 4 <= message.count else { throw .truncated }
            questions.append((name, DNSRecordType(code: UInt16(message[offset]) << 8 | UInt16(message[offset + 1]))))
            offset += 4
        }
        self.questions = questions
        answers = try Self.records(count(6), in: message, at: &offset)
        authorities = try Self.records(count(8), in: message, at: &offset)
        // The additional section is not needed and not read.
    }

    private static func records(_ count: Int, in message: [UInt8], at offset: inout Int) throws(DNSDecodeError)
        -> [DNSRecord]
    {
        var records: [DNSRecord] = []
        for _ in 0..<count {
            let name = try DNSName.decode(message, at: &offset)
            guard offset + 10 <= message.count else { throw .truncated }
            let type = DNSRecordType(code: UInt16(message[offset]) << 8 | UInt16(message[offset + 1]))
            let ttl = message[(offset + 4)..<(offset + 8)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = Int(message[offset + 8]) << 8 | Int(message[offset + 9])
            offset += 10
            guard offset + length <= message.count else { throw .truncated }
            let end = offset + length
            let data: DNSRecordData
            switch type {
            case .a:
                guard length == 4 else { throw .badRecordData(type: type.code) }
                data = .a(Array(message[offset..<end]))
            case .aaaa:
                guard length == 16 else { throw .badRecordData(type: type.code) }
                data = .aaaa(Array(message[offset..<end]))
            case .cname:
                var position = offset
                let target = try DNSName.decode(message, at: &position)
                guard position == end else { throw .badRecordData(type: type.code) }
                data = .cname(target)
            case .mx:
                guard length >= 3 else { throw .badRecordData(type: type.code) }
                let preference = UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
                var position = offset + 2
                let exchange = try DNSName.decode(message, at: &position)
                guard position == end else { throw .badRecordData(type: type.code) }
                data = .mx(preference: preference, exchange: exchange)
            case .other:
                data = .other(Array(message[offset..<end]))
            }
            offset = end
            // TTLs above 2^31 - 1 are read as zero (RFC 2181 §8).
            records.append(DNSRecord(name: name, type: type, ttl: ttl > 0x7FFF_FFFF ? 0 : ttl, data: data))
        }
        return records
    }
}
