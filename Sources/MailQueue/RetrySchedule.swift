/// When to try a deferred message again (as Postfix's `minimal_backoff_time`, `maximal_backoff_time` and
/// `maximal_queue_lifetime`): the first retry after `initialDelay`, each later one after twice the last, capped
/// at `maximumDelay`; after `lifetime` in the queue, the remaining recipients bounce.
public struct RetrySchedule: Sendable, Hashable {
    public var initialDelay: Double
    public var maximumDelay: Double
    public var lifetime: Double

    public init(initialDelay: Double = 300, maximumDelay: Double = 4 * 3600, lifetime: Double = 5 * 86_400) {
        self.initialDelay = initialDelay
        self.maximumDelay = max(initialDelay, maximumDelay)
        self.lifetime = lifetime
    }

    /// The delay after the `attempts`-th failed attempt (1 for the first).
    public func delay(afterAttempts attempts: Int) -> Double {
        var delay = initialDelay
        for _ in 1..<max(1, min(attempts, 64)) {
            delay *= 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }

    /// Whether a message that arrived at `arrival` has stayed too long at `now`.
    public func hasExpired(arrival: Double, now: Double) -> Bool {
        now - arrival >= lifetime
    }
}
