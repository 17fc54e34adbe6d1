/// Why the users file could not be read or written: the file, the line when one is to blame, and the problem,
/// described as `users:3: expected <address>:<credential>`.
public struct UsersFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The users file's path.
    public var file: String
    /// The 1-based line number of a malformed line; nil for problems with the file as a whole.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(file):\(line): \(message)" } else { "\(file): \(message)" }
    }
}
