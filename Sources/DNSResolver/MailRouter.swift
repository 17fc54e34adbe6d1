import DNSCore
import NIOCore

/// Finds the mail hosts of a domain through DNS: MX records by preference (randomised among equals), the
/// domain's own addresses when it has no MX (implicit MX), CNAMEs followed, AAAA and A both asked.
public struct MailRouter: Sendable {
    public let client: DNSClient
    /// Positive answers by TTL; nil: ask every time.
    public let cache: DNSCache?
    /// CNAME links followed before giving up (a loop ends here too).
    public static let maximumCNAMEChain = 8
    /// MX hosts looked at, at most (a hostile zone could list thousands).
    public static let maximumHosts = 10

    public init(client: DNSClient, cache: DNSCache? = DNSCache()) {
        self.client = client
        self.cache = cache
    }

    public func route(_ domain: String) async -> MailRoute {
        guard let name = DNSName(domain), !name.isRoot else { return .permanentFailure("invalid domain \(domain)") }
        let answer: (records: [DNSRecord], rcode: DNSMessage.ResponseCode)
        do {
            answer = try await lookup(name, .mx)
        } catch {
            return .temporaryFailure("MX lookup for \(domain): \(error)")
        }
        switch answer.rcode {
        case .noError: break
        case .nameError: return .permanentFailure("domain \(domain) does not exist (NXDOMAIN)")
        default: return .temporaryFailure("MX lookup for \(domain): DNS server failure \(answer.rcode)")
        }
        var exchanges: [(preference: Int, name: DNSName)] = []
        for record in answer.records {
            if case .mx(let preference, let exchange) = record.data { exchanges.append((Int(preference), exchange)) }
        }
        if exchanges.isEmpty {
            // Implicit MX (RFC 5321 §5.1): the domain itself, when it has addresses.
            switch await addresses(of: name) {
            case .success(let found) where !found.isEmpty:
                return .hosts([MailHost(name: domain, preference: 0, addresses: found)])
            case .success: return .permanentFailure("domain \(domain) has no MX and no address records")
            case .failure(let failure): return .temporaryFailure(failure.reason)
            }
        }
        // RFC 7505: a lone MX whose exchange is the root means "no mail here".
        if exchanges.allSatisfy({ $0.name.isRoot }) {
            return .permanentFailure("domain \(domain) accepts no mail (null MX)")
        }
        exchanges.removeAll { $0.name.isRoot }
        let ordered = exchanges.shuffled().sorted { $0.preference < $1.preference }.prefix(Self.maximumHosts)
        var hosts: [MailHost] = []
        var failures: [String] = []
        for exchange in ordered {
            switch await addresses(of: exchange.name) {
            case .success(let found) where !found.isEmpty:
                hosts.append(
                    MailHost(name: exchange.name.description, preference: exchange.preference, addresses: found))
            case .success: failures.append("no address for MX host \(exchange.name)")
            case .failure(let failure): failures.append(failure.reason)
            }
        }
        if hosts.isEmpty { return .temporaryFailure(failures.joined(separator: "; ")) }
        return .hosts(hosts)
    }

    /// The IPv6 and IPv4 addresses of `name` (IPv6 first), an empty list when it has none, or why the lookup
    /// failed (temporarily: NXDOMAIN for an MX host is the zone's mistake, which may be fixed).
    public func addresses(of name: DNSName) async -> Result<[SocketAddress], LookupFailure> {
        var found: [SocketAddress] = []
        var failure: String?
        for type in [DNSRecordType.aaaa, .a] {
            do {
                let answer = try await lookup(name, type)
                if answer.rcode != .noError && answer.rcode != .nameError {
                    failure = "\(type) lookup for \(name): DNS server failure \(answer.rcode)"
                }
                for record in answer.records {
                    switch record.data {
                    case .a(let bytes):
                        if let address = try? SocketAddress(
                            ipAddress: bytes.map(String.init).joined(separator: "."), port: 0)
                        {
                            found.append(address)
                        }
                    case .aaaa(let bytes):
                        if let address = try? SocketAddress(ipAddress: Self.ipv6Text(bytes), port: 0) {
                            found.append(address)
                        }
                    default: break
                    }
                }
            } catch {
                failure = "\(type) lookup for \(name): \(error)"
            }
        }
        if found.isEmpty, let failure { return .failure(LookupFailure(reason: failure)) }
        return .success(found)
    }

    /// The records of `type` for `name`, following CNAMEs inside the answer and, when the answer stops at a
    /// CNAME, by asking again for its target.
    func lookup(_ name: DNSName, _ type: DNSRecordType) async throws(DNSError) -> (
        records: [DNSRecord], rcode: DNSMessage.ResponseCode
    ) {
        if let cached = await cache?.records(name, type) { return (cached, .noError) }
        var target = name
        for _ in 0..<Self.maximumCNAMEChain {
            let answer = try await client.query(target, type)
            guard answer.responseCode == .noError else { return ([], answer.responseCode) }
            var links = 0
            while links < Self.maximumCNAMEChain, answer.answers(for: target, type: type).isEmpty,
                let cname = answer.answers(for: target, type: .cname).first, case .cname(let next) = cname.data
            {
                target = next
                links += 1
            }
            let records = answer.answers(for: target, type: type)
            if !records.isEmpty { await cache?.store(records, for: name, type) }
            if !records.isEmpty || links == 0 { return (records, .noError) }
        }
        return ([], .noError)
    }

    private static func ipv6Text(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}

/// Why addresses could not be looked up (a temporary condition).
public struct LookupFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
