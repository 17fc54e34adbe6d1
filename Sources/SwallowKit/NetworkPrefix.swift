#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 or /128),
/// for `[delivery] trusted_networks`.
public struct NetworkPrefix: Sendable, Hashable, CustomStringConvertible {
    public let address: [UInt8]
    public let length: Int
    public let text: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = address.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maximum).contains(length) else { return nil }
            self.length = length
        } else {
            self.length = maximum
        }
        self.address = address
        self.text = text
    }

    /// Whether `address` (text form, as in `ConnectionInfo.clientAddress`) is inside this network. An IPv4 address
    /// written as IPv4-mapped IPv6 (`::ffff:192.0.2.1`) counts as IPv4.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16, self.address.count == 4, bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            bytes = Array(bytes.suffix(4))
        }
        guard bytes.count == self.address.count else { return false }
        var remaining = length
        for (index, byte) in bytes.enumerated() where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if byte & mask != self.address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { text }

    private static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
