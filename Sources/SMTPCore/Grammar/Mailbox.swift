/// A mailbox, `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
///
/// `localPart` holds the local part as the client wrote it, quotes and all, so that it can be echoed faithfully;
/// `canonicalLocalPart` has quoting removed.
public struct Mailbox: Sendable, Hashable, CustomStringConvertible {
    public var localPart: String
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// The local part with quoted-string quoting undone (`"a\ b"` becomes `a b`).
    public var canonicalLocalPart: String {
        guard localPart.hasPrefix("\""), localPart.hasSuffix("\""), localPart.count >= 2 else { return localPart }
        var out = ""
        var escaped = false
        for character in localPart.dropFirst().dropLast() {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Whether the domain is an address literal such as `[192.0.2.1]` or `[IPv6:::1]`.
    public var hasAddressLiteral: Bool { domain.hasPrefix("[") }

    /// Whether any part needs SMTPUTF8 (RFC 6531).
    public var isASCII: Bool { localPart.utf8.allSatisfy { $0 < 0x80 } && domain.utf8.allSatisfy { $0 < 0x80 } }

    public var description: String { "\(localPart)@\(domain)" }
}

/// `Reverse-path = Path / "<>"` (RFC 5321 §4.1.2): the sender of `MAIL FROM`, or the null sender of bounces.
public enum ReversePath: Sendable, Hashable, CustomStringConvertible {
    case null
    case mailbox(Mailbox)

    public var mailbox: Mailbox? {
        if case .mailbox(let mailbox) = self { return mailbox }
        return nil
    }

    /// The path in angle brackets, as in a `Return-Path:` header.
    public var description: String { "<\(mailbox?.description ?? "")>" }
}

/// `Forward-path = Path` or the special `<Postmaster>` (RFC 5321 §4.1.1.3): a recipient of `RCPT TO`.
public enum ForwardPath: Sendable, Hashable, CustomStringConvertible {
    /// `<Postmaster>` without a domain, which every server must accept.
    case postmaster
    case mailbox(Mailbox)

    public var mailbox: Mailbox? {
        if case .mailbox(let mailbox) = self { return mailbox }
        return nil
    }

    public var description: String { "<\(mailbox?.description ?? "Postmaster")>" }
}
