import SMTPCore

/// The client's first SCRAM message (RFC 5802 §7):
/// `gs2-cbind-flag "," [authzid] "," [reserved-mext ","] username "," nonce ["," extensions]`.
struct SCRAMClientFirst {
    /// `n,,`, `y,,` or `n,a=<authzid>,`: repeated by the client, base64-encoded, in the final message.
    var gs2Header: String
    /// The decoded `a=` value, when the client sent one.
    var authorizationIdentity: String?
    /// The decoded `n=` value, as sent (not yet prepared or lowercased).
    var user: String
    var clientNonce: String
    /// Everything after the GS2 header, which is the first part of the AuthMessage.
    var bare: String

    init(_ message: [UInt8]) throws(SASLFailure) {
        guard let text = String(validUTF8: message) else { throw .malformed }
        // The GS2 header is the text up to and including the second comma.
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed }
        switch parts[0] {
        // "y": the client could bind to the channel but thinks the server cannot, which is true: this server
        // offers no -PLUS mechanism, so there is no downgrade to detect.
        case "n", "y": break
        case let flag where flag.hasPrefix("p="): throw .unsupported
        default: throw .malformed
        }
        if parts[1].isEmpty {
            authorizationIdentity = nil
        } else {
            guard parts[1].hasPrefix("a=") else { throw .malformed }
            authorizationIdentity = try SCRAMAttributes.decodeName(parts[1].dropFirst(2))
        }
        gs2Header = "\(parts[0]),\(parts[1]),"
        bare = String(parts[2])

        let attributes = try SCRAMAttributes.split(Substring(bare))
        // A mandatory extension we cannot know the meaning of: RFC 5802 says authentication must fail.
        guard attributes.first?.name != "m" else { throw .unsupported }
        guard attributes.count >= 2, attributes[0].name == "n", attributes[1].name == "r" else { throw .malformed }
        user = try SCRAMAttributes.decodeName(attributes[0].value)
        clientNonce = String(attributes[1].value)
        guard SCRAMAttributes.isValidNonce(clientNonce) else { throw .malformed }
        // Further attributes are optional extensions, which a server ignores when it does not know them.
    }
}

/// The client's final SCRAM message (RFC 5802 §7):
/// `channel-binding "," nonce ["," extensions] "," proof`.
struct SCRAMClientFinal {
    /// The decoded `c=` value: the GS2 header (this server binds to no channel, so nothing follows it).
    var channelBinding: [UInt8]
    var nonce: String
    /// The decoded `p=` value, ClientKey XOR ClientSignature.
    var proof: [UInt8]
    /// Everything before `,p=`, which is the last part of the AuthMessage.
    var withoutProof: String

    init(_ message: [UInt8]) throws(SASLFailure) {
        guard let text = String(validUTF8: message) else { throw .malformed }
        let attributes = try SCRAMAttributes.split(Substring(text))
        guard attributes.count >= 3, attributes[0].name == "c", attributes[1].name == "r",
            let last = attributes.last, last.name == "p"
        else { throw .malformed }
        guard let channelBinding = Base64.decode(attributes[0].value) else { throw .malformed }
        guard let proof = Base64.decode(last.value), proof.count == 32 else { throw .malformed }
        self.channelBinding = channelBinding
        self.nonce = String(attributes[1].value)
        self.proof = proof
        // The proof attribute is last, so what precedes its comma is the message without proof.
        self.withoutProof = String(text[..<text.index(before: last.name.startIndex)])
    }
}

/// The `name=value` attribute syntax shared by SCRAM messages.
enum SCRAMAttributes {
    struct Attribute {
        var name: Substring
        var value: Substring
    }

    /// Splits `a=x,b=y` into attributes; every one must be a single ASCII letter, `=`, and a value.
    static func split(_ text: Substring) throws(SASLFailure) -> [Attribute] {
        var attributes: [Attribute] = []
        for field in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bytes = field.utf8
            guard bytes.count >= 2, let first = bytes.first, isLetter(first),
                bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "=")
            else { throw .malformed }
            let nameEnd = field.index(after: field.startIndex)
            attributes.append(Attribute(name: field[..<nameEnd], value: field[field.index(after: nameEnd)...]))
        }
        return attributes
    }

    /// Undoes the saslname escaping: `=2C` is `,` and `=3D` is `=`; any other `=` is an error (RFC 5802 §5.1).
    static func decodeName(_ value: Substring) throws(SASLFailure) -> String {
        var decoded = ""
        var rest = value[...]
        while let equals = rest.firstIndex(of: "=") {
            decoded += rest[..<equals]
            let escape = rest[equals...].prefix(3)
            switch escape {
            case "=2C": decoded += ","
            case "=3D": decoded += "="
            default: throw .malformed
            }
            rest = rest[escape.endIndex...]
        }
        decoded += rest
        guard !decoded.isEmpty, !decoded.unicodeScalars.contains(where: { $0 == "\0" }) else { throw .malformed }
        return decoded
    }

    /// `printable` in RFC 5802: `%x21-2B / %x2D-7E`, visible ASCII except the comma.
    static func isValidNonce(_ nonce: String) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ",") }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
