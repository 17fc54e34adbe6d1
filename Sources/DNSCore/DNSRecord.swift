/// Record types Swallow asks for (RFC 1035 §3.2.2, RFC 3596).
public enum DNSRecordType: Sendable, Hashable {
    case a, cname, mx, aaaa
    case other(UInt16)

    public init(code: UInt16) {
        switch code {
        case 1: self = .a
        case 5: self = .cname
        case 15: self = .mx
        case 28: self = .aaaa
        default: self = .other(code)
        }
    }

    public var code: UInt16 {
        switch self {
        case .a: 1
        case .cname: 5
        case .mx: 15
        case .aaaa: 28
        case .other(let code): code
        }
    }
}

/// The data of a resource record, decoded for the types Swallow uses.
public enum DNSRecordData: Sendable, Hashable {
    /// IPv4 address, 4 octets.
    case a([UInt8])
    /// IPv6 address, 16 octets.
    case aaaa([UInt8])
    case cname(DNSName)
    /// RFC 1035 §3.3.9; a root exchange with preference 0 is a null MX (RFC 7505).
    case mx(preference: UInt16, exchange: DNSName)
    case other([UInt8])
}

/// A resource record (RFC 1035 §4.1.3).
public struct DNSRecord: Sendable, Hashable {
    public var name: DNSName
    public var type: DNSRecordType
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSRecordType, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.ttl = ttl
        self.data = data
    }
}
