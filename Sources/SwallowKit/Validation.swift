/// Syntax checks for names that appear in the configuration.
enum Validation {
    static func isDomain(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 255 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { $0 >= 0x80 || isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    /// A dot-string local part (RFC 5321 §4.1.2), the form mailbox and alias names take in the configuration.
    static func isLocalPart(_ name: String) -> Bool {
        let special = Set("!#$%&'*+-/=?^_`{|}~".utf8)
        let atoms = name.split(separator: ".", omittingEmptySubsequences: false)
        return !name.isEmpty && name.utf8.count <= 64
            && atoms.allSatisfy { atom in
                !atom.isEmpty && atom.utf8.allSatisfy { $0 >= 0x80 || isAlnum($0) || special.contains($0) }
            }
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// Every alias target must name a mailbox, another alias, or an address in a local domain.
    static func checkAliases(_ domains: [DomainConfiguration], file: String) throws(ConfigurationError) {
        let directory = Directory(domains: domains, catchAll: false)
        for domain in domains {
            for (alias, targets) in domain.aliases {
                for target in targets {
                    let (local, host) = Directory.split(target, defaultDomain: domain.name)
                    guard directory.isLocalDomain(host) else {
                        throw ConfigurationError(
                            file: file, key: "domains.\"\(domain.name)\".aliases.\(alias)",
                            message: "target \"\(target)\" is not in a local domain (aliases cannot relay)")
                    }
                    guard directory.exists(local: local, domain: host) else {
                        throw ConfigurationError(
                            file: file, key: "domains.\"\(domain.name)\".aliases.\(alias)",
                            message: "target \"\(target)\" is neither a mailbox nor an alias")
                    }
                }
            }
        }
    }
}
