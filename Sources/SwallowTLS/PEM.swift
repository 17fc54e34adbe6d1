#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One `-----BEGIN label-----` … `-----END label-----` block of a PEM file.
struct PEMBlock: Sendable, Hashable {
    /// The label, such as `CERTIFICATE` or `PRIVATE KEY`.
    var label: String
    /// The decoded body.
    var der: [UInt8]
    /// True for legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED` header), which has no label of its own.
    var isEncrypted: Bool

    /// The block re-encoded with 64-column lines, the form swift-asn1 insists on.
    var pemString: String {
        let base64 = Data(der).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var rest = base64[...]
        while !rest.isEmpty {
            lines.append(String(rest.prefix(64)))
            rest = rest.dropFirst(64)
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Reads PEM files as OpenSSL does: text around blocks is ignored (`openssl pkcs12` writes "Bag Attributes"
/// before each block) and base64 line lengths do not matter. swift-asn1's parser rejects anything but 64-column
/// lines, which would refuse files other tools accept; hence this small reader.
enum PEM {
    /// Every block in `text`, in order; an error naming `file` for a block that is cut off or not base64.
    static func blocks(in text: String, file: String) throws(TLSSetupError) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var open: (label: String, body: String, isEncrypted: Bool)?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimmingASCIIWhitespace()
            if var current = open {
                if line == "-----END \(current.label)-----" {
                    guard let data = Data(base64Encoded: current.body), !data.isEmpty else {
                        throw TLSSetupError(
                            file: file, reason: .notPEM, message: "the \(current.label) block is not valid base64")
                    }
                    blocks.append(PEMBlock(label: current.label, der: Array(data), isEncrypted: current.isEncrypted))
                    open = nil
                } else if line.hasPrefix("-----") {
                    throw TLSSetupError(
                        file: file, reason: .notPEM, message: "the \(current.label) block has no END line")
                } else if line.contains(":") {
                    // RFC 1421 headers; the only one that matters says the body is encrypted.
                    if line.hasPrefix("Proc-Type:") && line.contains("ENCRYPTED") { current.isEncrypted = true }
                    open = current
                } else {
                    current.body += line
                    open = current
                }
            } else if line.hasPrefix("-----BEGIN ") && line.hasSuffix("-----") && line.count > 16 {
                let label = String(line.dropFirst("-----BEGIN ".count).dropLast("-----".count))
                open = (label, "", false)
            }
        }
        if let open {
            throw TLSSetupError(file: file, reason: .notPEM, message: "the \(open.label) block has no END line")
        }
        return blocks
    }
}

extension Substring {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
