import SMTPCore

/// Who receives mail here: the local domains, their mailboxes and aliases, and the catch-all rule.
///
/// Names compare without regard to case. With no domain configured and catch-all on (the default daemon),
/// every domain is local and every recipient gets a mailbox of its own.
public struct Directory: Sendable {
    /// A mailbox that mail is stored in.
    public struct MailboxAddress: Sendable, Hashable, CustomStringConvertible {
        public var localPart: String
        public var domain: String
        public var description: String { "\(localPart)@\(domain)" }
    }

    public enum Resolution: Sendable, Hashable {
        case deliver([MailboxAddress])
        case unknownUser
        case notLocal
    }

    private struct Domain: Sendable {
        var mailboxes: Set<String>
        var aliases: [String: [String]]
    }

    private let domains: [String: Domain]
    private let primaryDomain: String
    public let catchAll: Bool
    private static let maxAliasDepth = 10

    /// - Parameter fallbackDomain: the domain of `<postmaster>` when no domain is configured (the host name).
    public init(domains: [DomainConfiguration], catchAll: Bool, fallbackDomain: String = "localhost") {
        var table: [String: Domain] = [:]
        for domain in domains {
            table[domain.name.lowercased()] = Domain(
                mailboxes: Set(domain.mailboxes.map { $0.lowercased() }),
                aliases: Dictionary(domain.aliases.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 }))
        }
        self.domains = table
        self.primaryDomain = domains.first?.name.lowercased() ?? fallbackDomain.lowercased()
        self.catchAll = catchAll
    }

    public func isLocalDomain(_ domain: String) -> Bool {
        domains[domain.lowercased()] != nil || (catchAll && domains.isEmpty)
    }

    func exists(local: String, domain: String) -> Bool {
        guard let entry = domains[domain.lowercased()] else { return catchAll && domains.isEmpty }
        let name = local.lowercased()
        return entry.mailboxes.contains(name) || entry.aliases[name] != nil || catchAll
    }

    /// Splits `local@domain`, or a bare local part, which belongs to `defaultDomain`.
    static func split(_ address: String, defaultDomain: String) -> (local: String, domain: String) {
        guard let at = address.lastIndex(of: "@") else { return (address, defaultDomain) }
        return (String(address[..<at]), String(address[address.index(after: at)...]))
    }

    /// The mailboxes a recipient's mail goes to.
    public func resolve(_ path: ForwardPath) -> Resolution {
        switch path {
        case .postmaster:
            return .deliver(postmaster(of: primaryDomain))
        case .mailbox(let mailbox):
            if mailbox.hasAddressLiteral && !(catchAll && domains.isEmpty) { return .notLocal }
            let domain = mailbox.domain.lowercased()
            guard isLocalDomain(domain) else { return .notLocal }
            let local = mailbox.canonicalLocalPart.lowercased()
            if local == "postmaster" { return .deliver(postmaster(of: domain)) }
            var seen = Set<String>()
            let targets = expand(local: local, domain: domain, depth: 0, seen: &seen)
            return targets.isEmpty ? .unknownUser : .deliver(targets)
        }
    }

    /// RFC 5321 §4.5.1: every domain must accept postmaster; without a configured mailbox, it gets its own.
    private func postmaster(of domain: String) -> [MailboxAddress] {
        var seen = Set<String>()
        let targets = expand(local: "postmaster", domain: domain, depth: 0, seen: &seen)
        return targets.isEmpty ? [MailboxAddress(localPart: "postmaster", domain: domain)] : targets
    }

    private func expand(local: String, domain: String, depth: Int, seen: inout Set<String>) -> [MailboxAddress] {
        let key = "\(local)@\(domain)"
        guard depth <= Self.maxAliasDepth, seen.insert(key).inserted else { return [] }
        guard let entry = domains[domain] else {
            return catchAll && domains.isEmpty ? [MailboxAddress(localPart: local, domain: domain)] : []
        }
        if entry.mailboxes.contains(local) { return [MailboxAddress(localPart: local, domain: domain)] }
        if let targets = entry.aliases[local] {
            var result: [MailboxAddress] = []
            for target in targets {
                let (targetLocal, targetDomain) = Self.split(target, defaultDomain: domain)
                for address in expand(
                    local: targetLocal.lowercased(), domain: targetDomain.lowercased(), depth: depth + 1, seen: &seen)
                where !result.contains(address) {
                    result.append(address)
                }
            }
            return result
        }
        return catchAll ? [MailboxAddress(localPart: local, domain: domain)] : []
    }

    // MARK: VRFY and EXPN (RFC 5321 §3.5)

    /// `VRFY`: 250 with the full mailbox, 553 5.1.4 when the name is ambiguous, 550 5.1.1 when unknown.
    public func verify(_ argument: String) -> Reply {
        let candidates = lookup(argument)
        switch candidates.count {
        case 0:
            return .noSuchUser
        case 1:
            return Reply(250, .init(2, 1, 5), "<\(candidates[0])>")
        default:
            return Reply(553, .init(5, 1, 4), lines: ["Ambiguous; possibilities are:"] + candidates.map { "<\($0)>" })
        }
    }

    /// `EXPN`: the members of a list as a multi-line 250 (a plain mailbox expands to itself).
    public func expand(_ argument: String) -> Reply {
        let candidates = lookup(argument)
        guard candidates.count == 1 else {
            return candidates.isEmpty ? Reply(550, .init(5, 1, 1), "No such list here") : verify(argument)
        }
        let (local, domain) = Self.split(candidates[0], defaultDomain: primaryDomain)
        var seen = Set<String>()
        let members = expand(local: local, domain: domain, depth: 0, seen: &seen)
        guard !members.isEmpty else { return Reply(550, .init(5, 1, 1), "No such list here") }
        return Reply(250, .init(2, 1, 5), lines: members.map { "<\($0)>" })
    }

    /// Known addresses matching a VRFY/EXPN argument: `name`, `name@domain`, `<name@domain>`, `Full Name <addr>`.
    private func lookup(_ argument: String) -> [String] {
        var name = argument.trimmingSpaces
        if let open = name.lastIndex(of: "<"), let close = name.lastIndex(of: ">"), open < close {
            name = String(name[name.index(after: open)..<close])
        }
        guard !name.isEmpty else { return [] }
        if name.contains("@") {
            let (local, domain) = Self.split(name, defaultDomain: primaryDomain)
            guard let entry = domains[domain.lowercased()] else { return [] }
            let key = local.lowercased()
            return entry.mailboxes.contains(key) || entry.aliases[key] != nil ? ["\(key)@\(domain.lowercased())"] : []
        }
        let key = name.lowercased()
        return domains.keys.sorted().filter { domain in
            domains[domain]!.mailboxes.contains(key) || domains[domain]!.aliases[key] != nil
        }.map { "\(key)@\($0)" }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
