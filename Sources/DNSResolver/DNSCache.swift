import DNSCore

/// Positive DNS answers kept for their TTL (the smallest of the records used), so that a queue run for many
/// messages to one domain asks once. Negative answers and failures are not kept: they are retried anyway.
/// Bounded: when full, expired entries go first, then the entry closest to expiry.
public actor DNSCache {
    public let capacity: Int
    /// TTLs above this are cut to it, so a hostile zone cannot pin an answer for years.
    public let maximumTTL: Duration
    private var entries: [Key: (records: [DNSRecord], expiry: ContinuousClock.Instant)] = [:]
    private let clock = ContinuousClock()

    struct Key: Hashable {
        var name: DNSName
        var type: UInt16
    }

    public init(capacity: Int = 10_000, maximumTTL: Duration = .seconds(86_400)) {
        self.capacity = max(1, capacity)
        self.maximumTTL = maximumTTL
    }

    /// The records for `name` and `type`, when an answer is cached and still fresh.
    public func records(_ name: DNSName, _ type: DNSRecordType) -> [DNSRecord]? {
        let key = Key(name: name, type: type.code)
        guard let entry = entries[key] else { return nil }
        guard entry.expiry > clock.now else {
            entries[key] = nil
            return nil
        }
        return entry.records
    }

    /// Keeps `records` (non-empty) for the smallest of their TTLs.
    public func store(_ records: [DNSRecord], for name: DNSName, _ type: DNSRecordType) {
        guard let ttl = records.map(\.ttl).min(), ttl > 0 else { return }
        if entries.count >= capacity {
            let now = clock.now
            entries = entries.filter { $0.value.expiry > now }
            if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expiry < $1.value.expiry }) {
                entries[soonest.key] = nil
            }
        }
        let lifetime = min(Duration.seconds(Int64(ttl)), maximumTTL)
        entries[Key(name: name, type: type.code)] = (records, clock.now + lifetime)
    }

    public var count: Int { entries.count }
}
