/// The text of a users file, parsed line by line and kept whole so that editing one user leaves every other
/// line, comments included, exactly as it was.
struct UsersFileContents {
    enum Line {
        /// A blank line or a `#` comment, kept verbatim.
        case other(String)
        /// `address:credential`; `text` is the line as read, written back unchanged unless the user is replaced.
        case user(String, SCRAMCredential, text: String)
    }

    var lines: [Line] = []

    init() {}

    /// Parses `bytes`; `file` names the file in errors.
    init(parsing bytes: [UInt8], file: String) throws(UsersFileError) {
        var rows = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // The newline ends the last line rather than starting an empty one.
        if rows.last?.isEmpty == true { rows.removeLast() }
        var seen: [String: Int] = [:]
        for (index, row) in rows.enumerated() {
            let number = index + 1
            func failure(_ message: String) -> UsersFileError {
                UsersFileError(file: file, line: number, message: message)
            }
            // Files edited on Windows end lines with CRLF; the CR is not part of the credential.
            let content = row.last == UInt8(ascii: "\r") ? row.dropLast() : row
            guard let text = String(validUTF8: content) else { throw failure("not UTF-8") }
            let trimmed = text.trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(.other(text))
                continue
            }
            // Split at the last colon: credentials hold none, while an address's quoted local part might.
            guard let colon = trimmed.lastIndex(of: ":") else { throw failure("expected <address>:<credential>") }
            let address = trimmed[..<colon].trimmingSpaces
            guard let user = UsersFile.userName(address) else { throw failure("invalid address '\(address)'") }
            guard let credential = SCRAMCredential(encoded: trimmed[trimmed.index(after: colon)...].trimmingSpaces)
            else {
                throw failure(
                    "invalid credential for \(user): expected SCRAM-SHA-256$<iterations>$<salt>$<StoredKey>$<ServerKey>"
                )
            }
            if let previous = seen[user] { throw failure("\(user) is already on line \(previous)") }
            seen[user] = number
            lines.append(.user(user, credential, text: text))
        }
    }

    /// Every user's credential, keyed by the lowercased address.
    var credentials: [String: SCRAMCredential] {
        var result: [String: SCRAMCredential] = [:]
        for case .user(let user, let credential, _) in lines { result[user] = credential }
        return result
    }

    /// Replaces the user's line in place, or appends one.
    mutating func set(_ user: String, credential: SCRAMCredential) {
        let line = Line.user(user, credential, text: "\(user):\(credential.encoded)")
        if let index = lines.firstIndex(where: { $0.user == user }) {
            lines[index] = line
        } else {
            lines.append(line)
        }
    }

    /// Removes the user's line; false when there was none.
    mutating func remove(_ user: String) -> Bool {
        guard let index = lines.firstIndex(where: { $0.user == user }) else { return false }
        lines.remove(at: index)
        return true
    }

    /// The file's new text: every line ended by a newline.
    var rendered: [UInt8] {
        var bytes: [UInt8] = []
        for line in lines {
            switch line {
            case .other(let text), .user(_, _, let text): bytes += text.utf8
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

extension UsersFileContents.Line {
    fileprivate var user: String? {
        if case .user(let user, _, _) = self { user } else { nil }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (Foundation's trimming is not available here).
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
