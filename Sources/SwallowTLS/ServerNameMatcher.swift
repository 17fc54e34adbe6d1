/// Chooses a certificate chain for the server name a client asked for (SNI).
///
/// A name matches a chain's DNS SANs exactly, or through a wildcard SAN `*.example.test`, which covers exactly one
/// label (`a.example.test`, not `example.test` nor `b.a.example.test`, as RFC 6125 §6.4.3 has clients check).
/// Comparison ignores case and a trailing dot. An exact match anywhere beats a wildcard, so a specific
/// certificate wins over a catch-all one whatever the order; among equals, the earlier chain wins.
struct ServerNameMatcher: Sendable {
    private var exact: [String: Int] = [:]
    /// Keyed by the part after `*.`.
    private var wildcard: [String: Int] = [:]

    /// `namesPerChain[i]` are the DNS SANs of chain `i`.
    init(_ namesPerChain: [[String]]) {
        for (index, names) in namesPerChain.enumerated() {
            for name in names.map(Self.normalize) {
                if name.hasPrefix("*.") {
                    let parent = String(name.dropFirst(2))
                    if wildcard[parent] == nil { wildcard[parent] = index }
                } else if exact[name] == nil {
                    exact[name] = index
                }
            }
        }
    }

    /// The index of the chain for `serverName`, or nil when none names it (the default chain is then used).
    func chainIndex(for serverName: String) -> Int? {
        let name = Self.normalize(serverName)
        if let index = exact[name] { return index }
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return nil }
        return wildcard[String(name[name.index(after: dot)...])]
    }

    /// Lowercase without a trailing dot: DNS names compare case-insensitively, and `example.test.` is
    /// `example.test`.
    static func normalize(_ name: String) -> String {
        var result = name.lowercased()
        if result.hasSuffix(".") { result.removeLast() }
        return result
    }
}
