/// Why a DNS message could not be read. A resolver treats every case as a failed answer (temporary), never a trap.
public enum DNSDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message ends inside a field.
    case truncated
    /// A compression pointer that points forward, loops, or chains too far.
    case badPointer
    /// A name longer than 255 octets, or a label type other than 0 and compression.
    case badName
    /// Record data whose length does not fit its type (an A record that is not 4 octets, say).
    case badRecordData(type: UInt16)

    public var description: String {
        switch self {
        case .truncated: "DNS message truncated"
        case .badPointer: "bad DNS compression pointer"
        case .badName: "bad DNS name"
        case .badRecordData(let type): "bad data for DNS record type \(type)"
        }
    }
}
