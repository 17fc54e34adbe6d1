/// The users file: one line per user, `address:credential` (the credential as ``SCRAMCredential/encoded``),
/// with `#` comments and blank lines allowed.
///
///     # Swallow users
///     alice@example.test:SCRAM-SHA-256$100000$<salt>$<StoredKey>$<ServerKey>
///
/// Addresses are compared without regard to case and stored lowercased. Every change rewrites the file
/// atomically (temporary file in the same directory, fsync, rename, fsync of the directory) with mode 0600,
/// keeping comments and other lines as they were; concurrent editors are serialised by a lock on the directory.
/// All calls block on file I/O.
public struct UsersFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every user's credential, keyed by lowercased address. A missing file holds no users; a malformed line is
    /// an error naming the file and the line number.
    public func load() throws(UsersFileError) -> [String: SCRAMCredential] {
        try contents().credentials
    }

    /// Adds the user, or replaces the user's credential.
    public func set(_ user: String, credential: SCRAMCredential) throws(UsersFileError) {
        let name = try validUserName(user)
        // A credential that would not load again would make the whole file unreadable.
        guard SCRAMCredential(encoded: credential.encoded) == credential else {
            throw UsersFileError(file: path, message: "cannot store \(credential) for \(name): invalid credential")
        }
        try edit { contents in contents.set(name, credential: credential) }
    }

    /// Removes the user; false, and the file untouched, when there was no such user.
    public func remove(_ user: String) throws(UsersFileError) -> Bool {
        let name = try validUserName(user)
        return try edit { contents in contents.remove(name) }
    }

    /// The lowercased addresses of all users, sorted.
    public func users() throws(UsersFileError) -> [String] {
        try load().keys.sorted()
    }

    /// The form an address has in the file, or nil when it cannot be written on one line or would read as a
    /// comment.
    static func userName(_ address: some StringProtocol) -> String? {
        guard let name = SASLPrep.userName(String(address)), !name.hasPrefix("#"),
            !name.contains(where: \.isWhitespace)
        else { return nil }
        return name
    }

    private func validUserName(_ user: String) throws(UsersFileError) -> String {
        guard let name = Self.userName(user) else {
            throw UsersFileError(file: path, message: "invalid address '\(user)'")
        }
        return name
    }

    private func contents() throws(UsersFileError) -> UsersFileContents {
        guard let bytes = try FileSystem(file: path).readContents() else { return UsersFileContents() }
        return try UsersFileContents(parsing: bytes, file: path)
    }

    /// Read, change and write back under the directory lock; `change` returns whether to write.
    private func edit(_ change: (inout UsersFileContents) -> Bool) throws(UsersFileError) -> Bool {
        let fileSystem = FileSystem(file: path)
        return try fileSystem.withDirectoryLock { directoryFD throws(UsersFileError) in
            var contents = try contents()
            guard change(&contents) else { return false }
            try fileSystem.replace(with: contents.rendered, directoryFD: directoryFD)
            return true
        }
    }

    private func edit(_ change: (inout UsersFileContents) -> Void) throws(UsersFileError) {
        _ = try edit { (contents: inout UsersFileContents) -> Bool in
            change(&contents)
            return true
        }
    }
}
