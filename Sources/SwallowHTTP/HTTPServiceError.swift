/// The HTTP service stopped with an error (most often: its address could not be bound), naming its address.
public struct HTTPServiceError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
