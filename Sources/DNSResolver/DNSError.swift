/// Why a DNS query got no usable answer.
public enum DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No nameserver answered in time.
    case timeout
    /// An answer that could not be read, or that did not match the question.
    case malformedAnswer(String)
    /// The socket could not be opened or used.
    case io(String)

    public var description: String {
        switch self {
        case .timeout: "no answer from the nameservers"
        case .malformedAnswer(let reason): "malformed DNS answer: \(reason)"
        case .io(let reason): "DNS I/O error: \(reason)"
        }
    }
}
