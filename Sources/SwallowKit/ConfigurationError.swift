/// A configuration file Swallow refuses, naming the file, the key and what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let file: String
    /// The dotted key path (`limits.max_errors`), or nil for errors about the file as a whole.
    public let key: String?
    public let message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}
