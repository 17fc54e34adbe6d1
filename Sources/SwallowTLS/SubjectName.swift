import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A name a self-signed certificate is for: a DNS name, or an IP address literal (which belongs in an iPAddress
/// SAN: clients verifying `127.0.0.1` look there, not at DNS names).
enum SubjectName: Sendable, Hashable {
    /// Lowercased, without a trailing dot; may start with `*.`.
    case dns(String)
    /// 4 or 16 octets in network order.
    case ip([UInt8])

    /// Parses `name`, accepting IPv6 literals with or without brackets.
    init(parsing name: String) throws(TLSSetupError) {
        var literal = Substring(name)
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        if let address = Self.parseAddress(String(literal), family: AF_INET, size: 4)
            ?? Self.parseAddress(String(literal), family: AF_INET6, size: 16)
        {
            self = .ip(address)
            return
        }
        var dns = name.lowercased()
        if dns.hasSuffix(".") { dns.removeLast() }
        guard Self.isDNSName(dns) else {
            throw TLSSetupError(
                file: nil, reason: .invalidRequest,
                message: "\"\(name)\" is neither a DNS name (ASCII; IDNs as xn--) nor an IP address")
        }
        self = .dns(dns)
    }

    var generalName: GeneralName {
        switch self {
        case .dns(let name): return .dnsName(name)
        case .ip(let octets): return .ipAddress(ASN1OctetString(contentBytes: octets[...]))
        }
    }

    /// Letters, digits, hyphens and underscores in labels of 1…63 characters, at most 253 in all; a wildcard only
    /// as the whole first label. Anything else would be refused or misread by clients.
    private static func isDNSName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if index == 0 && label == "*" && labels.count > 1 { continue }
            guard (1...63).contains(label.utf8.count),
                label.utf8.allSatisfy({ byte in
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                })
            else { return false }
        }
        return true
    }

    private static func parseAddress(_ text: String, family: CInt, size: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: size)
        let result = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return result == 1 ? buffer : nil
    }
}
