/// An enhanced mail system status code (RFC 3463), sent in replies as RFC 2034 describes.
///
/// `class` is 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
