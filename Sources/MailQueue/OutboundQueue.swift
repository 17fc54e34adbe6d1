/// The outbound queue as the delivery worker and the SMTP backend see it. Implementations: `FileQueue` (local
/// files), and later one over PostgreSQL for several nodes, where `claim` is `SELECT … FOR UPDATE SKIP LOCKED`
/// with a lease and bodies live on shared storage, written and synced before the row commits.
///
/// Times are seconds since 1970 (UTC), passed in by the caller so that implementations read no clock.
public protocol OutboundQueue: Sendable {
    /// Stores a message and its body durably: when this returns, both survive a crash (a 250 for relayed mail
    /// means this). The message is due at once.
    func enqueue(_ message: QueuedMessage, body: [UInt8]) async throws(QueueError)

    /// Up to `limit` messages whose next attempt is due at `now` and that nobody holds, each held by the caller
    /// until `now + lease` (or until `update` or `complete`). A message whose lease ran out (its worker died) is
    /// due again.
    func claim(now: Double, limit: Int, lease: Double) async throws(QueueError) -> [QueuedMessage]

    /// The body of a queued message, exactly as accepted.
    func body(of id: String) async throws(QueueError) -> [UInt8]

    /// Records the outcome of an attempt (recipients' states and replies, `nextAttempt`) durably and releases
    /// the claim.
    func update(_ message: QueuedMessage) async throws(QueueError)

    /// Removes a message whose recipients are all delivered or failed, with its body.
    func complete(_ id: String) async throws(QueueError)

    /// The earliest `nextAttempt` of the messages nobody holds, for the worker to know how long to sleep.
    func nextDue() async -> Double?

    /// How many messages are queued and when the oldest arrived, for the operator's metrics.
    func summary() async -> QueueSummary
}

/// The size of the queue at one moment (`SELECT count(*), min(arrival)` in a database).
public struct QueueSummary: Sendable, Hashable {
    public var messages: Int
    /// Seconds since 1970 (UTC); nil when the queue is empty.
    public var oldestArrival: Double?

    public init(messages: Int, oldestArrival: Double?) {
        self.messages = messages
        self.oldestArrival = oldestArrival
    }
}

/// Why the queue could not do what was asked (disk full, I/O error, database down): the caller answers 451.
public struct QueueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The disk is full: 452 4.3.1 rather than 451 4.3.0.
    public var isOutOfSpace: Bool

    public init(_ message: String, isOutOfSpace: Bool = false) {
        self.message = message
        self.isOutOfSpace = isOutOfSpace
    }

    public var description: String { message }
}
