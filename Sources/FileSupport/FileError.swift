#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed POSIX call: what was being done, to which path, and the `errno` it failed with, described as
/// `rename /var/mail/users: Permission denied`.
///
/// The fields stay separate so that each module can say it in its own words (a TLS error names the file first,
/// a users-file error names the users file) while keeping the system's explanation.
public struct FileError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The call or step that failed, as a short verb: `open`, `read`, `write`, `fsync`, `rename`, `mkdir`, …
    public let operation: String
    /// The path the call was about (for a descriptor, the path it was opened from).
    public let path: String
    /// The `errno` value. A file longer than a caller's limit is reported as `EFBIG`.
    public let code: Int32

    /// An error for `operation` on `path`; `code` defaults to the current `errno`, so call this right after the
    /// failing call, before anything else can overwrite it.
    public init(operation: String, path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// The system's explanation of `code` (`strerror`), without the operation or the path.
    public var systemMessage: String { String(cString: strerror(code)) }

    /// The disk or the quota is full: the same write may succeed later, so callers can answer "try again".
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String { "\(operation) \(path): \(systemMessage)" }
}
